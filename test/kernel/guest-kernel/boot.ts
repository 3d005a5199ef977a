// Boots the guest kernel under QEMU's software emulation and collects the `smoke: KEY VALUE` lines of its serial console.
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MARKER } from './guest-init.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
/** A first build from scratch takes about 25 minutes on two cores; a cached one prints its path at once. */
export const BUILD_TIMEOUT_MS = 90 * 60_000;

/** Installs QEMU if missing and builds (or finds cached) the guest kernel; the last line of build.sh's stdout is the bzImage's path. */
export function buildGuestKernel(): string {
  execFileSync(join(HERE, 'ensure-qemu.sh'), { stdio: ['ignore', 'inherit', 'inherit'] });
  const out = execFileSync(join(HERE, 'build.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const path = out.trim().split('\n').at(-1) ?? '';
  console.log(`guest kernel: ${path}`);
  return path;
}

export interface BootOptions {
  readonly kernel: string;
  readonly initrd: string;
  /** Appended to `console=ttyS0 quiet panic=-1`. */
  readonly append?: string;
  /** Raw images attached at boot, in order: vda, vdb... */
  readonly disks: readonly string[];
  readonly qmpSocket: string;
  /** Called once per marker as it arrives; the guest waits while it runs (e.g. for a hot-plug). */
  readonly onMarker?: (key: string, value: string) => Promise<void> | void;
  readonly timeoutMs: number;
}

export interface BootResult {
  readonly markers: ReadonlyMap<string, string>;
  readonly console: string;
  readonly seconds: number;
}

function qemuArguments(options: BootOptions): string[] {
  const append = `console=ttyS0 quiet panic=-1 ${options.append ?? ''}`.trim();
  return [
    ['-accel', 'tcg', '-m', '512', '-nographic', '-no-reboot'],
    ['-kernel', options.kernel, '-initrd', options.initrd, '-append', append],
    options.disks.flatMap((disk) => ['-drive', `file=${disk},format=raw,if=virtio`]),
    // The host's root, read-only, for the guest's cryptsetup.
    ['-fsdev', 'local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap'],
    ['-device', 'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot'],
    ['-qmp', `unix:${options.qmpSocket},server=on,wait=off`],
  ].flat();
}

/** Runs the guest until it powers off; rejects on a non-zero exit, a failing marker handler, or after timeoutMs. */
export function bootGuest(options: BootOptions): Promise<BootResult> {
  const started = Date.now();
  const markers = new Map<string, string>();
  let output = '';
  let pending = '';
  let failure: Error | undefined;
  const qemu = spawn('qemu-system-x86_64', qemuArguments(options), { stdio: ['pipe', 'pipe', 'pipe'] });
  const timer = setTimeout(() => {
    failure ??= new Error(`the guest did not power off within ${options.timeoutMs} ms`);
    qemu.kill('SIGKILL');
  }, options.timeoutMs);
  const onLine = (line: string): void => {
    console.log(`guest: ${line}`);
    // The first marker shares its line with the firmware's last output (SeaBIOS ends without a newline).
    const at = line.indexOf(MARKER);
    if (at < 0) return;
    const [key = '', ...rest] = line.slice(at + MARKER.length).split(' ');
    markers.set(key, rest.join(' '));
    Promise.resolve(options.onMarker?.(key, rest.join(' '))).catch((error: unknown) => {
      failure ??= error instanceof Error ? error : new Error(String(error));
      qemu.kill('SIGKILL');
    });
  };
  const onData = (chunk: Buffer): void => {
    const text = chunk.toString('utf8').replace(/\r/g, '');
    output += text;
    pending += text;
    let end: number;
    while ((end = pending.indexOf('\n')) >= 0) {
      onLine(pending.slice(0, end));
      pending = pending.slice(end + 1);
    }
  };
  qemu.stdout.on('data', onData);
  qemu.stderr.on('data', onData);
  return new Promise((resolve, reject) => {
    qemu.on('error', reject);
    qemu.on('close', (code, signal) => {
      clearTimeout(timer);
      if (!failure && code !== 0) failure = new Error(`qemu exited with ${code ?? signal}`);
      if (failure) reject(new Error(`${failure.message}\n--- console ---\n${output}`, { cause: failure }));
      else resolve({ markers, console: output, seconds: (Date.now() - started) / 1000 });
    });
  });
}
