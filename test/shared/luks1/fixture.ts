// A valid LUKS1 header area made by the real cryptsetup, as the base every parser test mutates.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cryptsetupFormat, type LuksFormatOptions } from '../../helpers/cryptsetup.ts';
import { LUKS1_HEADER_AREA_BYTES } from '../../../shared/luks1/constants.ts';

export const FIXTURE_PASSPHRASE = 'correct horse battery staple';

/** Formats an image with cryptsetup in `dir` and returns its header area bytes. */
export async function cryptsetupHeaderArea(dir: string, name: string, options: LuksFormatOptions = {}): Promise<Buffer> {
  const path = join(dir, name);
  await cryptsetupFormat(path, FIXTURE_PASSPHRASE, options);
  return readFileSync(path).subarray(0, LUKS1_HEADER_AREA_BYTES);
}
