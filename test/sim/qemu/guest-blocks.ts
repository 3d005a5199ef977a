// Block devices inside a QEMU guest as other qubes see them: the dm mappings its kernel exports (dm-N, described by their dm
// name, as Qubes' block backend publishes them), their bytes read and written by the guest's kernel through the agent, and
// the open reference blkback keeps on a device while it is attached to another qube.
import { SimToolError } from '../state.ts';
import { guestExecSync } from './agent-client.ts';

export interface GuestMapping {
  readonly minor: number;
  readonly name: string;
  readonly readOnly: boolean;
}

const DEVICE = /^\/dev\/(dm-[0-9]{1,6}|(xvd|sd|vd)[a-z]{1,3}|mapper\/[A-Za-z0-9_.+-]{1,127})$/;

function checked(device: string): string {
  if (!DEVICE.test(device)) throw new SimToolError(`qubes-sim: ${device} is not a guest block device the simulator reads`);
  return device;
}

function run(dir: string, vm: string, script: string, args: readonly string[], input?: Buffer): Buffer {
  const result = guestExecSync(dir, vm, ['sh', '-c', script, 'qubes-sim', ...args], input);
  if (result.status !== 0) throw new SimToolError(`qubes-sim: in ${vm}: ${result.stderr.trim() || `exit ${result.status}`}`);
  return result.stdout;
}

/** The dm devices of the guest's kernel: `dm-N RO NAME` per line from sysfs. */
export function guestMappings(dir: string, vm: string): GuestMapping[] {
  const script = 'for d in /sys/block/dm-*; do [ -r "$d/dm/name" ] && echo "${d##*/} $(cat "$d/ro") $(cat "$d/dm/name")"; done; true';
  return run(dir, vm, script, [])
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [kernelName = '', ro, name = ''] = line.split(' ');
      return { minor: Number(kernelName.slice(3)), name, readOnly: ro === '1' };
    });
}

/** Size in bytes and the kernel's read-only flag of a device in the guest. */
export function guestDeviceFacts(dir: string, vm: string, device: string): { sizeBytes: number; readOnly: boolean } {
  const [size = '', ro = ''] = run(dir, vm, 'blockdev --getsize64 --getro "$1"', [checked(device)]).toString('utf8').split('\n');
  return { sizeBytes: Number(size), readOnly: ro.trim() === '1' };
}

/** `length` bytes at `offset` of the device, as the guest's kernel returns them (real dm-crypt decrypting). */
export function guestRead(dir: string, vm: string, device: string, offset: number, length: number): Buffer {
  return run(dir, vm, 'exec dd if="$1" bs=65536 iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none', [checked(device), String(offset), String(length)]);
}

/** Writes `data` at `offset` of the device through the guest's kernel; a read-only device fails there (EPERM/EROFS). */
export function guestWrite(dir: string, vm: string, device: string, offset: number, data: Buffer): void {
  run(dir, vm, 'exec dd of="$1" bs=65536 oflag=seek_bytes seek="$2" conv=fsync status=none', [checked(device), String(offset)], data);
}

/** blkback's reference while the device is attached elsewhere: a process in the guest holding it open until released. */
export function guestHoldOpen(dir: string, vm: string, device: string): void {
  const script = `mkdir -p /run/qubes-sim-blkback; pidfile=/run/qubes-sim-blkback/\${1##*/}
setsid sh -c 'exec 3<"$1"; echo $$ > "$2"; exec sleep 2147483647' holder "$1" "$pidfile" </dev/null >/dev/null 2>&1 &
for i in $(seq 200); do [ -s "$pidfile" ] && exit 0; sleep 0.05; done; echo "cannot hold $1 open" >&2; exit 1`;
  run(dir, vm, script, [checked(device)]);
}

export function guestRelease(dir: string, vm: string, device: string): void {
  const script = 'pidfile=/run/qubes-sim-blkback/${1##*/}; [ -s "$pidfile" ] && kill "$(cat "$pidfile")"; rm -f "$pidfile"; true';
  run(dir, vm, script, [checked(device)]);
}
