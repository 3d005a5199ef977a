// qvm-run as qrexec behaves: the service lookup order, exit 127 for a missing service, the remote exit code, the service's
// environment, --no-autostart, the transcript of dom0's pipes, and an interrupted call taking its service down.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { newSim, runningVms, sim } from '../helpers/sim.ts';
import { createDispVm, dom0, installService, spawnDom0 } from './sim-tools.ts';

const root = (dir: string, vm: string) => join(dir, 'vms', vm, 'root');

/** A world with DispVM `svc` running; the test services live in the DVM template, as installed services do. */
function world(): string {
  const dir = newSim();
  const template = root(dir, 'sim-dvm');
  installService(template, 'etc/qubes-rpc/test.Which', 'echo etc-plain');
  installService(template, 'usr/local/etc/qubes-rpc/test.Which', 'echo local-plain');
  installService(template, 'etc/qubes-rpc/test.Which+arg', 'echo etc-arg');
  installService(template, 'usr/local/etc/qubes-rpc/test.Which+special', 'echo local-arg');
  installService(template, 'etc/qubes-rpc/test.Env', 'echo "$QREXEC_REMOTE_DOMAIN|$QREXEC_SERVICE_ARGUMENT|$QREXEC_SERVICE_FULL_NAME|$1|$#|$SPLIT_DM_CRYPT_SYSROOT|$(pwd)|$(command -v dmsetup)|$(command -v qvm-run || echo none)"');
  installService(template, 'etc/qubes-rpc/test.Exit', 'cat >/dev/null; echo "to stderr" >&2; exit "$1"');
  installService(template, 'etc/qubes-rpc/test.Echo', 'cat');
  installService(template, 'etc/qubes-rpc/test.Sleep', 'echo $$ > "$SPLIT_DM_CRYPT_SYSROOT/run/sleep.pid"; echo started; exec sleep 30');
  expect(createDispVm(dir, 'svc').exitCode).toBe(0);
  expect(dom0(dir, 'qvm-start', ['svc']).exitCode).toBe(0);
  return dir;
}

const call = (dir: string, service: string, input = '') => dom0(dir, 'qvm-run', ['--pass-io', '--no-autostart', '-u', 'root', '--service', 'svc', service], input);

describe('qvm-run --service', () => {
  const dir = world();

  it.each([
    // SVC+ARG before SVC, /usr/local/etc before /etc.
    ['test.Which+special', 'local-arg\n'],
    ['test.Which+arg', 'etc-arg\n'],
    ['test.Which+other', 'local-plain\n'],
    ['test.Which', 'local-plain\n'],
  ])('%s runs the file qrexec would pick', (service, stdout) => {
    expect(call(dir, service)).toMatchObject({ exitCode: 0, stdout });
  });

  it('exits 127 for a service that does not exist, 125 for an invalid name', () => {
    expect(call(dir, 'test.Missing+x').exitCode).toBe(127);
    expect(call(dir, 'test/../x').exitCode).toBe(125);
  });

  it("passes qrexec's environment and the argument as $1; the qube's tree, its tools, never dom0's", () => {
    const [remote, argument, fullName, first, count, sysroot, cwd, dmsetup, qvmRun] = call(dir, 'test.Env+luks1').stdout.trim().split('|');
    expect([remote, argument, fullName, first, count]).toEqual(['dom0', 'luks1', 'test.Env+luks1', 'luks1', '1']);
    expect(sysroot).toBe(root(dir, 'svc'));
    expect(cwd).toBe(join(root(dir, 'svc'), 'home/user'));
    expect(dmsetup).toBe(join(dir, 'vm-bin', 'dmsetup'));
    expect(qvmRun).toBe('none');
    expect(call(dir, 'test.Env').stdout.trim().split('|').slice(1, 5)).toEqual(['', 'test.Env', '', '0']);
  });

  it("returns the service's exit code and relays stdin, stdout and stderr, all recorded in the transcript", () => {
    expect(call(dir, 'test.Exit+3', 'ignored input')).toMatchObject({ exitCode: 3, stderr: 'to stderr\n' });
    const bytes = 'binary \u0000\u00ff data'.repeat(1000);
    expect(call(dir, 'test.Echo', bytes).stdout).toBe(bytes);
    const transcript = sim('transcript', dir).toString('utf8');
    expect(transcript).toContain('--- qvm-run svc (root) service test.Echo');
    expect(transcript).toContain('ignored input');
    expect(transcript).toContain('to stderr');
    expect(transcript.split(bytes).length).toBe(3);
  });

  it('a plain command runs with sh -c in /home/user', () => {
    const run = dom0(dir, 'qvm-run', ['--pass-io', 'svc', 'pwd; exit 4']);
    expect(run).toMatchObject({ exitCode: 4, stdout: `${join(root(dir, 'svc'), 'home/user')}\n` });
  });

  it('SIGTERM to qvm-run kills the service and exits 143', async () => {
    const { child, exited } = spawnDom0(dir, 'qvm-run', ['--pass-io', '--no-autostart', '-u', 'root', '--service', 'svc', 'test.Sleep']);
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    const pid = Number(readFileSync(join(root(dir, 'svc'), 'run/sleep.pid'), 'utf8'));
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Gone, or a zombie waiting for a parent that reaps it (PID 1 in a container may not).
    const state = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] : 'gone';
    expect(['gone', 'Z']).toContain(state);
  });
});

describe('qvm-run and a halted qube', () => {
  it('--no-autostart: exit 1, silent with --pass-io; without it the qube is started first', () => {
    const dir = newSim();
    expect(dom0(dir, 'qvm-run', ['--pass-io', '--no-autostart', 'work', 'true'])).toMatchObject({ exitCode: 1, stderr: '' });
    expect(dom0(dir, 'qvm-run', ['--no-autostart', 'work', 'true'])).toMatchObject({ exitCode: 1, stderr: "Qube 'work' not started\n" });
    expect(runningVms(dir)).toEqual(['sys-usb']);
    expect(dom0(dir, 'qvm-run', ['--pass-io', 'work', 'echo hi'])).toMatchObject({ exitCode: 0, stdout: 'hi\n' });
    expect(runningVms(dir)).toEqual(['sys-usb', 'work']);
    expect(dom0(dir, 'qvm-run', ['--pass-io', 'nosuch', 'true']).exitCode).toBe(2);
    expect(existsSync(join(dir, 'transcript.bin'))).toBe(true);
  });
});
