// Failure injection and call recording for the simulator. Every fake dom0 tool, VM tool and qrexec service call is recorded in
// DIR/calls.jsonl (its name, which call of that name it is, argv and environment), and DIR/faults.json can make the Nth call of
// one name fail (exit 1 and a line on stderr), hang (never answer; dom0's time limit must end it) or answer garbage (every byte
// it writes to stdout replaced by random bytes, after a random prefix). The simulator calls in here from two hook lines only.
import { randomBytes, randomInt } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { withLock } from './file-lock.ts';
import { join } from 'node:path';
import { SimToolError } from './state.ts';

export type FaultMode = 'fail' | 'hang' | 'garbage';

/**
 * `qvm-start` (a dom0 tool), `vmtool:dmsetup` (a tool inside a qube), `service:splitdmcrypt.DeviceOpen`, `qubesd:admin.vm.List`
 * (an Admin API call on qubesd's socket), or `*` for any call.
 */
export interface Fault {
  readonly target: string;
  /** 1-based: the Nth call of `target` (of any name for `*`). */
  readonly nth: number;
  readonly mode: FaultMode;
}

export interface CallRecord {
  readonly key: string;
  /** 1-based index among calls of the same key. */
  readonly index: number;
  /** 1-based index among all calls. */
  readonly seq: number;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly vm?: string;
  readonly fault?: FaultMode;
}

const MODES: readonly FaultMode[] = ['fail', 'hang', 'garbage'];
export const faultsPath = (dir: string): string => join(dir, 'faults.json');
export const callsPath = (dir: string): string => join(dir, 'calls.jsonl');
const countersPath = (dir: string): string => join(dir, 'calls-counters.json');

/** Runs `work` under the lock DIR/.calls-lock: concurrent fake tools get distinct call numbers. */
const locked = <T>(dir: string, work: () => T): T => withLock(join(dir, '.calls-lock'), 'calls', work);

function readFaults(dir: string): Fault[] {
  if (!existsSync(faultsPath(dir))) return [];
  return (JSON.parse(readFileSync(faultsPath(dir), 'utf8')) as { faults: Fault[] }).faults;
}

/** Numbers the call, records it and returns the fault planned for it, if any. */
function record(dir: string, key: string, argv: readonly string[], env: NodeJS.ProcessEnv, vm: string | undefined): FaultMode | undefined {
  return locked(dir, () => {
    const counters: Record<string, number> = existsSync(countersPath(dir)) ? JSON.parse(readFileSync(countersPath(dir), 'utf8')) : {};
    const index = (counters[key] ?? 0) + 1;
    const seq = (counters['*'] ?? 0) + 1;
    counters[key] = index;
    counters['*'] = seq;
    // Atomic replace: a tool killed mid-write (dom0's timeouts kill whole process groups) must not leave half a file.
    writeFileSync(`${countersPath(dir)}.${process.pid}`, JSON.stringify(counters));
    renameSync(`${countersPath(dir)}.${process.pid}`, countersPath(dir));
    const fault = readFaults(dir).find((f) => (f.target === key && f.nth === index) || (f.target === '*' && f.nth === seq))?.mode;
    const cleanEnv = Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
    const line: CallRecord = { key, index, seq, argv: [...argv], env: cleanEnv, ...(vm ? { vm } : {}), ...(fault ? { fault } : {}) };
    appendFileSync(callsPath(dir), `${JSON.stringify(line)}\n`);
    return fault;
  });
}

/** Never settles, and keeps the process alive: a tool that hangs. */
function hangForever(): Promise<never> {
  setInterval(() => undefined, 60_000);
  return new Promise<never>(() => undefined);
}

/** From now on every byte this process writes to stdout is random; a random prefix comes first. */
function garbleStdout(): void {
  const original = process.stdout.write.bind(process.stdout) as (chunk: Uint8Array, ...rest: unknown[]) => boolean;
  original(randomBytes(1 + randomInt(256)));
  const garbled = (chunk: string | Uint8Array, ...rest: unknown[]): boolean => original(randomBytes(typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length), ...rest);
  process.stdout.write = garbled as typeof process.stdout.write;
}

