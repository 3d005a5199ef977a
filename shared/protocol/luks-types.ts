// Per-LUKS-type facts both sides agree on without parsing a header.
import { LUKS1_HEADER_AREA_BYTES } from '../luks1/constants.ts';
import type { LuksType } from './messages.ts';

/** Bytes of the header area for a type: what the device VM sends and what header writes replace. */
export function headerAreaBytes(type: LuksType): number {
  switch (type) {
    case 'luks1':
      return LUKS1_HEADER_AREA_BYTES;
  }
}
