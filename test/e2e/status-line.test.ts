// What a user at a terminal sees while an attach waits: one live line naming the step (VM starts, the header, the key
// derivation with its expected time, the mapping, the destination), cleared before every message and prompt and gone at the
// end. Off a terminal (the other e2e tests) stderr has only the messages.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { useTmpDir } from '../helpers/tmp.ts';
import { makeVolume, newSim, SIM, sim } from '../helpers/sim.ts';

const tmp = useTmpDir();

function attachOnTerminal(dir: string, passphrase: string, env: NodeJS.ProcessEnv = {}): Promise<{ exitCode: number; screen: string }> {
  const command = `eval "$(${SIM} env ${dir})" && qvm-block-split attach work sys-usb:sda`;
  const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let screen = '';
  let typed = false;
  child.stdout.on('data', (chunk: Buffer) => {
    screen += chunk.toString('latin1');
    if (!typed && /Enter passphrase for sys-usb:sda[^\n]*: $/.test(screen)) {
      typed = true;
      child.stdin.write(`${passphrase}\r`);
    }
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ exitCode: code ?? -1, screen })));
}

describe('the status line on a terminal', { timeout: 120_000 }, () => {
  it('names each step while it waits, never over a prompt or a message, and is gone at the end', async () => {
    const dir = newSim();
    const volume = await makeVolume(tmp, 'line.img');
    sim('add-block', dir, 'sys-usb', 'sda', volume.path);
    // DisposableVM starts that take a while, as on real Qubes, so the line has something to show.
    sim('set', dir, 'start-delay-ms', '600');
    const run = await attachOnTerminal(dir, volume.passphrase, { NO_COLOR: undefined, TERM: 'xterm' });
    expect(run.exitCode, run.screen).toBe(0);
    expect(run.screen).toMatch(/\rstarting the DisposableVMs \(\d+\.\d s\)\x1b\[K/);
    expect(run.screen).toMatch(/\rderiving the key in dm-header-disp\d{8}: key slot 0 \(pbkdf2\) \(\d+\.\d s( of about \d+\.\d s)?\)\x1b\[K/);
    expect(run.screen).toMatch(/\rattaching the decrypted disk to work \(/);
    // Every message starts on a cleared line, and the prompt too.
    for (const match of run.screen.matchAll(/(qvm-block-split: |Enter passphrase)/g)) {
      const before = run.screen.slice(0, match.index);
      expect(before.endsWith('\r\x1b[K') || before.endsWith('\n') || before === '').toBe(true);
    }
    // Nothing of the line after the last message.
    expect(run.screen.slice(run.screen.lastIndexOf('qvm-block-split: '))).not.toMatch(/\x1b\[K/);
  });

  it('NO_COLOR: plain messages only, no line', async () => {
    const dir = newSim();
    const volume = await makeVolume(tmp, 'plain.img');
    sim('add-block', dir, 'sys-usb', 'sda', volume.path);
    const run = await attachOnTerminal(dir, volume.passphrase, { NO_COLOR: '1' });
    expect(run.exitCode, run.screen).toBe(0);
    expect(run.screen).not.toMatch(/\x1b\[K|starting the DisposableVMs/);
  });
});
