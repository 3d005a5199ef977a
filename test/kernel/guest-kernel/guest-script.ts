// One boot of the guest kernel that runs a shell script with the host's cryptsetup (from its root over 9p, in a chroot) on disks
// attached at boot (vda, vdb...), then powers off. For what must be done by the real kernel before a test's own steps: a
// volume cryptsetup formats with a cipher the host's kernel lacks, or sectors dm-crypt encrypts for a test vector.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { bootGuest, buildGuestKernel, type BootResult } from './boot.ts';
import { GUEST_PRELUDE, HOST_ROOT } from './guest-init.ts';
import { buildInitramfs } from './initramfs.ts';

/** Generous: a TCG boot takes seconds alone, far longer when other emulators share the CPUs; cryptsetup's PBKDF runs emulated. */
export const GUEST_SCRIPT_TIMEOUT_MS = 300_000;

let kernel: string | undefined;

/**
 * Boots with `disks` and runs `script` (busybox sh, as root, `say KEY VALUE` for a marker, `host CMD...` for a command of the
 * host's root); resolves with the markers once the guest has powered off. `name` names the scratch folder under `dir`.
 */
export async function runGuestScript(dir: string, name: string, disks: readonly string[], script: string): Promise<BootResult> {
  kernel ??= buildGuestKernel();
  const work = join(dir, name);
  mkdirSync(work, { recursive: true });
  const init = `${GUEST_PRELUDE}${HOST_ROOT}host() { chroot /host "$@"; }\n${script}\nfinish\n`;
  const initrd = buildInitramfs(work, init);
  return bootGuest({ kernel, initrd, disks, qmpSocket: join(work, 'qmp.sock'), timeoutMs: GUEST_SCRIPT_TIMEOUT_MS });
}
