// The fake tools on a simulated qube's PATH (DIR/vm-bin): dmsetup, blockdev, sync. They act on the qube named by QUBES_SIM_VM.
import { readFileSync } from 'node:fs';
import { resolveChain } from './block-chain.ts';
import { dmsetup } from './dmsetup.ts';
import { SimToolError } from './state.ts';

export const VM_TOOLS = ['dmsetup', 'blockdev', 'sync'] as const;

const BLOCKDEV_REPORTS: Record<string, (sizeBytes: number, readOnly: boolean) => string> = {
  '--getsz': (size) => String(Math.floor(size / 512)),
  '--getsize64': (size) => String(size),
  '--getro': (_size, readOnly) => (readOnly ? '1' : '0'),
  '--getss': () => '512',
  '--getbsz': () => '4096',
};

/** `blockdev --getsz|--getsize64|--getro|--getss|--getbsz... DEVICE...`: one line per report per device. */
export function blockdev(dir: string, vm: string, args: readonly string[]): string {
  const reports = args.filter((a) => a.startsWith('-'));
  const devices = args.filter((a) => !a.startsWith('-'));
  const unknown = reports.find((r) => !BLOCKDEV_REPORTS[r]);
  if (unknown || reports.length === 0 || devices.length === 0) throw new SimToolError(`blockdev: ${unknown ? `unrecognized option '${unknown}'` : 'no command specified'}`, 1);
  return devices
    .map((device) => {
      let chain;
      try {
        chain = resolveChain(dir, vm, device);
      } catch {
        throw new SimToolError(`blockdev: cannot open ${device}: No such file or directory`, 1);
      }
      return reports.map((r) => `${BLOCKDEV_REPORTS[r]!(chain.sizeBytes, chain.readOnly)}\n`).join('');
    })
    .join('');
}

/** Runs VM tool `name`; returns its exit code. */
export function vmTool(name: string, args: readonly string[]): number {
  const dir = process.env.QUBES_SIM_DIR;
  const vm = process.env.QUBES_SIM_VM;
  if (!dir || !vm) throw new SimToolError(`${name}: not running inside a simulated qube (QUBES_SIM_DIR/QUBES_SIM_VM unset)`, 1);
  if (name === 'sync') return 0;
  const out = name === 'blockdev' ? blockdev(dir, vm, args) : name === 'dmsetup' ? dmsetup(dir, vm, args, () => readFileSync(0, 'latin1')) : undefined;
  if (out === undefined) throw new SimToolError(`qubes-sim: unknown VM tool ${name}`, 127);
  process.stdout.write(out);
  return 0;
}
