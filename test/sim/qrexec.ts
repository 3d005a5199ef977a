// Fake qvm-run: services looked up in the VM's tree in qrexec's order, run with qrexec's environment; every byte crossing dom0's
// pipes is appended to the transcript. Exit code = the service's; 127 when the service does not exist.
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { readState, SimToolError, vmRoot } from './state.ts';

/** REFERENCE section 3: SVC+ARG before SVC, /usr/local before /etc. */
function findService(root: string, name: string, argument: string): string | undefined {
  const candidates = [
    ...(argument ? [`usr/local/etc/qubes-rpc/${name}+${argument}`, `etc/qubes-rpc/${name}+${argument}`] : []),
    `usr/local/etc/qubes-rpc/${name}`,
    `etc/qubes-rpc/${name}`,
  ];
  return candidates.map((c) => join(root, c)).find((path) => existsSync(path));
}

export function vmEnvironment(dir: string, vm: string): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${join(dir, 'vm-bin')}:${process.env.PATH ?? ''}`, QUBES_SIM_DIR: dir, QUBES_SIM_VM: vm, SPLIT_DM_CRYPT_SYSROOT: vmRoot(dir, vm), QUBES_VM_NAME: vm };
}

/** Runs the call with stdio relayed and recorded; resolves with the exit code. */
function relay(dir: string, label: string, command: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<number> {
  const transcript = join(dir, 'transcript.bin');
  appendFileSync(transcript, `\n--- qvm-run ${label}\n`);
  const child = spawn(command, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const stopGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      /* already gone */
    }
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      stopGroup('SIGKILL');
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
  process.stdin.on('data', (chunk: Buffer) => {
    appendFileSync(transcript, chunk);
    child.stdin.write(chunk);
  });
  process.stdin.on('end', () => child.stdin.end());
  child.stdin.on('error', () => undefined);
  child.stdout.on('data', (chunk: Buffer) => {
    appendFileSync(transcript, chunk);
    process.stdout.write(chunk);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    appendFileSync(transcript, chunk);
    process.stderr.write(chunk);
  });
  return new Promise((resolve) => {
    // Like qrexec, the call ends when the service has exited and closed its output, even if the caller still holds stdin open.
    child.on('close', (code, signal) => {
      const exitCode = code ?? 128 + (signal === 'SIGKILL' ? 9 : 15);
      process.stdin.destroy();
      process.stdout.write('', () => process.exit(exitCode));
      resolve(exitCode);
    });
  });
}

export async function qvmRun(dir: string, args: readonly string[]): Promise<number> {
  const rest = [...args];
  let service = false;
  let autostart = true;
  let user = 'user';
  const positionals: string[] = [];
  while (rest.length > 0) {
    const arg = rest.shift()!;
    if (arg === '--pass-io' || arg === '-p') continue;
    if (arg === '--service') service = true;
    else if (arg === '--no-autostart') autostart = false;
    else if (arg === '-u' || arg === '--user') user = rest.shift() ?? '';
    else positionals.push(arg);
  }
  const [vmName, target] = positionals;
  const vm = vmName ? readState(dir).vms[vmName] : undefined;
  if (!vm || !target) throw new SimToolError(`qvm-run: error: no such domain: '${vmName ?? ''}'`, 2);
  if (!vm.running) {
    if (!autostart) throw new SimToolError(`qvm-run: error: Domain '${vm.name}' is not running`, 1);
    throw new SimToolError('qvm-run: error: autostart is not modelled by the simulator', 1);
  }
  const root = vmRoot(dir, vm.name);
  const env = vmEnvironment(dir, vm.name);
  if (!service) return relay(dir, `${vm.name} (${user}) ${target}`, 'sh', ['-c', target], env, join(root, 'home/user'));
  const plus = target.indexOf('+');
  const [name, argument] = plus < 0 ? [target, ''] : [target.slice(0, plus), target.slice(plus + 1)];
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || !/^[A-Za-z0-9_.+-]*$/.test(argument)) throw new SimToolError('qvm-run: error: invalid service name', 2);
  const file = findService(root, name, argument);
  if (!file) {
    appendFileSync(join(dir, 'transcript.bin'), `\n--- qvm-run ${vm.name} ${target}: service not found\n`);
    return 127;
  }
  Object.assign(env, { QREXEC_REMOTE_DOMAIN: 'dom0', QREXEC_SERVICE_ARGUMENT: argument, QREXEC_SERVICE_FULL_NAME: target });
  return relay(dir, `${vm.name} ${target}`, file, argument ? [argument] : [], env, join(root, 'home/user'));
}
