// qvm-run as qrexec behaves: the service lookup order, exit 127 for a missing service, the remote exit code, the service's
// environment, --no-autostart, the transcript of dom0's pipes, and an interrupted call taking its service down.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCalls } from '../sim/faults.ts';
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

  it('SIGTERM to qvm-run ends the relay with 143 but not the service (qrexec only closes the connection); killing its qube does', async () => {
    const { child, exited } = spawnDom0(dir, 'qvm-run', ['--pass-io', '--no-autostart', '-u', 'root', '--service', 'svc', 'test.Sleep']);
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    const pid = Number(readFileSync(join(root(dir, 'svc'), 'run/sleep.pid'), 'utf8'));
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(processState(pid), 'the service died with the relay').not.toMatch(/^(gone|Z)$/);
    expect(dom0(dir, 'qvm-kill', ['svc']).exitCode).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(['gone', 'Z']).toContain(processState(pid));
  });
});

/** A process's state letter, or 'gone' (a zombie waiting for a parent that reaps it is as good as gone: PID 1 may not reap). */
function processState(pid: number): string {
  return existsSync(`/proc/${pid}/stat`) ? (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] ?? 'gone') : 'gone';
}

describe("qvm-run's output to dom0: escape filtering and colour, as qvm_run.py and qrexec-client do them", () => {
  const dir = world();
  installService(root(dir, 'sim-dvm'), 'etc/qubes-rpc/test.Escapes', "printf 'a\\033[31mb\\tc\\001\\n'; printf 'e\\033]0;t\\007\\n' >&2");
  expect(dom0(dir, 'qvm-kill', ['svc']).exitCode).toBe(0);
  expect(createDispVm(dir, 'esc').exitCode).toBe(0);
  expect(dom0(dir, 'qvm-start', ['esc']).exitCode).toBe(0);
  const run = (...options: string[]) => dom0(dir, 'qvm-run', ['--pass-io', '--no-gui', ...options, '-u', 'root', '--service', 'esc', 'test.Escapes']);

  it.each([
    // Not a terminal: nothing filtered, nothing coloured.
    [[], 'a\x1b[31mb\tc\x01\n', 'e\x1b]0;t\x07\n'],
    // Filtered: every byte but printable ASCII, tab, newline, CR, backspace and bell becomes _; stdout coloured red by default.
    [['--filter-escape-chars'], '\x1b[0;31ma_[31mb\tc_\n\x1b[0m', 'e_]0;t\x07\n'],
    [['--filter-escape-chars', '--no-color-output', '--no-color-stderr'], 'a_[31mb\tc_\n', 'e_]0;t\x07\n'],
    [['--filter-escape-chars', '--no-filter-escape-chars'], 'a\x1b[31mb\tc\x01\n', 'e\x1b]0;t\x07\n'],
  ])('qvm-run %j', (options, stdout, stderr) => {
    expect(run(...options)).toMatchObject({ exitCode: 0, stdout, stderr });
  });

  it('refuses a colour without filtering, as argparse does', () => {
    expect(run('--color-output', '32').exitCode).toBe(2);
  });
});

describe('qvm-run and the GUI session (qubes.WaitForSession first, unless --no-gui)', () => {
  const dir = world();
  const env = (display: string | undefined) => ({ ...process.env, DISPLAY: display });
  const timed = (display: string | undefined, ...options: string[]) => {
    const started = Date.now();
    const result = spawnSync(join(dir, 'bin', 'qvm-run'), ['--pass-io', ...options, '-u', 'root', '--service', 'svc', 'test.Which'], { env: env(display), encoding: 'utf8', timeout: 4000 });
    return { status: result.status, signal: result.signal, stdout: result.stdout, ms: Date.now() - started };
  };

  it('a qube whose template never gets a session blocks qvm-run with DISPLAY set, until it is stopped', () => {
    sim('set', dir, 'gui-session', 'sim-dvm', 'never');
    const blocked = timed(':0');
    // Still waiting when spawnSync's limit stopped it (SIGTERM: the fake tool ends with 143).
    expect(blocked.ms).toBeGreaterThanOrEqual(3900);
    expect(blocked.status).toBe(143);
    expect(blocked.stdout).toBe('');
    expect(readCalls(dir).some((call) => call.key === 'service:qubes.WaitForSession' && call.vm === 'svc')).toBe(true);
    // --no-gui, or no DISPLAY: no session wait.
    expect(timed(':0', '--no-gui')).toMatchObject({ status: 0, stdout: 'local-plain\n' });
    const withoutDisplay = timed(undefined);
    expect(withoutDisplay).toMatchObject({ status: 0, stdout: 'local-plain\n' });
    sim('set', dir, 'gui-session', 'sim-dvm', 'ready');
    expect(timed(':0')).toMatchObject({ status: 0, stdout: 'local-plain\n' });
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
