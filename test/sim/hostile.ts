// Hostile services for the simulator: a scripted service installed in place of one of ours, to play a compromised VM.
//
//   qubes-sim hostile DIR --service splitdmcrypt.HeaderUnlock --script PATH.mjs [--vm-prefix dm-header-] [--nth N] [--args JSON]
//   qubes-sim hostile DIR --clear
//
// How: a shell wrapper goes to the DVM template's /usr/local/etc/qubes-rpc/<service>. Every DisposableVM sees it (a simulated
// DisposableVM's /etc and /usr are its template's) and qrexec looks there before /etc/qubes-rpc, where `make install-vm` put ours.
// For each call the wrapper asks `qubes-sim hostile-pick` (below) which rule, if any, takes this VM and call: a rule matches its
// service in a VM whose name starts with --vm-prefix (any VM without one) and, with --nth N, only the Nth such call (counted per
// rule under a lock, as VMs run concurrently). A picked call runs `node RULE.mjs ARGUMENT` (the script is copied into DIR/hostile),
// otherwise the wrapper execs the real service. The script's environment adds QUBES_SIM_HOSTILE_ARGS (a file holding --args),
// QUBES_SIM_HOSTILE_RULE and QUBES_SIM_REAL_SERVICE (to wrap the real one); QUBES_SIM_DIR and QUBES_SIM_VM are there as in any
// VM process. Scripts append what they observe to DIR/hostile/observed.jsonl; every pick is logged there too ({event: 'pick'}).
// Process qubes only: a QEMU guest cannot run the wrapper's `node` bundle paths of the host.
import { appendFileSync, chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { withLock } from './file-lock.ts';
import { DVM_TEMPLATE, shellQuote } from './world.ts';
import { SimToolError, statePath, vmRoot } from './state.ts';

export interface HostileRule {
  readonly id: number;
  readonly service: string;
  readonly vmPrefix: string;
  readonly nth?: number;
}

const USAGE = 'usage: qubes-sim hostile DIR --service NAME --script PATH.mjs [--vm-prefix PREFIX] [--nth N] [--args JSON] | --clear';
const SERVICE = /^splitdmcrypt\.[A-Za-z]{1,40}$/;

export const hostileDir = (dir: string): string => join(dir, 'hostile');
export const observedPath = (dir: string): string => join(hostileDir(dir), 'observed.jsonl');
const rulesPath = (dir: string): string => join(hostileDir(dir), 'rules.json');
const countersPath = (dir: string): string => join(hostileDir(dir), 'counters.json');
const wrapperDir = (dir: string): string => join(vmRoot(dir, DVM_TEMPLATE), 'usr/local/etc/qubes-rpc');
const locked = <T>(dir: string, work: () => T): T => withLock(join(hostileDir(dir), '.lock'), 'hostile', work);

const readJson = <T>(path: string, empty: T): T => (existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : empty);

/** Atomic replace: a wrapper killed mid-write (dom0 kills whole VMs) must not leave half a file. */
function writeJson(path: string, value: unknown): void {
  writeFileSync(`${path}.${process.pid}`, JSON.stringify(value));
  renameSync(`${path}.${process.pid}`, path);
}

/** The wrapper: asks hostile-pick, then runs the rule's script or execs the real service (SVC+ARG first, as qrexec does). */
function wrapper(dir: string, bundle: string, service: string): string {
  const hostile = hostileDir(dir);
  return [
    '#!/bin/sh',
    '# Installed by `qubes-sim hostile` (test/sim/hostile.ts): a scripted hostile service for some calls, the real one otherwise.',
    `real="$SPLIT_DM_CRYPT_SYSROOT/etc/qubes-rpc/${service}"`,
    '[ -n "$1" ] && [ -e "$real+$1" ] && real="$real+$1"',
    `pick=$(node ${shellQuote(bundle)} hostile-pick ${shellQuote(dir)} ${service} "$1") || exit 125`,
    '[ "$pick" = real ] && exec "$real" "$@"',
    `QUBES_SIM_REAL_SERVICE="$real" QUBES_SIM_HOSTILE_RULE="$pick" QUBES_SIM_HOSTILE_ARGS=${shellQuote(hostile)}/rule-"$pick".json \\`,
    `  exec node ${shellQuote(hostile)}/rule-"$pick".mjs "$@"`,
    '',
  ].join('\n');
}

function option(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** `hostile DIR ...`: adds a rule (and the service's wrapper), or removes every rule, wrapper and observation. */
export function hostileCommand(dir: string, repo: string, args: readonly string[]): void {
  if (!existsSync(statePath(dir))) throw new SimToolError(`qubes-sim: ${dir} is not a simulator directory`);
  mkdirSync(hostileDir(dir), { recursive: true });
  if (args.length === 1 && args[0] === '--clear') {
    locked(dir, () => {
      for (const rule of readJson<HostileRule[]>(rulesPath(dir), [])) rmSync(join(wrapperDir(dir), rule.service), { force: true });
      for (const path of [rulesPath(dir), countersPath(dir), observedPath(dir)]) rmSync(path, { force: true });
    });
    return;
  }
  const service = option(args, '--service');
  const script = option(args, '--script');
  const vmPrefix = option(args, '--vm-prefix') ?? '';
  const nth = option(args, '--nth');
  const rawArgs = option(args, '--args') ?? '{}';
  if (!service || !SERVICE.test(service) || !script || !existsSync(script) || !/^[A-Za-z0-9_.-]{0,31}$/.test(vmPrefix) || (nth !== undefined && !/^[1-9][0-9]{0,3}$/.test(nth))) {
    throw new SimToolError(USAGE, 64);
  }
  try {
    JSON.parse(rawArgs);
  } catch {
    throw new SimToolError(`qubes-sim: --args is not JSON: ${rawArgs}`, 64);
  }
  locked(dir, () => {
    const rules = readJson<HostileRule[]>(rulesPath(dir), []);
    const rule: HostileRule = { id: rules.length + 1, service, vmPrefix, ...(nth ? { nth: Number(nth) } : {}) };
    copyFileSync(resolve(script), join(hostileDir(dir), `rule-${rule.id}.mjs`));
    writeFileSync(join(hostileDir(dir), `rule-${rule.id}.json`), rawArgs);
    writeJson(rulesPath(dir), [...rules, rule]);
    mkdirSync(wrapperDir(dir), { recursive: true });
    writeFileSync(join(wrapperDir(dir), service), wrapper(dir, join(repo, 'dist', 'qubes-sim.mjs'), service));
    chmodSync(join(wrapperDir(dir), service), 0o755);
  });
}

/** `hostile-pick DIR SERVICE [ARGUMENT]` (run by the wrapper in a VM): prints the rule that takes this call, or `real`. */
export function hostilePick(dir: string, [service = '', argument = '']: readonly string[]): string {
  const vm = process.env.QUBES_SIM_VM ?? '';
  const picked = locked(dir, () => {
    const counters = readJson<Record<string, number>>(countersPath(dir), {});
    let chosen: HostileRule | undefined;
    for (const rule of readJson<HostileRule[]>(rulesPath(dir), [])) {
      if (rule.service !== service || !vm.startsWith(rule.vmPrefix)) continue;
      const count = (counters[rule.id] ?? 0) + 1;
      counters[rule.id] = count;
      if (!chosen && (rule.nth === undefined || rule.nth === count)) chosen = rule;
    }
    writeJson(countersPath(dir), counters);
    return chosen;
  });
  appendFileSync(observedPath(dir), `${JSON.stringify({ event: 'pick', vm, service, argument, rule: picked?.id ?? 'real' })}\n`);
  return `${picked?.id ?? 'real'}\n`;
}
