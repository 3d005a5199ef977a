// qubes-sim: a simulated Qubes dom0 for tests and the demo. `qubes-sim COMMAND DIR ...` manages and inspects the world;
// `tool NAME` and `vmtool NAME` are the fake dom0 and in-qube tools, reached through the small wrappers in DIR/bin and DIR/vm-bin.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { plugLater } from './attachments.ts';
import { beforeSimCall, faultCommand } from './faults.ts';
import { hostileCommand, hostilePick } from './hostile.ts';
import { environment, execInVm, listAttachments, listMappings, listQubes, listRunning, readBlock, transcript, violations, writeBlock } from './inspect.ts';
import { guestAgent } from './qemu/guest-agent.ts';
import { superviseGuest } from './qemu/guest-vm.ts';
import { hotplug } from './qemu/hotplug.ts';
import { qvmRun } from './qrexec.ts';
import { serveQubesd } from './qubesd.ts';
import { emitCommand } from './qubesd-events.ts';
import { qvmBlock } from './qvm-block.ts';
import { qvmFeatures, qvmTags } from './qvm-features.ts';
import { preloadFill } from './preload.ts';
import { qvmCreate, qvmKill, qvmRemove, qvmStart, startQubeWorker } from './qvm-lifecycle.ts';
import { qubesPrefs, qvmCheck, qvmLs, qvmPrefs } from './qvm-queries.ts';
import { removeBlock } from './remove-block.ts';
import { endOnSignals } from './signals.ts';
import { readState, SimToolError } from './state.ts';
import { vmTool } from './vm-tools.ts';
import { addBlock, addVm, init, setSetting } from './world.ts';

/** The bundle is dist/qubes-sim.mjs: the repository is one level up. */
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const USAGE = `usage: qubes-sim init|add-vm|add-block|remove-block|qubesd|qubesd-emit|env|read-block|write-block|ls|qubes|attachments|mappings|transcript|violations|set|exec|fault|hostile DIR ...`;

type Output = string | Buffer | number | void;

async function dom0Tool(name: string, args: readonly string[]): Promise<Output> {
  const dir = process.env.QUBES_SIM_DIR;
  if (!dir) throw new SimToolError(`${name}: QUBES_SIM_DIR is not set`, 1);
  switch (name) {
    case 'qvm-create': return qvmCreate(dir, args);
    case 'qvm-start': return qvmStart(dir, args);
    case 'qvm-kill': return qvmKill(dir, args);
    case 'qvm-remove': return qvmRemove(dir, args);
    case 'qvm-check': return qvmCheck(dir, args);
    case 'qvm-prefs': return qvmPrefs(dir, args);
    case 'qubes-prefs': return qubesPrefs(dir, args);
    case 'qvm-ls': return qvmLs(dir, args);
    case 'qvm-block': return qvmBlock(dir, args);
    case 'qvm-run': return qvmRun(dir, args);
    case 'qvm-features': return qvmFeatures(dir, args);
    case 'qvm-tags': return qvmTags(dir, args);
    default: throw new SimToolError(`qubes-sim: unknown tool ${name}`, 127);
  }
}

function worldCommand(command: string, dir: string, rest: readonly string[]): Output | Promise<Output> {
  switch (command) {
    case 'init': return init(dir, REPO, rest);
    case 'add-vm': return addVm(dir, rest);
    case 'add-block': return addBlock(dir, rest);
    case 'remove-block': return removeBlock(dir, rest);
    // The Admin API event stream (qubesd.ts, qubesd-events.ts).
    case 'qubesd': return serveQubesd(dir, rest);
    case 'qubesd-emit': return emitCommand(dir, rest);
    case 'env': return environment(dir);
    case 'read-block': return readBlock(dir, rest);
    case 'write-block': return writeBlock(dir, rest);
    case 'ls': return listRunning(dir);
    case 'qubes': return listQubes(dir);
    case 'attachments': return listAttachments(dir);
    case 'mappings': return listMappings(dir);
    case 'transcript': return transcript(dir);
    case 'violations': return violations(dir);
    case 'set': return setSetting(dir, rest);
    case 'exec': return execInVm(dir, rest);
    // Internal: the QEMU tier's supervisor and hot-plug helper (qemu/).
    case 'qemu-supervise': return superviseGuest([dir, ...rest], readState(dir).settings);
    case 'hotplug': return hotplug([dir, ...rest]);
    // Internal: a disk's delayed appearance in its frontend (attachments.ts).
    case 'plug-later': return plugLater([dir, ...rest]);
    // Internal: qubesd's side of CreateDisposable and its pool refills (preload.ts).
    case 'preload-fill': return preloadFill([dir, ...rest]);
    // Internal: qubesd's side of a qube's start, which outlives a killed qvm-start (qvm-lifecycle.ts).
    case 'start-qube': return startQubeWorker([dir, ...rest]);
    case 'fault': return faultCommand(dir, rest);
    case 'hostile': return hostileCommand(dir, REPO, rest);
    default: throw new SimToolError(USAGE, 64);
  }
}

async function main(argv: readonly string[]): Promise<Output> {
  const [command = '', first, ...rest] = argv;
  // Runs inside a QEMU guest, started by the guest's init (qemu/guest-image.ts).
  if (command === 'guest-agent') return guestAgent([first ?? '', ...rest]);
  // Run by a hostile service's wrapper inside a qube (hostile.ts).
  if (command === 'hostile-pick') return hostilePick(resolve(first ?? ''), rest);
  await beforeSimCall(command, first ?? '', rest);
  if (command === 'tool') return dom0Tool(first ?? '', rest);
  if (command === 'vmtool') return vmTool(first ?? '', rest);
  if (!first) throw new SimToolError(USAGE, 64);
  return worldCommand(command, resolve(first), rest);
}

endOnSignals();

// A reader that stops early (`read-block ... | head -c 512`) is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

main(process.argv.slice(2)).then(
  (output) => {
    if (typeof output === 'number') {
      process.exitCode = output;
      return;
    }
    if (output !== undefined && output.length > 0) process.stdout.write(output);
    process.exitCode = 0;
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = error instanceof SimToolError ? error.exitCode : 1;
  },
).finally(() => {
  // qvm-run leaves stdin listeners behind once the call has ended: end the process here, after stdout is flushed.
  process.stdout.write('', () => process.exit(process.exitCode ?? 0));
});
