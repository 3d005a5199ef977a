// The real cryptsetup as the interop oracle: plain image files, no root or device-mapper needed for these commands.
import { execa } from 'execa';
import { closeSync, openSync, truncateSync } from 'node:fs';

/** Fast PBKDF2 for tests; the iteration count is not what is under test. */
export const FAST = ['--pbkdf-force-iterations', '1000'];

export interface LuksFormatOptions {
  readonly keySize?: number;
  readonly hash?: string;
  readonly cipher?: string;
  readonly sizeBytes?: number;
}

/** Makes a LUKS1 volume image with the passphrase in slot 0. */
export async function cryptsetupFormat(path: string, passphrase: string, options: LuksFormatOptions = {}): Promise<void> {
  closeSync(openSync(path, 'a'));
  truncateSync(path, options.sizeBytes ?? 4 * 1024 * 1024);
  await execa('cryptsetup', [
    'luksFormat', '--type', 'luks1', '--batch-mode', ...FAST,
    '--cipher', options.cipher ?? 'aes-xts-plain64', '--key-size', String(options.keySize ?? 512), '--hash', options.hash ?? 'sha256',
    path, '-',
  ], { input: passphrase });
}

/** The volume key as cryptsetup prints it, lowercase hex. */
export async function cryptsetupVolumeKey(path: string, passphrase: string): Promise<string> {
  const { stdout } = await execa('cryptsetup', ['luksDump', '--dump-master-key', '--batch-mode', path], { input: `${passphrase}\n` });
  const match = /MK dump:\s*([\s\S]*)$/.exec(stdout);
  if (!match) throw new Error(`no MK dump in cryptsetup output: ${stdout}`);
  return match[1]!.replace(/[^0-9a-f]/g, '');
}

/** Whether cryptsetup accepts the passphrase; returns the slot it reports. */
export async function cryptsetupTestPassphrase(path: string, passphrase: string): Promise<number | undefined> {
  const result = await execa('cryptsetup', ['open', '--test-passphrase', '--verbose', path], { input: `${passphrase}\n`, reject: false });
  if (result.exitCode !== 0) return undefined;
  const match = /Key slot (\d) unlocked/.exec(result.stdout + result.stderr);
  return match ? Number(match[1]) : -1;
}

/** Adds a passphrase to a free slot through cryptsetup (key files carry the secrets: stdin takes only one). */
export async function cryptsetupAddKey(path: string, existingKeyFile: string, newKeyFile: string, slot?: number): Promise<void> {
  const slotArgs = slot === undefined ? [] : ['--key-slot', String(slot)];
  await execa('cryptsetup', ['luksAddKey', '--batch-mode', ...FAST, ...slotArgs, '--key-file', existingKeyFile, path, newKeyFile], { input: '' });
}

/** Kills a slot through cryptsetup, authorized by a key file that opens another slot. */
export async function cryptsetupKillSlot(path: string, slot: number, otherKeyFile: string): Promise<void> {
  await execa('cryptsetup', ['luksKillSlot', '--batch-mode', '--key-file', otherKeyFile, path, String(slot)], { input: '' });
}

/** Small, fast KDF settings for LUKS2 test volumes (the KDF cost is not what is under test). */
export const FAST_LUKS2 = {
  pbkdf2: ['--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000'],
  argon2id: ['--pbkdf', 'argon2id', '--pbkdf-memory', '8192', '--pbkdf-force-iterations', '4', '--pbkdf-parallel', '1'],
  argon2i: ['--pbkdf', 'argon2i', '--pbkdf-memory', '8192', '--pbkdf-force-iterations', '4', '--pbkdf-parallel', '2'],
} as const;

export interface Luks2FormatOptions {
  readonly kdf?: keyof typeof FAST_LUKS2;
  readonly keySize?: number;
  readonly hash?: string;
  readonly sectorSize?: number;
  readonly sizeBytes?: number;
  /** Data offset in 512-byte sectors (cryptsetup's default is 32768, 16 MiB). */
  readonly offsetSectors?: number;
}

/** Makes a LUKS2 volume image with the passphrase in slot 0 (20 MiB by default: 16 MiB of header, 4 MiB of data). */
export async function cryptsetupFormatLuks2(path: string, passphrase: string, options: Luks2FormatOptions = {}): Promise<void> {
  closeSync(openSync(path, 'a'));
  truncateSync(path, options.sizeBytes ?? 20 * 1024 * 1024);
  await execa('cryptsetup', [
    'luksFormat', '--type', 'luks2', '--batch-mode', ...FAST_LUKS2[options.kdf ?? 'pbkdf2'],
    '--cipher', 'aes-xts-plain64', '--key-size', String(options.keySize ?? 512), '--hash', options.hash ?? 'sha256',
    '--sector-size', String(options.sectorSize ?? 512),
    ...(options.offsetSectors === undefined ? [] : ['--offset', String(options.offsetSectors)]), path, '-',
  ], { input: passphrase });
}

/** Adds a key file's secret to a LUKS2 volume through cryptsetup with the given fast KDF. */
export async function cryptsetupAddKeyLuks2(path: string, existingKeyFile: string, newKeyFile: string, kdf: keyof typeof FAST_LUKS2, slot?: number): Promise<void> {
  const slotArgs = slot === undefined ? [] : ['--key-slot', String(slot)];
  await execa('cryptsetup', ['luksAddKey', '--batch-mode', ...FAST_LUKS2[kdf], ...slotArgs, '--key-file', existingKeyFile, path, newKeyFile], { input: '' });
}
