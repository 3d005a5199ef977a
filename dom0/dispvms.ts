// The DisposableVMs a command creates: named like the original's (dm-<role>-dispNNNN), offline, started concurrently,
// each registered on the clean-up stack the moment it exists.
import { randomInt } from 'node:crypto';
import type { CleanupStack } from './cleanup-stack.ts';
import { createDispVM, isRunning, killVM, removeVM, startVM, vmExists } from './qubes.ts';

export type DispVmRole = 'device' | 'header' | 'destination';

/** Prefix of every DisposableVM this tool creates; `cleanup` recognizes leftovers by it. */
export const DISPVM_NAME = /^dm-(device|header|destination)-disp[0-9]{4}$/;

async function freshName(role: DispVmRole): Promise<string> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const name = `dm-${role}-disp${String(randomInt(10_000)).padStart(4, '0')}`;
    if (!(await vmExists(name))) return name;
  }
  return `dm-${role}-disp${String(randomInt(10_000)).padStart(4, '0')}`;
}

/** Kills a DisposableVM we created and removes it if auto_cleanup did not. */
export async function destroyDispVM(name: string): Promise<void> {
  try {
    await killVM(name);
  } catch {
    // Why a second try: one failed qvm-kill (qubesd busy, a timeout) must not leave a VM that holds the source disk running.
    // A qube that is already gone or halted needs none.
    if (await isRunning(name)) await killVM(name);
  }
  if (await vmExists(name)) await removeVM(name);
}

/**
 * Creates and starts one offline DisposableVM per role, all at once; each is on `stack` from its creation on. Each start is
 * bounded by START_TIMEOUT_S (qubes.ts reads it from the time limits main() set), creation by the tool limit.
 */
export async function startDispVMs<R extends DispVmRole>(roles: readonly R[], template: string, label: string, stack: CleanupStack, onCreated?: (name: string) => void): Promise<Record<R, string>> {
  const started = await Promise.allSettled(
    roles.map(async (role) => {
      const name = await freshName(role);
      await createDispVM(name, template, label);
      stack.defer(`remove DisposableVM ${name}`, () => destroyDispVM(name));
      onCreated?.(name);
      await startVM(name);
      return [role, name] as const;
    }),
  );
  const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
  return Object.fromEntries(started.map((result) => (result as PromiseFulfilledResult<readonly [R, string]>).value)) as Record<R, string>;
}
