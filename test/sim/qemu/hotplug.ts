// Attaching a disk to a running QEMU guest as qvm-block does to a qube: QMP blockdev-add + device_add (virtio-blk-pci, the
// read-only flag honoured by QEMU and the guest kernel), then the guest names the new disk like Qubes' frontend-dev: the
// virtio disk whose serial is the frontend name gets /dev/FRONTEND as a symlink to its kernel node (/dev/xvds -> vdb).
// Detach removes the name, then device_del (waiting for the guest to release the device) and blockdev-del.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { guestExecSync } from './agent-client.ts';
import { guestRuntime } from './guest-vm.ts';
import { QmpSession } from './qmp.ts';
import { SimToolError } from '../state.ts';

const BUNDLE = fileURLToPath(import.meta.url);
const FRONTEND = /^(xvd|sd)[a-z]{1,3}$/;

/** Waits (10 s at most) for the virtio disk with serial $1 and names it /dev/$1; prints its kernel name. */
const NAME_DISK = `for i in $(seq 100); do
  for d in /sys/block/vd*; do
    if [ -r "$d/serial" ] && [ "$(cat "$d/serial")" = "$1" ] && [ -b "/dev/\${d##*/}" ]; then ln -sfn "\${d##*/}" "/dev/$1" && echo "\${d##*/}" && exit 0; fi
  done
  sleep 0.1
done
echo "no virtio disk with serial $1 appeared" >&2; exit 1`;

function session(dir: string, vm: string): Promise<QmpSession> {
  const runtime = guestRuntime(dir, vm);
  if (!runtime) throw new SimToolError(`qubes-sim: ${vm} has no running QEMU guest`);
  return QmpSession.open(runtime.qmp);
}

async function hotplugAttach(dir: string, vm: string, frontend: string, file: string, readOnly: boolean): Promise<void> {
  const qmp = await session(dir, vm);
  try {
    await qmp.execute('blockdev-add', { driver: 'raw', 'node-name': `sim-${frontend}`, 'read-only': readOnly, file: { driver: 'file', filename: file, 'read-only': readOnly } });
    await qmp.execute('device_add', { driver: 'virtio-blk-pci', id: `sim-${frontend}`, drive: `sim-${frontend}`, serial: frontend });
  } finally {
    qmp.close();
  }
  const named = guestExecSync(dir, vm, ['sh', '-c', NAME_DISK, 'name-disk', frontend]);
  if (named.status !== 0) throw new SimToolError(`qubes-sim: ${vm}: ${named.stderr.trim()}`);
}

async function hotplugDetach(dir: string, vm: string, frontend: string): Promise<void> {
  guestExecSync(dir, vm, ['rm', '-f', `/dev/${frontend}`]);
  const qmp = await session(dir, vm);
  try {
    await qmp.execute('device_del', { id: `sim-${frontend}` });
    await qmp.waitEvent('DEVICE_DELETED', { device: `sim-${frontend}` }, 30_000);
    await qmp.execute('blockdev-del', { 'node-name': `sim-${frontend}` });
  } finally {
    qmp.close();
  }
}

/** `hotplug DIR VM attach FRONTEND FILE ro|rw` or `hotplug DIR VM detach FRONTEND`. */
export async function hotplug([dir = '', vm = '', verb, frontend = '', file = '', mode]: readonly string[]): Promise<void> {
  if (!FRONTEND.test(frontend)) throw new SimToolError(`qubes-sim: invalid frontend name ${frontend}`, 64);
  if (verb === 'attach') return hotplugAttach(dir, vm, frontend, file, mode === 'ro');
  if (verb === 'detach') return hotplugDetach(dir, vm, frontend);
  throw new SimToolError('usage: qubes-sim hotplug DIR VM attach FRONTEND FILE ro|rw | detach FRONTEND', 64);
}

/** The same from synchronous code (qvm-block runs under the state lock). */
export function hotplugSync(args: readonly string[]): void {
  const result = spawnSync(process.execPath, [BUNDLE, 'hotplug', ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new SimToolError(result.stderr.trim() || `qubes-sim: hotplug ${args.join(' ')} failed`);
}
