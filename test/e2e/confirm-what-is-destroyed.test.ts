// Destructive commands look first, then ask, and write only to the disk the user confirmed: the question names the size the
// device VM measured, and the device VM refuses to write to a disk of another size. The finding: the question came before the
// device was attached or sized, so a different drive plugged into the same port while the prompt waited was wiped.
import { spawn } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTmpDir } from '../helpers/tmp.ts';
import { attachments, makeVolume, newSim, runningVms, SIM, sim } from '../helpers/sim.ts';

const tmp = useTmpDir();

/** Runs qvm-block-split on a terminal (util-linux `script`); `onPrompt` runs when the confirmation question shows, then "y" is typed. */
function runOnTerminal(dir: string, args: readonly string[], onPrompt: () => void): Promise<{ exitCode: number; output: string }> {
  const command = `eval "$(${SIM} env ${dir})" && qvm-block-split ${args.join(' ')}`;
  const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  let answered = false;
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString('latin1');
    if (!answered && /Continue\? \[y\/N\]/.test(output)) {
      answered = true;
      onPrompt();
      child.stdin.write('y\r');
    }
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ exitCode: code ?? -1, output })));
}

describe('destructive commands: what was confirmed is what is written', { timeout: 180_000 }, () => {
  it('the question names the disk\'s size; another drive behind the same port while it waits is refused, untouched', async () => {
    const dir = newSim();
    const first = await makeVolume(tmp, 'first.img', 'first pass', 8 * 1024 * 1024);
    sim('add-block', dir, 'sys-usb', 'sda', first.path);
    const before = runningVms(dir);
    // The other drive: 16 MiB of known bytes, swapped in behind sys-usb:sda while the user reads the question.
    const other = Buffer.alloc(16 * 1024 * 1024, 0x5a);
    const otherPath = join(tmp, 'other.img');
    writeFileSync(otherPath, other);
    const run = await runOnTerminal(dir, ['overwrite-everything-with-random', 'sys-usb:sda'], () => renameSync(otherPath, first.path));
    expect(run.output).toMatch(/This overwrites ALL of sys-usb:sda \(Sim_Disk_sda \(\), 8388608 bytes \(8\.0 MiB\)\)/);
    expect(run.exitCode).toBe(1);
    expect(run.output).toMatch(/error: .*now holds 16777216 bytes, not the 8388608 bytes that were confirmed/);
    expect(readFileSync(first.path).equals(other)).toBe(true);
    expect(runningVms(dir)).toEqual(before);
    expect(attachments(dir)).toEqual([]);
  });

  it('the same disk, confirmed on the terminal, is overwritten', async () => {
    const dir = newSim();
    const volume = await makeVolume(tmp, 'same.img', 'pass', 4 * 1024 * 1024);
    sim('add-block', dir, 'sys-usb', 'sda', volume.path);
    const original = readFileSync(volume.path);
    const run = await runOnTerminal(dir, ['overwrite-everything-with-random', 'sys-usb:sda'], () => undefined);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.output).toMatch(/overwrote sys-usb:sda with random data \(4194304 bytes\)/);
    expect(readFileSync(volume.path).subarray(0, 4096).equals(original.subarray(0, 4096))).toBe(false);
  });
});
