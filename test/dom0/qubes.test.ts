import { beforeEach, describe, expect, it } from 'vitest';
import { InterruptedError, OperationError, ParseError, TimeoutError, ToolError } from '../../shared/errors.ts';
import { loadConfig, resolveDispVmSettings } from '../../dom0/config.ts';
import { runInterruptible } from '../../dom0/interruption.ts';
import { attachMappingWhenExposed } from '../../dom0/mapping-export.ts';
import { DeviceNotExposedError, qubesAdapter, ReadOnlyDeviceError, TIMEOUTS, type Qubes, type TimeLimits, type UndoOutcome } from '../../dom0/qubes.ts';
import { callService, OpenedService, type TimedChannel } from '../../dom0/service-call.ts';
import { MAX_STDERR_BYTES, runTool, toolFailureOf } from '../../dom0/run-tool.ts';
import { useTmpDir } from '../helpers/tmp.ts';
import { installFakeTools, type FakeQubesdAnswer } from './fake-tools.ts';

const fakes = installFakeTools(useTmpDir());
// The adapter as main() makes it from a configuration that sets no reply or tool limit.
const qubes = qubesAdapter({});
beforeEach(() => {
  for (const tool of ['qvm-run', 'qvm-start', 'qvm-ls', 'qvm-prefs', 'qubes-prefs', 'qvm-block']) fakes.answer(tool, {});
  fakes.resetQubesd();
  fakes.answerQubesd('admin.vm.property.Get', { value: 'default=False type=vm sys-firewall' });
  fakes.answerQubesd('admin.property.Get', { value: 'default=False type=vm fedora-dvm' });
  fakes.answerQubesd('admin.vm.List', { value: 'dom0 class=AdminVM state=Running\n' });
  for (const method of ['admin.vm.feature.Get', 'admin.vm.tag.List', 'admin.vm.tag.Set']) fakes.answerQubesd(method, { value: '' });
  fakes.takeCalls();
});

describe('qubes adapter command lines', () => {
  it.each([
    [() => qubes.createDispVM('dm-device-disp0001', 'fedora-dvm', 'red'), 'qvm-create [--class] [DispVM] [--template] [fedora-dvm] [--label] [red] [--prop] [netvm=] [--prop] [auto_cleanup=True] [dm-device-disp0001]'],
    [() => qubes.startVM('work'), 'qvm-start [work]'],
    [() => qubes.killVM('work'), 'qvm-kill [work]'],
    [() => qubes.removeVM('work'), 'qvm-remove [-f] [work]'],
    [() => qubes.attachBlock('dm-device-disp0001', 'sys-usb', 'sda', { readOnly: true, frontendDev: 'xvds' }), 'qvm-block [attach] [--ro] [-o] [frontend-dev=xvds] [dm-device-disp0001] [sys-usb:sda]'],
    [() => qubes.attachBlock('work', 'dm-device-disp0001', 'dm-0', { readOnly: false }), 'qvm-block [attach] [-o] [read-only=no] [work] [dm-device-disp0001:dm-0]'],
    [() => qubes.detachBlock('work', 'dm-device-disp0001', 'dm-0'), 'qvm-block [detach] [work] [dm-device-disp0001:dm-0]'],
    [() => qubes.getPref('work', 'netvm'), 'qubesd [admin.vm.property.Get] [work] [netvm]'],
    [() => qubes.getGlobalPref('default_dispvm'), 'qubesd [admin.property.Get] [dom0] [default_dispvm]'],
    [() => qubes.listVMs(), 'qubesd [admin.vm.List] [dom0]'],
    [() => qubes.getFeature('fedora-dvm', 'preload-dispvm-max'), 'qubesd [admin.vm.feature.Get] [fedora-dvm] [preload-dispvm-max]'],
    [() => qubes.listTags('disp12'), 'qubesd [admin.vm.tag.List] [disp12]'],
    [() => qubes.addTag('disp12', 'qvm-block-split-device'), 'qubesd [admin.vm.tag.Set] [disp12] [qvm-block-split-device]'],
    [() => qubes.listBlocks('sys-usb'), 'qvm-block [list] [sys-usb]'],
    [() => qubes.runCommand('vault', 'user', "cat -- 'k e y'"), "qvm-run [--pass-io] [--no-autostart] [--no-gui] [-u] [user] [vault] [cat -- 'k e y']"],
  ])('%#: runs %s', async (call, expected) => {
    await call();
    expect(fakes.takeCalls()).toEqual([expected]);
  });
});

