// The one dm target the simulator knows: dm-crypt with aes-xts-plain64 or xchacha12,aes-adiantum-plain64 (the device VM's two
// ciphers), parsed strictly as the kernel's crypt_ctr would (REFERENCE section 5):
// `0 <len> crypt <cipher> <hexkey> <iv_offset> <device> <offset> [1 sector_size:4096]`.

export type SimCipher = 'aes-xts-plain64' | 'xchacha12,aes-adiantum-plain64';

export interface CryptTable {
  readonly cipher: SimCipher;
  readonly lengthSectors: number;
  readonly key: Buffer;
  readonly ivOffset: number;
  /** A path inside the qube (`/dev/xvds`). */
  readonly device: string;
  readonly offsetSectors: number;
  /** Encryption unit in bytes: 512 or 4096. */
  readonly sectorSize: number;
}

const NUMBER = /^(0|[1-9][0-9]{0,15})$/;
/** The key lengths crypt_ctr accepts per cipher: AES-128/256-XTS, and Adiantum's one 32-byte key. */
const KEYS: Readonly<Record<SimCipher, RegExp>> = {
  'aes-xts-plain64': /^([0-9a-f]{64}|[0-9a-f]{128})$/,
  'xchacha12,aes-adiantum-plain64': /^[0-9a-f]{64}$/,
};
const DEVICE = /^\/dev\/(mapper\/)?[A-Za-z0-9_.+-]{1,128}$/;

/** The table, or undefined when the kernel would answer EINVAL. One line; a final newline is allowed. */
export function parseCryptTable(text: string): CryptTable | undefined {
  const line = text.endsWith('\n') ? text.slice(0, -1) : text;
  const fields = line.split(' ');
  if (fields.length !== 8 && fields.length !== 10) return undefined;
  const [start, length, target, cipher, key, ivOffset, device, offset, optionCount, option] = fields as string[];
  const known = Object.keys(KEYS).find((name): name is SimCipher => name === cipher);
  if (start !== '0' || target !== 'crypt' || known === undefined) return undefined;
  if (![length, ivOffset, offset].every((n) => NUMBER.test(n!)) || !KEYS[known].test(key!) || !DEVICE.test(device!)) return undefined;
  if (fields.length === 10 && (optionCount !== '1' || option !== 'sector_size:4096')) return undefined;
  const sectorSize = fields.length === 10 ? 4096 : 512;
  const table = {
    cipher: known,
    lengthSectors: Number(length),
    key: Buffer.from(key!, 'hex'),
    ivOffset: Number(ivOffset),
    device: device!,
    offsetSectors: Number(offset),
    sectorSize,
  };
  const unit = sectorSize / 512;
  // crypt_ctr: the length and the device offset must be whole encryption units.
  if (table.lengthSectors === 0 || table.lengthSectors % unit !== 0 || table.offsetSectors % unit !== 0) return undefined;
  return table;
}

/** The table as `dmsetup table` prints it without --showkeys: the key replaced by zeros of the same length. */
export function maskKey(text: string): string {
  const fields = text.split(' ');
  if (fields[4] !== undefined) fields[4] = '0'.repeat(fields[4].length);
  return fields.join(' ');
}