/** Hook for `qubes-sim tool|vmtool NAME ...`: records the call; fails, hangs or garbles it when a fault says so. */
export async function beforeSimCall(kind: string, name: string, argv: readonly string[]): Promise<void> {
  const dir = process.env.QUBES_SIM_DIR;
  if (!dir || (kind !== 'tool' && kind !== 'vmtool')) return;
  const key = kind === 'tool' ? name : `vmtool:${name}`;
  const mode = record(dir, key, argv, process.env, process.env.QUBES_SIM_VM);
  if (mode === 'fail') throw new SimToolError(`${name}: error: injected failure (qubes-sim fault)`, 1);
  if (mode === 'hang') await hangForever();
  if (mode === 'garbage') garbleStdout();
}

/**
 * Hook for an Admin API call on the simulated qubesd's socket (`qubesd:admin.vm.property.Get`): records it as its destination,
 * its argument if any and `payload:PAYLOAD` if any; returns its fault, if any.
 */
export function beforeQubesdCall(dir: string, method: string, dest: string, arg: string, payload = ''): FaultMode | undefined {
  return record(dir, `qubesd:${method}`, [dest, ...(arg ? [arg] : []), ...(payload ? [`payload:${payload}`] : [])], {}, undefined);
}

/** Hook where qvm-run starts a service: records it; returns an exit code to end the call with instead of running the service. */
export async function beforeService(dir: string, vm: string, service: string, argument: string, env: NodeJS.ProcessEnv): Promise<number | undefined> {
  const mode = record(dir, `service:${service}`, argument ? [argument] : [], env, vm);
  if (mode === 'fail') {
    process.stderr.write(`${service}: injected failure (qubes-sim fault)\n`);
    return 1;
  }
  if (mode === 'hang') await hangForever();
  if (mode === 'garbage') garbleStdout();
  return undefined;
}

/** Every call recorded so far, in order. */
export function readCalls(dir: string): CallRecord[] {
  if (!existsSync(callsPath(dir))) return [];
  return readFileSync(callsPath(dir), 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as CallRecord);
}

/**
 * `fault DIR --target T --nth N --mode fail|hang|garbage` adds a fault (`--tool` is an alias of `--target`);
 * `fault DIR --clear` removes all faults and the call records, and restarts the numbering.
 */
export function faultCommand(dir: string, args: readonly string[]): void {
  const usage = 'usage: qubes-sim fault DIR --target NAME|service:NAME|vmtool:NAME|qubesd:METHOD|* --nth N --mode fail|hang|garbage | --clear';
  if (!existsSync(join(dir, 'state.json'))) throw new SimToolError(`qubes-sim: ${dir} is not a simulator directory`);
  if (args.length === 1 && args[0] === '--clear') {
    locked(dir, () => {
      writeFileSync(faultsPath(dir), JSON.stringify({ faults: [] }));
      writeFileSync(countersPath(dir), '{}');
      writeFileSync(callsPath(dir), '');
    });
    return;
  }
  const value = (name: string): string | undefined => {
    const i = args.findIndex((a) => a === name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const target = value('--target') ?? value('--tool');
  const nth = Number(value('--nth'));
  const mode = value('--mode') as FaultMode | undefined;
  if (!target || !/^(\*|[a-z-]+|(service|vmtool|qubesd):[A-Za-z0-9_.-]+)$/.test(target) || !Number.isInteger(nth) || nth < 1 || !mode || !MODES.includes(mode)) {
    throw new SimToolError(usage, 64);
  }
  locked(dir, () => writeFileSync(faultsPath(dir), JSON.stringify({ faults: [...readFaults(dir), { target, nth, mode }] })));
}