describe('qubes adapter answers', () => {
  const stateReply = (power: string): { value: string } => ({ value: `mem=409600 mem_static_max=4096000 cputime=12 power_state=${power}` });

  it.each([
    ['Running', true],
    ['Transient', true],
    ['Paused', true],
    ['Halting', true],
    ['Crashed', true],
    ['Halted', false],
    ['NA', false],
  ])('isRunning reads power_state %s as %s (qubesadmin is_running); vmExists is true for any state', async (power, running) => {
    fakes.answerQubesd('admin.vm.CurrentState', stateReply(power));
    expect(await qubes.isRunning('work')).toBe(running);
    expect(await qubes.vmExists('work')).toBe(true);
    expect(fakes.takeCalls()).toEqual(['qubesd [admin.vm.CurrentState] [work]', 'qubesd [admin.vm.CurrentState] [work]']);
  });

  it('a qube qubesd does not know is neither running nor there', async () => {
    fakes.answerQubesd('admin.vm.CurrentState', { exception: ['QubesVMNotFoundError', "No such domain: 'gone'"] });
    expect(await qubes.isRunning('gone')).toBe(false);
    expect(await qubes.vmExists('gone')).toBe(false);
  });

  it.each<[string, FakeQubesdAnswer, RegExp]>([
    ['no reply (qubesd went away)', { drop: true }, /closed the connection without a reply/],
    ['another exception', { exception: ['QubesException', 'libvirt is busy'] }, /libvirt is busy/],
    ['no power_state', { value: 'mem=0 mem_static_max=0 cputime=0' }, /no power_state/],
    ['a state qubesd does not have', { value: 'mem=0 power_state=Sleeping' }, /not a power state/],
    ['power_state twice', { value: 'power_state=Halted power_state=Running' }, /twice/],
    ['a figure that is not a number', { value: 'mem=lots power_state=Running' }, /mem is not a number/],
    ['two spaces', { value: 'mem=0  power_state=Running' }, /not KEY=VALUE/],
    ['a newline', { value: 'power_state=Running\n' }, /not KEY=VALUE/],
    ['an empty reply', { value: '' }, /not KEY=VALUE/],
    ['non-UTF-8', { raw: Buffer.from([0x30, 0, 0x70, 0xff, 0xfe]) }, /./],
  ])('isRunning refuses %s instead of reading it as "not running"', async (_case, answer, message) => {
    fakes.answerQubesd('admin.vm.CurrentState', answer);
    await expect(qubes.isRunning('work')).rejects.toThrow(message);
    await expect(qubes.vmExists('work')).rejects.toThrow(message);
  });

  it('passes over a figure qubesd may add later, if it is a number', async () => {
    fakes.answerQubesd('admin.vm.CurrentState', { value: 'mem=1 power_state=Running cpu_usage=3' });
    expect(await qubes.isRunning('work')).toBe(true);
  });

  it('reads the value of qubesd\'s property reply, empty for an unset qube property; any other reply is refused', async () => {
    expect(await qubes.getPref('work', 'netvm')).toBe('sys-firewall');
    fakes.answerQubesd('admin.vm.property.Get', { value: 'default=True type=vm ' });
    expect(await qubes.getPref('dm-device-disp0001', 'netvm')).toBe('');
    for (const bad of ['sys-firewall', 'default=False type=vm sys-firewall\n', 'default=Maybe type=vm x', 'default=False type=tuple x', 'default=False type=str a\0b']) {
      fakes.answerQubesd('admin.vm.property.Get', { value: bad });
      await expect(qubes.getPref('work', 'netvm')).rejects.toThrow(ParseError);
    }
  });

  it('reads a qube\'s uuid from qubesd; no such qube is undefined; anything but a uuid is refused', async () => {
    fakes.answerQubesd('admin.vm.property.Get+uuid', { value: 'default=False type=str 0b5e3c1a-6f0e-4a7b-9c55-0d7f3e2a1b90' });
    expect(await qubes.vmUuid('dm-device-disp00000001')).toBe('0b5e3c1a-6f0e-4a7b-9c55-0d7f3e2a1b90');
    expect(fakes.takeCalls()).toEqual(['qubesd [admin.vm.property.Get] [dm-device-disp00000001] [uuid]']);
    fakes.answerQubesd('admin.vm.property.Get+uuid', { exception: ['QubesVMNotFoundError', "No such domain: 'gone'"] });
    expect(await qubes.vmUuid('gone')).toBeUndefined();
    fakes.answerQubesd('admin.vm.property.Get+uuid', { value: 'default=False type=str sys-usb' });
    await expect(qubes.vmUuid('work')).rejects.toThrow(/not a uuid/);
    // qubesd answering nothing (an unexpected exception on its side) is a failure, never "no such qube".
    fakes.answerQubesd('admin.vm.property.Get+uuid', { drop: true });
    await expect(qubes.vmUuid('work')).rejects.toThrow(/closed the connection without a reply/);
  });

  it('reads a qube\'s class from admin.vm.List on that qube alone (the klass property is the client\'s, not qubesd\'s)', async () => {
    fakes.answerQubesd('admin.vm.List', { value: 'dm-device-disp00000001 class=DispVM state=Running\n' });
    expect(await qubes.vmClass('dm-device-disp00000001')).toBe('DispVM');
    fakes.answerQubesd('admin.vm.List', { exception: ['QubesVMNotFoundError', "No such domain: 'gone'"] });
    expect(await qubes.vmClass('gone')).toBeUndefined();
    expect(fakes.takeCalls()).toEqual(['qubesd [admin.vm.List] [dm-device-disp00000001]', 'qubesd [admin.vm.List] [gone]']);
    // A listing of another qube, or of more than the one asked, is not an answer about it.
    for (const other of ['work class=AppVM state=Halted\n', 'dm-device-disp00000001 class=DispVM state=Running\nwork class=AppVM state=Halted\n', '']) {
      fakes.answerQubesd('admin.vm.List', { value: other });
      await expect(qubes.vmClass('dm-device-disp00000001')).rejects.toThrow(/not dm-device-disp00000001 alone/);
    }
  });

  it('parses admin.vm.List strictly, R4.2\'s lines and R4.3\'s with a uuid', async () => {
    fakes.answerQubesd('admin.vm.List', { value: 'dom0 class=AdminVM state=Running\nwork class=AppVM state=Halted uuid=d46c9786-5318-4519-aead-ed64c26ada6b\ndm-device-disp0001 class=DispVM state=Running\n' });
    expect(await qubes.listVMs()).toEqual([
      { name: 'dom0', state: 'Running', vmClass: 'AdminVM' },
      { name: 'work', state: 'Halted', vmClass: 'AppVM', uuid: 'd46c9786-5318-4519-aead-ed64c26ada6b' },
      { name: 'dm-device-disp0001', state: 'Running', vmClass: 'DispVM' },
    ]);
    expect(await qubes.vmNameByUuid('d46c9786-5318-4519-aead-ed64c26ada6b')).toBe('work');
    // R4.2's lines carry no uuid: nothing is found by one.
    expect(await qubes.vmNameByUuid('00000000-0000-4000-8000-000000000000')).toBeUndefined();
    for (const bad of ['work class=AppVM\n', 'work class=AppVM state=Halted extra=1\n', 'bad/name class=AppVM state=Running\n', 'work class=AppVM state=Run-ning\n', 'work class=AppVM state=Halted uuid=nope\n']) {
      fakes.answerQubesd('admin.vm.List', { value: bad });
      await expect(qubes.listVMs()).rejects.toThrow(ParseError);
    }
  });

  it('reads a feature; one not set is undefined; qubesd\'s other exceptions fail with their type', async () => {
    fakes.answerQubesd('admin.vm.feature.Get', { value: '2' });
    expect(await qubes.getFeature('fedora-dvm', 'preload-dispvm-max')).toBe('2');
    fakes.answerQubesd('admin.vm.feature.Get', { exception: ['QubesFeatureNotFoundError', 'Feature not set for domain fedora-dvm: preload-dispvm-max'] });
    expect(await qubes.getFeature('fedora-dvm', 'preload-dispvm-max')).toBeUndefined();
    fakes.answerQubesd('admin.vm.feature.Get', { exception: ['QubesVMNotFoundError', "No such domain: 'fedora-dvm'"] });
    await expect(qubes.getFeature('fedora-dvm', 'preload-dispvm-max')).rejects.toThrow("admin.vm.feature.Get+preload-dispvm-max on fedora-dvm failed: QubesVMNotFoundError: No such domain: 'fedora-dvm'");
  });

  it('reports a failure with tool, exit code and sanitized, capped stderr', async () => {
    fakes.answer('qvm-start', { exit: 1, stderr: `\x1b[31mqvm-start: error: Start failed:\n\x07 ${'x'.repeat(1000)}` });
    const error = await qubes.startVM('work').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ToolError);
    const toolError = error as ToolError;
    expect(toolError.tool).toBe('qvm-start');
    expect(toolError.toolExitCode).toBe(1);
    expect(toolError.stderr).toMatch(/^\[31mqvm-start: error: Start failed: x+\.\.\.$/);
    expect(toolError.stderr.length).toBe(400);
    expect(toolError.message).toMatch(/^qvm-start work failed with exit code 1: /);
    expect(toolError.failure).toEqual({ kind: 'exit-status', exitCode: 1 });
  });

  it('turns a timeout into TimeoutError naming what timed out', async () => {
    fakes.answer('qvm-start', { sleepS: 5 });
    await expect(qubes.startVM('slow', { timeoutMs: 200 })).rejects.toThrow(TimeoutError);
    await expect(qubes.startVM('slow', { timeoutMs: 200 })).rejects.toThrow(/qvm-start slow did not finish within 1 s/);
    expect(toolFailureOf(await qubes.startVM('slow', { timeoutMs: 200 }).catch((e: unknown) => e))).toEqual({ kind: 'time-limit', limitMs: 200 });
  });

  it('refuses output above the cap', async () => {
    fakes.answer('qvm-run', { stdout: 'x'.repeat(100) });
    expect((await qubes.runCommand('vault', 'user', 'cat k', 100)).length).toBe(100);
    await expect(qubes.runCommand('vault', 'user', 'cat k', 99)).rejects.toThrow(OperationError);
    expect(toolFailureOf(await qubes.runCommand('vault', 'user', 'cat k', 99).catch((e: unknown) => e))).toEqual({ kind: 'output-cap', stream: 'stdout', limitBytes: 99 });
  });

  it.each<[string, () => Promise<UndoOutcome>, string, { exit: number; stderr: string }]>([
    // Each row: Qubes' words for "nothing left to undo" (sources cited at qubes.ts NOTHING_ATTACHED and isNoSuchDomain).
    ['R4.2 qubesd: not attached', () => qubes.detachBlock('work', 'dev', 'dm-0'), 'qvm-block', { exit: 1, stderr: 'device dm-0 of class block not attached to work\n' }],
    ['R4.3 qubesd: not attached', () => qubes.detachBlock('work', 'dev', 'dm-0'), 'qvm-block', { exit: 1, stderr: 'Error: block device dm-0 not attached to work\n' }],
    ['R4.3 client: port not exposed any more', () => qubes.detachBlock('work', 'dev', 'dm-0'), 'qvm-block', { exit: 1, stderr: 'qvm-block: error: dev:dm-0:* not found.\n' }],
    ['R4.3 client: not attached', () => qubes.detachBlock('work', 'dev', 'dm-0'), 'qvm-block', { exit: 1, stderr: 'qvm-block: error: dev:dm-0:* is not attached.\n' }],
    ['R4.2 client: backend gone', () => qubes.detachBlock('work', 'dev', 'dm-0'), 'qvm-block', { exit: 1, stderr: "qvm-block: error: no backend vm 'dev'\n" }],
    ['R4.3 client: backend gone', () => qubes.detachBlock('work', 'dev', 'dm-0'), 'qvm-block', { exit: 1, stderr: 'qvm-block: error: no such backend vm!\n' }],
    ['frontend gone', () => qubes.detachBlock('work', 'dev', 'dm-0'), 'qvm-block', { exit: 2, stderr: "usage: qvm-block ...\nqvm-block: error: no such domain: 'work'\n" }],
    ['kill: qube gone', () => qubes.killVM('work'), 'qvm-kill', { exit: 2, stderr: "qvm-kill: error: no such domain: 'work'\n" }],
    ['remove: qube gone', () => qubes.removeVM('work'), 'qvm-remove', { exit: 2, stderr: "qvm-remove: error: no such domain: 'work'\n" }],
  ])('an undo step Qubes finds already done is already-undone: %s', async (_case, call, tool, answer) => {
    fakes.answer(tool, answer);
    expect(await call()).toBe('already-undone');
    fakes.answer(tool, {});
    expect(await call()).toBe('done');
  });

  it.each<[string, () => Promise<UndoOutcome>, string, { exit: number; stderr: string }]>([
    ['detach: qubesd unreachable', () => qubes.detachBlock('work', 'dev', 'dm-0'), 'qvm-block', { exit: 1, stderr: 'qvm-block: error: Failed to connect to qubesd service\n' }],
    ['detach: "no such domain" with the wrong exit code', () => qubes.detachBlock('work', 'dev', 'dm-0'), 'qvm-block', { exit: 1, stderr: "no such domain: 'work'\n" }],
    ['kill: failed', () => qubes.killVM('work'), 'qvm-kill', { exit: 1, stderr: "qvm-kill: error: Failed to kill 'work': libxl error\n" }],
    ['remove: still running', () => qubes.removeVM('work'), 'qvm-remove', { exit: 1, stderr: "qvm-remove: error: Domain is not powered off: 'work'\n" }],
  ])('an undo step that failed otherwise throws: %s', async (_case, call, tool, answer) => {
    fakes.answer(tool, answer);
    await expect(call()).rejects.toThrow(ToolError);
  });

  it('tells a device offered only read-only and one not exposed apart on attach', async () => {
    fakes.answer('qvm-block', { exit: 1, stderr: 'This device can be attached only read-only\n' });
    await expect(qubes.attachBlock('dev', 'sys-usb', 'sda', { readOnly: false })).rejects.toThrow(ReadOnlyDeviceError);
    fakes.answer('qvm-block', { exit: 1, stderr: "qvm-block: error: backend vm 'sys-usb' doesn't expose device 'sda'\n" });
    await expect(qubes.attachBlock('dev', 'sys-usb', 'sda', { readOnly: false })).rejects.toThrow(DeviceNotExposedError);
  });

  it('names a listing above the cap and a flood of errors as output-cap failures', async () => {
    fakes.answer('qvm-ls', { stdout: 'x'.repeat(64) });
    const listing = await runTool('qvm-ls', [], { what: 'qvm-ls', timeoutMs: 10_000, maxStdoutBytes: 10 }).catch((e: unknown) => e);
    expect(listing).toBeInstanceOf(OperationError);
    expect(toolFailureOf(listing)).toEqual({ kind: 'output-cap', stream: 'stdout', limitBytes: 10 });
    fakes.answer('qvm-start', { exit: 1, stderr: 'e'.repeat(MAX_STDERR_BYTES + 10) });
    const flood = await qubes.startVM('work').catch((e: unknown) => e);
    expect(flood).toBeInstanceOf(ToolError);
    expect(toolFailureOf(flood)).toEqual({ kind: 'output-cap', stream: 'stderr', limitBytes: MAX_STDERR_BYTES });
  });

  it('stops a tool when the command is interrupted, and starts none afterwards', async () => {
    fakes.answer('qvm-start', { sleepS: 5 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new InterruptedError('interrupted')), 100);
    await expect(runInterruptible(controller.signal, () => qubes.startVM('work'))).rejects.toThrow(InterruptedError);
    fakes.takeCalls();
    await expect(runInterruptible(controller.signal, () => qubes.killVM('work'))).rejects.toThrow(InterruptedError);
    expect(fakes.takeCalls()).toEqual([]);
  });

  it('says when a tool is missing', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await expect(qubes.killVM('work')).rejects.toThrow(/qvm-kill was not found on PATH/);
    } finally {
      process.env.PATH = path;
    }
  });

  it('falls back to qubes-prefs default_dispvm for the template', async () => {
    const config = await loadConfig('/nonexistent/split-dm-crypt.conf');
    fakes.answerQubesd('admin.property.Get+default_dispvm', { value: 'default=False type=vm debian-12-dvm' });
    expect(await resolveDispVmSettings(qubes, config)).toEqual({ template: 'debian-12-dvm', label: 'red', attachOrder: 'concurrent' });
    fakes.answerQubesd('admin.property.Get+default_dispvm', { value: 'default=True type=vm ' });
    await expect(resolveDispVmSettings(qubes, config)).rejects.toThrow(/no DisposableVM template/);
  });
});

