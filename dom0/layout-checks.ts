// dom0's checks on what a header VM reports before any secret is asked: the header VM parsed an attacker's bytes, so its report is
// a claim. Whatever it claims must be a layout a header of that type can carry, must place the data past every byte it was sent
// (so the mapping never covers what the header VM saw), and an unusual data offset (a covert channel: the source qube sees where
// the destination reads) needs the user's word.
import { OperationError } from '../shared/errors.ts';
import { mappedCipherKey } from '../shared/luks-common/ciphers.ts';
import { sanitizePeerText } from '../shared/protocol/channel.ts';
import type { LuksType } from '../shared/protocol/contract.ts';
import type { HeaderParsed } from '../shared/protocol/messages.ts';
import type { AttachCommand } from './cli.ts';
import { offsetWords, type MappingLayout } from './device-steps.ts';
import type { HeaderFacts } from './header-steps.ts';
import { misbehaving } from './header-transfer.ts';
import { warning } from './output.ts';
import { confirm } from './prompt.ts';

/** cryptsetup's default data offsets (512-byte sectors): LUKS1 aligns its payload to 1 MiB after 8 key slots, LUKS2 uses 16 MiB. */
export const DEFAULT_DATA_OFFSET: Readonly<Record<LuksType, number>> = { luks1: 4096, luks2: 32768 };

/**
 * The data offsets attached and inspected without a word: cryptsetup's default for the type, and for LUKS2 also LUKS1's, which a
 * LUKS1 volume converted in place keeps (`upgrade`, `cryptsetup convert`). Both are layouts cryptsetup itself makes; a hostile
 * header VM choosing between the two says one bit, no more than it says by failing or not.
 */
const USUAL_DATA_OFFSETS: Readonly<Record<LuksType, readonly number[]>> = { luks1: [4096], luks2: [32768, 4096] };

export const isUsualDataOffset = (luksType: LuksType, dataOffset: number): boolean => USUAL_DATA_OFFSETS[luksType].includes(dataOffset);

/** The mapping layout of a report dom0 accepted: a cipher and key size of the table's mapped rows, typed, and where the data is. */
export function mappingLayout(parsed: HeaderParsed): MappingLayout {
  const key = mappedCipherKey(parsed.cipher, parsed.keyBytes);
  if (key === undefined) throw new OperationError(`${sanitizePeerText(parsed.cipher, 64)} with a ${parsed.keyBytes * 8}-bit key cannot be mapped`);
  if (parsed.sectorSize !== 512 && parsed.sectorSize !== 4096) throw new OperationError(`${parsed.sectorSize}-byte sectors cannot be mapped`);
  return { key, dataOffset: parsed.dataOffset, sectorSize: parsed.sectorSize };
}

/** Refuses, naming `peer` as misbehaving, a report no honest header VM sends for what it was sent. */
export function checkReportedLayout({ parsed, sentBytes, diskBytes }: HeaderFacts, requested: LuksType, peer: string): void {
  const claim = (what: string): never => {
    throw misbehaving(peer, what);
  };
  if (requested === 'luks1' && parsed.luksType !== 'luks1') claim(`it reported a ${parsed.luksType} header where only a luks1 one was asked for`);
  // Our header VM refuses anything else before it reports; a report of it is a lie or a bug.
  if (mappedCipherKey(parsed.cipher, parsed.keyBytes) === undefined) claim(`it reported ${parsed.cipher} with a ${parsed.keyBytes * 8}-bit key, which it must refuse`);
  if (parsed.sectorSize !== 512 && (parsed.luksType === 'luks1' || parsed.sectorSize !== 4096)) claim(`it reported ${parsed.sectorSize}-byte sectors for ${parsed.luksType}`);
  const dataByte = parsed.dataOffset * 512;
  if (dataByte < sentBytes) claim(`it placed the data at byte ${dataByte}, inside the ${sentBytes} header bytes it was sent`);
  if (dataByte % parsed.sectorSize !== 0) claim(`its data offset ${dataByte} is not a multiple of its ${parsed.sectorSize}-byte sectors`);
  if (dataByte >= diskBytes) throw new OperationError(`the header places the data at byte ${dataByte}, at or past the end of the ${diskBytes}-byte disk`);
  if (parsed.headerBytes > dataByte) claim(`it reported a header of ${parsed.headerBytes} bytes reaching past its data offset`);
}

/**
 * Checks a header VM's report for an attach and, for a data offset that is not cryptsetup's default, asks the user (on a terminal)
 * unless `--data-offset` named exactly that offset. Without a terminal such a header is refused with the option to use.
 */
export async function approveLayout(facts: HeaderFacts, command: Pick<AttachCommand, 'luksType' | 'acceptedDataOffset'>, peer: string): Promise<void> {
  checkReportedLayout(facts, command.luksType, peer);
  const { parsed } = facts;
  // Never silent: a header read from its secondary copy, or copies that disagree, is said before the passphrase is asked.
  if (parsed.copy === 'secondary') warning(`the primary LUKS2 header is unusable: ${peer} used the secondary copy`);
  for (const text of parsed.warnings) warning(`${peer}: ${sanitizePeerText(text, 200)}`);
  if (isUsualDataOffset(parsed.luksType, parsed.dataOffset) || parsed.dataOffset === command.acceptedDataOffset) return;
  const usual = DEFAULT_DATA_OFFSET[parsed.luksType];
  const what = `the ${parsed.luksType} header places the data at ${offsetWords(parsed)}, not at cryptsetup's default ${offsetWords({ dataOffset: usual })}`;
  if (!process.stdin.isTTY) {
    throw new OperationError(`${what}: if you made the volume that way, attach with --data-offset=${parsed.dataOffset}`);
  }
  await confirm(`${what}.\nA volume made with a non-default --offset or --luks2-keyslots-size does that; an unexpected offset may be a hostile header signalling out.\nAttach it anyway?`);
}
