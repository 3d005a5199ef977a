// `dump FILE`: the header's public fields as JSON. Nothing here is secret: salts and the digest are on the disk in the clear.
import { describeVolume } from '../../../shared/luks/index.ts';
import { readVolume } from '../volume-file.ts';

export async function dumpCommand(file: string, out: NodeJS.WritableStream): Promise<void> {
  out.write(`${JSON.stringify(describeVolume(await readVolume(file)), null, 2)}\n`);
}