describe('runService', () => {
  it('runs the service as root without autostart, with live stdin/stdout', async () => {
    fakes.answer('qvm-run', { echoStdin: true, stderr: 'remote \x1b]0;title\x07 log', exit: 0 });
    const call = qubes.runService('dm-device-disp0001', 'splitdmcrypt.DeviceSendHeader', 'luks1');
    call.stdin.end('frame bytes');
    const chunks: Buffer[] = [];
    for await (const chunk of call.stdout) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('frame bytes');
    expect(await call.exited).toEqual({ exitCode: 0, stderr: 'remote ]0;title log' });
    expect(fakes.takeCalls()).toEqual(['qvm-run [--pass-io] [--no-autostart] [--no-gui] [-u] [root] [--service] [dm-device-disp0001] [splitdmcrypt.DeviceSendHeader+luks1]']);
  });

  it('reports the remote exit code', async () => {
    fakes.answer('qvm-run', { exit: 126 });
    const call = qubes.runService('vm', 'splitdmcrypt.DeviceOpen', '');
    call.stdin.end();
    call.stdout.resume();
    expect((await call.exited).exitCode).toBe(126);
    expect(fakes.takeCalls()).toEqual(['qvm-run [--pass-io] [--no-autostart] [--no-gui] [-u] [root] [--service] [vm] [splitdmcrypt.DeviceOpen+]']);
  });

  it('times out as a whole', async () => {
    fakes.answer('qvm-run', { sleepS: 5 });
    const call = qubes.runService('vm', 'splitdmcrypt.DeviceWipe', '', { timeoutMs: 200 });
    call.stdout.resume();
    await expect(call.exited).rejects.toThrow(/splitdmcrypt\.DeviceWipe\+ in vm did not finish within 1 s/);
  });
});

