// The KDF fields dom0 sends (FormatRequest, KeyslotsRequest) as the facade's KdfRequest: only the fields given, so the facade's
// defaults (chooseKdf) fill the rest.
import type { KdfRequest } from '../../shared/luks/index.ts';
import type { KeyslotsRequest } from '../../shared/protocol/messages.ts';

type KdfFields = Pick<KeyslotsRequest, 'pbkdf' | 'pbkdfMemoryKiB' | 'iterTimeMs' | 'forcedIterations'>;

export function kdfRequestFrom(request: KdfFields): KdfRequest {
  return {
    ...(request.pbkdf === undefined ? {} : { pbkdf: request.pbkdf }),
    ...(request.pbkdfMemoryKiB === undefined ? {} : { memoryKiB: request.pbkdfMemoryKiB }),
    ...(request.iterTimeMs === undefined ? {} : { iterTimeMs: request.iterTimeMs }),
    ...(request.forcedIterations === undefined ? {} : { forcedIterations: request.forcedIterations }),
  };
}
