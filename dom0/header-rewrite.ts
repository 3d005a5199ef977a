// Writing a new header area that a VM made (a header shell, a key-slot change): dom0 never parses it. A fresh DisposableVM that
// only parses (HeaderInspect in dm-verify-*, never the VM that made the area) says what it is; the caller decides from that report
// how much may be written and what the user is asked; the write is one DeviceWriteHeader call, after confirmation, so an
// interruption before it leaves the disk's header as it was.
import { OperationError } from '../shared/errors.ts';
import { sanitizePeerText } from '../shared/protocol/channel.ts';
import type { HeaderParsed } from '../shared/protocol/messages.ts';
import { confirmDestruction, type SourceDisk } from './destructive.ts';
import { writeHeaderArea } from './device-steps.ts';
import { inspectInHeaderVm } from './header-steps.ts';
import { bufferSource, type HeaderSource } from './header-transfer.ts';
import { info } from './output.ts';
import type { Qubes } from './qubes.ts';

export interface HeaderRewrite {
  readonly device: string;
  readonly verify: string;
  readonly disk: SourceDisk;
  /** The new area, opaque bytes from a VM. */
  readonly area: Buffer;
  /** Words for refusals: "the header the shell left". */
  readonly what: string;
  /** How many bytes of the area to write, given the verify VM's report of it; throws (nothing written) to refuse. */
  readonly extent: (parsed: HeaderParsed) => number;
  /** Runs with the disk's current first bytes (read through the device VM); undefined: the area is not compared with the disk. */
  readonly openSource?: <T>(work: (source: HeaderSource) => Promise<T>) => Promise<T>;
  /** Said before the question, and the question itself (undefined: none, the command confirmed up front). */
  readonly show: (parsed: HeaderParsed, length: number) => string;
  readonly question: ((parsed: HeaderParsed, length: number) => string) | undefined;
  readonly yes: boolean;
}

export type RewriteOutcome = { readonly kind: 'unchanged' } | { readonly kind: 'written'; readonly bytes: number; readonly parsed: HeaderParsed };

/** Has the verify VM parse the area, checks its extent, compares it with the disk, shows, asks, and writes it in one write. */
export async function rewriteHeaderArea(qubes: Qubes, rewrite: HeaderRewrite): Promise<RewriteOutcome> {
  const { disk, area } = rewrite;
  const checked = await inspectInHeaderVm(qubes, rewrite.verify, bufferSource(area));
  if (checked.kind === 'absent') throw new OperationError(`${rewrite.what} is not a header we can use (${sanitizePeerText(checked.reason, 200)}): nothing was written to ${disk.label}`);
  const { parsed } = checked;
  const length = rewrite.extent(parsed);
  if (length > area.length) throw new OperationError(`${rewrite.what} reaches to byte ${length}, past the ${area.length} bytes returned: nothing was written`);
  if (rewrite.openSource) {
    // A copy: the source's bytes are zeroed when openSource returns.
    const original = await rewrite.openSource(async (device) => Buffer.from(await device.read(0, length)));
    if (original.equals(area.subarray(0, length))) return { kind: 'unchanged' };
  }
  info(rewrite.show(parsed, length));
  const question = rewrite.question?.(parsed, length);
  if (question !== undefined) await confirmDestruction(question, rewrite.yes);
  const bytes = await writeHeaderArea(qubes, rewrite.device, disk.bytes, area.subarray(0, length));
  return { kind: 'written', bytes, parsed };
}