describe('the limits bound into an adapter', () => {
  /** A call's failure and how long it took to come. */
  async function timed(call: () => Promise<unknown>): Promise<{ error: unknown; ms: number }> {
    const started = Date.now();
    const error = await call().then(() => undefined, (e: unknown) => e);
    return { error, ms: Date.now() - started };
  }

  it.each([
    ['a hanging tool', () => fakes.answer('qvm-block', { sleepS: 5 }), (qubes: Qubes) => qubes.listBlocks('sys-usb')],
    ['a qubesd that never answers', () => fakes.answerQubesd('admin.vm.List', { hang: true }), (qubes: Qubes) => qubes.listVMs()],
  ])('two adapters in one process, called at the same time, each stop %s at its own TOOL_TIMEOUT_S', async (_case, arrange, call) => {
    arrange();
    const short = qubesAdapter({ toolMs: 300 });
    const long = qubesAdapter({ toolMs: 1500 });
    const [fromLong, fromShort] = await Promise.all([timed(() => call(long)), timed(() => call(short))]);
    expect(toolFailureOf(fromShort.error)).toEqual({ kind: 'time-limit', limitMs: 300 });
    expect(toolFailureOf(fromLong.error)).toEqual({ kind: 'time-limit', limitMs: 1500 });
    expect(fromShort.ms).toBeLessThan(1500);
    expect(fromLong.ms).toBeGreaterThanOrEqual(1500);
    // The short adapter made afterwards changed nothing in the long one, nor did the first in the second.
    expect([short.toolLimit('query'), long.toolLimit('query')]).toEqual([300, 1500]);
  });

  it('qvm-start and the hand-out of a disposable get START_TIMEOUT_S, not the tool limit', async () => {
    fakes.answer('qvm-start', { sleepS: 5 });
    const qubes = qubesAdapter({ startMs: 400, toolMs: 100 });
    expect(toolFailureOf((await timed(() => qubes.startVM('slow'))).error)).toEqual({ kind: 'time-limit', limitMs: 400 });
  });

  it('without limits each call keeps its own default; the caller\'s object changing later changes nothing', () => {
    const defaults = qubesAdapter({});
    expect([defaults.toolLimit('block'), defaults.toolLimit('query'), defaults.replyLimit(600_000)]).toEqual([TIMEOUTS.block, TIMEOUTS.query, 600_000]);
    const limits: { -readonly [K in keyof TimeLimits]: TimeLimits[K] } = { toolMs: 7_000, replyMs: 9_000 };
    const bound: Qubes = qubesAdapter(limits);
    limits.toolMs = 1;
    limits.replyMs = 1;
    expect([bound.toolLimit('block'), bound.replyLimit(600_000)]).toEqual([7_000, 9_000]);
  });

  it('a service call waits for a reply as long as the adapter\'s REPLY_TIMEOUT_S, not the call\'s own default', async () => {
    // Silent for 2 s, then gone: with the call's own 60 s the call would have ended without answering, not timed out.
    fakes.answer('qvm-run', { sleepS: 2 });
    const qubes = qubesAdapter({ replyMs: 300 });
    const { error } = await timed(() => callService(qubes, 'vm', 'splitdmcrypt.DevicePrepare', '', { peer: 'device VM vm', replyTimeoutMs: 60_000 }, (channel) => channel.receiveBytes('anything', 1)));
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as Error).message).toBe('splitdmcrypt.DevicePrepare in vm did not answer within 1 s');
  });

  it('a call opened ahead of its conversation: the reply limit runs only from the conversation on, and abandon after it does nothing', async () => {
    fakes.answer('qvm-run', { echoStdin: true });
    const call = new OpenedService(qubesAdapter({ replyMs: 300 }), 'vm', 'splitdmcrypt.DeviceOpen', '', { peer: 'device VM vm' });
    // Three times the reply limit before the conversation: no timeout, since dom0 was not waiting for the VM.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const echoed = await call.converse(async (channel) => {
      channel.sendBytes(Buffer.from('ping'));
      return channel.receiveBytes('echo', 4);
    });
    expect(echoed.toString()).toBe('ping');
    const { error, ms } = await timed(() => call.abandon());
    expect([error, ms < 1000]).toEqual([undefined, true]);
  });

  it('a call that ends later returns its reply, and its failing end shows in `ended`; one that does not end later fails itself', async () => {
    fakes.answer('qvm-run', { echoStdin: true, exit: 3 });
    const conversation = async (channel: TimedChannel) => {
      channel.sendBytes(Buffer.from('ping'));
      return (await channel.receiveBytes('echo', 4)).toString();
    };
    const later = new OpenedService(qubes, 'vm', 'splitdmcrypt.DeviceOpen', '', { peer: 'device VM vm' }).endLater();
    expect(await later.converse(conversation)).toBe('ping');
    await expect(later.ended).rejects.toThrow('splitdmcrypt.DeviceOpen in vm ended with exit code 3 after its reply');
    const now = new OpenedService(qubes, 'vm', 'splitdmcrypt.DeviceOpen', '', { peer: 'device VM vm' });
    await expect(now.converse(conversation)).rejects.toThrow('splitdmcrypt.DeviceOpen in vm ended with exit code 3 after its reply');
  });

  it('a call opened ahead and never conversed with: abandon ends it at once, and it takes no conversation afterwards', async () => {
    fakes.answer('qvm-run', { sleepS: 30 });
    const call = new OpenedService(qubes, 'vm', 'splitdmcrypt.DeviceOpen', '', { peer: 'device VM vm' });
    const { error, ms } = await timed(() => call.abandon());
    expect(error).toBeUndefined();
    expect(ms).toBeLessThan(10_000);
    await expect(call.converse(async () => 1)).rejects.toThrow('splitdmcrypt.DeviceOpen in vm: one conversation per call');
  });

  it('the wait for a mapping to be exposed lasts the adapter\'s qvm-block limit', async () => {
    fakes.answer('qvm-block', { exit: 1, stderr: "qvm-block: error: backend vm 'dev' doesn't expose device 'dm-0'\n" });
    const { error, ms } = await timed(() => attachMappingWhenExposed(qubesAdapter({ toolMs: 500 }), 'work', { deviceVm: 'dev', device: 'dm-0', name: 'split-dm-crypt-0' }, false));
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as Error).message).toMatch(/^dev never exposed the mapping dev:dm-0 \(split-dm-crypt-0\) to dom0 within 1 s/);
    expect(ms).toBeGreaterThanOrEqual(500);
    expect(ms).toBeLessThan(TIMEOUTS.block);
  });
});
