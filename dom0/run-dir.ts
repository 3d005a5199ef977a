// The run directory holds what outlives one process but not a reboot: source-device locks and attachment records.
// Default /run/qubes-split-dm-crypt (tmpfs, created at boot by the installed tmpfiles.d entry), or $SPLIT_DM_CRYPT_RUNDIR.
import { lstat, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { OperationError } from '../shared/errors.ts';
import type { SourceSpec } from './names.ts';

export const DEFAULT_RUN_DIR = '/run/qubes-split-dm-crypt';

/** The run directory for this process. */
export function runDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.SPLIT_DM_CRYPT_RUNDIR || DEFAULT_RUN_DIR;
}

/**
 * A file name for a source device: `sys-usb:sda`, with `/` (allowed in ports) as `+`. Injective: `:` and `+` occur in
 * neither VM names nor ports, so two sources never share a file.
 */
export function sourceFileKey(source: SourceSpec): string {
  return `${source.backend}:${source.port.replaceAll('/', '+')}`;
}

/** `RUNDIR/<sub>`, created if missing (group-writable: dom0's user and root may both run the tool). */
export async function runSubdir(sub: string): Promise<string> {
  const dir = join(runDir(), sub);
  try {
    await mkdir(dir, { recursive: true, mode: 0o770 });
  } catch (error) {
    throw new OperationError(`cannot create ${dir}: ${(error as Error).message} (is the split-dm-crypt tmpfiles.d entry installed?)`, { cause: error });
  }
  // Why lstat: a symlink planted in place of the folder would send records and locks (and what they make dom0 do) elsewhere.
  const stats = await lstat(dir);
  if (!stats.isDirectory()) throw new OperationError(`${dir} is not a directory (a symbolic link or a file is in its place): remove it`);
  return dir;
}
