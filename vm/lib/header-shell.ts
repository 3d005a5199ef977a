// The header DisposableVM's side of overwrite-header-with-shell and modify-header-with-shell: a header file in a private
// directory on tmpfs, an interactive root shell over it, and the edited header area handed back only when it parses.
import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { OperationError } from '../../shared/errors.ts';
import type { LuksType } from '../../shared/protocol/contract.ts';
import { readPrefix } from './files.ts';
import { vmPath } from './sysroot.ts';

/** /run is tmpfs in a Qubes VM: the header never touches a disk of the header DisposableVM. */
export const SHELL_DIR = '/run/split-dm-crypt-shell';
export const SHELL_HEADER_FILE = `${SHELL_DIR}/header.img`;
/** The length of the area placed (the file itself may grow under cryptsetup). */
const AREA_LENGTH_FILE = `${SHELL_DIR}/.area-bytes`;

/** Puts the header area where the shell will find it, in a directory only root can enter. */
export async function placeHeaderFile(area: Uint8Array): Promise<string> {
  await rm(vmPath(SHELL_DIR), { recursive: true, force: true });
  await mkdir(vmPath(SHELL_DIR), { recursive: true, mode: 0o700 });
  await writeFile(vmPath(SHELL_HEADER_FILE), area, { mode: 0o600 });
  await writeFile(vmPath(AREA_LENGTH_FILE), `${area.length}\n`, { mode: 0o600 });
  return SHELL_HEADER_FILE;
}

/** The length of the header area HeaderShellPut placed. */
export async function placedAreaBytes(): Promise<number> {
  const text = await readFile(vmPath(AREA_LENGTH_FILE), 'latin1').catch(() => '');
  if (!/^[0-9]{1,9}\n$/.test(text)) throw new OperationError('no header area was placed for the shell (HeaderShellPut must run first)');
  return Number(text);
}

/**
 * Reads back the header area the shell left: exactly as many bytes as were placed (cryptsetup may have grown the file; what lies
 * past the area is never handed back). Not parsed here: this VM ran a shell, so a fresh one checks it.
 */
export async function takeHeaderFile(): Promise<Buffer> {
  const areaBytes = await placedAreaBytes();
  const path = vmPath(SHELL_HEADER_FILE);
  const size = await stat(path).then((s) => (s.isFile() ? s.size : -1), () => -1);
  if (size < 0) throw new OperationError(`${SHELL_HEADER_FILE} is gone: the shell removed or replaced it`);
  if (size < areaBytes) throw new OperationError(`${SHELL_HEADER_FILE} holds ${size} bytes, less than the header area of ${areaBytes} bytes placed`);
  return readPrefix(path, areaBytes);
}

export async function removeHeaderFile(): Promise<void> {
  await rm(vmPath(SHELL_DIR), { recursive: true, force: true });
}

/** The banner the shell user sees first (on stderr, so it never mixes with what the shell's commands print). */
export function shellBanner(luksType: LuksType, areaBytes: number): string {
  return [
    `split dm-crypt header shell (root, offline DisposableVM)`,
    `  ${SHELL_HEADER_FILE}: the ${luksType} header area (${areaBytes} bytes); also in $HEADER`,
    `  edit it with cryptsetup or split-dm-crypt-luks, e.g.: cryptsetup luksAddKey --type ${luksType} "$HEADER"`,
    `  'exit' (status 0) hands the header back: a fresh DisposableVM checks it, then it is written only after you confirm;`,
    `  'exit 1' (any other status) abandons the edit: nothing is written.`,
    '',
  ].join('\n');
}

/**
 * Runs an interactive shell in the header directory and resolves with its exit status. `withTty` gives the shell a
 * pseudo-terminal of its own (util-linux `script`), so cryptsetup can turn echo off for passphrases; dom0 then puts its own
 * terminal in raw mode. Without it, the shell reads commands from the call's stdin, as in scripts and tests.
 */
export function runHeaderShell(withTty: boolean, bundleDir: string): Promise<number> {
  const cwd = vmPath(SHELL_DIR);
  // The installed CLI lives in PREFIX/bin, the bundles in PREFIX/lib/split-dm-crypt.
  const cliDir = resolve(bundleDir, '../../bin');
  // TERM=dumb: readline then edits lines with CR and backspace only, which dom0's escape filter lets through (dom0/qubes.ts).
  const env: NodeJS.ProcessEnv = { ...process.env, HEADER: vmPath(SHELL_HEADER_FILE), PATH: `${cliDir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`, PS1: '[header-shell]# ', TERM: 'dumb' };
  for (const key of Object.keys(env)) if (key.startsWith('QREXEC_')) delete env[key];
  const [command, args] = withTty ? ['script', ['-q', '-f', '-e', '-c', 'bash --norc --noprofile -i', '/dev/null']] : ['bash', ['--norc', '--noprofile', '-s']];
  const child = spawn(command, args as string[], { cwd, env, stdio: 'inherit' });
  return new Promise((resolvePromise, reject) => {
    child.on('error', (error: NodeJS.ErrnoException) => reject(new OperationError(`cannot start ${command}: ${error.code ?? error.message}`)));
    child.on('exit', (code, signal) => resolvePromise(code ?? (signal ? 128 : 1)));
  });
}

/** The directory of the running bundle (PREFIX/lib/split-dm-crypt once installed). */
export function bundleDirectory(): string {
  return dirname(resolve(process.argv[1] ?? '.'));
}
