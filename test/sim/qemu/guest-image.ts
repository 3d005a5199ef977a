// The QEMU guest's boot files: a kernel image and a busybox initramfs holding the kernel's modules (when it has any) and two
// small init stages. Stage 1 loads the modules, mounts the host's root (9p, read-only) under a tmpfs overlay so the guest can
// write without touching the host, brings up the one network link the agent listens on, and switch_roots into stage 2,
// which starts the agent from the host's node. The kernel and its modules are parameters: the kernel with Qubes'
// no_part_scan that test/kernel/guest-kernel/build.sh builds (everything built in), or Debian's stock kernel (unpacked by
// scripts/install-deps.sh into .cache/guest-kernel/), which lacks no_part_scan.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, closeSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { SimToolError } from '../state.ts';

/** What the tier needs from a kernel: virtio PCI, 9p root, overlay, the agent's network link, dm-crypt, virtio disks, loop. */
export const GUEST_MODULES = ['virtio_pci', '9pnet_virtio', '9p', 'overlay', 'virtio_net', 'dm-crypt', 'xts', 'virtio_blk', 'loop'] as const;

export interface GuestKernel {
  /** bzImage or vmlinuz. */
  readonly image: string;
  /** A tree holding lib/modules/RELEASE (depmod run on it), or undefined for a kernel with everything built in. */
  readonly modulesRoot?: string;
  readonly modules: readonly string[];
}

export interface GuestImage {
  readonly kernel: string;
  readonly initrd: string;
}

const HINT = 'run scripts/install-deps.sh (as root or with sudo) to install the QEMU tier';

/** The cache folder of the guest files. */
export const guestCacheDir = (repo: string): string => join(repo, '.cache', 'guest-kernel');

/** Debian's kernel as install-deps.sh unpacked it: DIR/root/boot/vmlinuz-RELEASE with DIR/root/lib/modules/RELEASE. */
export function debianKernel(repo: string): GuestKernel {
  const root = join(guestCacheDir(repo), 'root');
  const boot = join(root, 'boot');
  const images = existsSync(boot) ? readdirSync(boot).filter((f) => /^vmlinuz-.+-amd64$/.test(f)).sort() : [];
  const image = images.at(-1);
  if (!image) throw new SimToolError(`qubes-sim: no guest kernel in ${boot}: ${HINT}`);
  return { image: join(boot, image), modulesRoot: root, modules: GUEST_MODULES };
}

/** Which kernel a QEMU device VM boots: `patched` (Qubes' no_part_scan, the default) or Debian's stock one. */
export const GUEST_KERNEL_CHOICES = ['patched', 'debian'] as const;
export type GuestKernelChoice = (typeof GUEST_KERNEL_CHOICES)[number];

/**
 * The patched kernel: build.sh prints the cached bzImage's path at once when its inputs are unchanged (scripts/install-deps.sh,
 * run by `make test`, builds it up front); otherwise it builds it here, which takes minutes.
 */
export function patchedKernel(repo: string): GuestKernel {
  const script = join(repo, 'test', 'kernel', 'guest-kernel', 'build.sh');
  let out: string;
  try {
    out = execFileSync(script, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 20 });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim().split('\n').slice(-5).join('\n');
    throw new SimToolError(`qubes-sim: the patched guest kernel could not be built (${script}):\n${stderr}`);
  }
  const image = out.trim().split('\n').at(-1) ?? '';
  requireTool(image, 'the patched guest kernel');
  return { image, modules: [] };
}

export function guestKernelFor(repo: string, choice: GuestKernelChoice): GuestKernel {
  return choice === 'patched' ? patchedKernel(repo) : debianKernel(repo);
}

const STAGE1 = `#!/bin/busybox sh
# Stage 1 (initramfs): modules, host root over 9p under a tmpfs overlay, network for the agent, then stage 2.
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
fail() { echo "qubes-sim stage 1: $*"; echo o > /proc/sysrq-trigger; sleep 60; }
if [ -f /modules/order ]; then for m in $(cat /modules/order); do insmod "/modules/$m" || fail "insmod $m"; done; fi
mkdir -p /host /upper /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /host || fail "cannot mount the host root"
mount -t tmpfs -o mode=755 tmpfs /upper && mkdir /upper/u /upper/w
mount -t overlay overlay -o lowerdir=/host,upperdir=/upper/u,workdir=/upper/w /newroot || fail "cannot mount the overlay root"
ip link set lo up && ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 || fail "no network link for the agent"
echo "qubes-sim stage 1: done at $(cut -d' ' -f1 /proc/uptime) s"
for d in proc sys dev; do mount --move /$d /newroot/$d; done
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /newroot/run
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts; mount -t tmpfs tmpfs /newroot/dev/shm
cp /stage2 /newroot/qsim-stage2
exec switch_root /newroot /qsim-stage2
`;

const STAGE2 = `#!/bin/sh
# Stage 2 (PID 1 on the host's root): the agent runs until it fails; then power off (PID 1 must never exit).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
node "$qsim_agent" guest-agent "$qsim_root" "$qsim_udev" || echo "qubes-sim stage 2: the agent failed"
echo o > /proc/sysrq-trigger
while :; do sleep 60; done
`;

/** The modules to load, dependencies first, as modprobe --show-depends lists them. */
function moduleClosure(kernel: GuestKernel, release: string): string[] {
  const paths: string[] = [];
  for (const name of kernel.modules) {
    const out = execFileSync('modprobe', ['-d', kernel.modulesRoot!, '-S', release, '--show-depends', name], { encoding: 'utf8' });
    for (const line of out.split('\n')) {
      const match = /^insmod (\S+)/.exec(line);
      if (match && !paths.includes(match[1]!)) paths.push(match[1]!);
    }
  }
  return paths;
}

function releaseOf(kernel: GuestKernel): string {
  const dir = join(kernel.modulesRoot!, 'lib', 'modules');
  const releases = existsSync(dir) ? readdirSync(dir) : [];
  const release = releases.find((r) => basename(kernel.image).endsWith(r)) ?? releases[0];
  if (!release) throw new SimToolError(`qubes-sim: no modules under ${dir}: ${HINT}`);
  if (!existsSync(join(dir, release, 'modules.dep'))) execFileSync('depmod', ['-b', kernel.modulesRoot!, release]);
  return release;
}

function requireTool(path: string, what: string): void {
  if (!existsSync(path)) throw new SimToolError(`qubes-sim: ${what} (${path}) is missing: ${HINT}`);
}

/** Compressed payloads a bzImage may carry, with the tool that unpacks each (Debian's kernel is xz). */
const PAYLOADS = [
  { magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), tool: 'xz' },
  { magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), tool: 'zstd' },
  { magic: Buffer.from([0x1f, 0x8b, 0x08]), tool: 'gzip' },
] as const;

const isElf = (path: string): boolean => {
  const head = Buffer.alloc(4);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  return head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
};

/**
 * The kernel QEMU boots fastest: under TCG, decompressing a bzImage takes about 10 s, while an uncompressed vmlinux with a
 * PVH entry note (CONFIG_PVH, set in Debian's kernel) starts at once. Unpacked once into the cache; the image itself when
 * it is already an ELF file or carries no payload we can unpack.
 */
function bootableKernel(repo: string, image: string): string {
  if (isElf(image)) return image;
  const target = join(guestCacheDir(repo), `vmlinux-${createHash('sha256').update(image).digest('hex').slice(0, 12)}`);
  if (existsSync(target)) return target;
  const bytes = readFileSync(image);
  for (const { magic, tool } of PAYLOADS) {
    const at = bytes.indexOf(magic);
    if (at < 0) continue;
    // The payload is followed by the decompressor's trailer: the tools report trailing garbage, so keep what they wrote.
    execFileSync('sh', ['-c', `tail -c +${at + 1} "$1" | ${tool} -dc > "$2" 2>/dev/null; true`, 'sh', image, `${target}.${process.pid}`]);
    if (isElf(`${target}.${process.pid}`) && readFileSync(`${target}.${process.pid}`).includes(Buffer.from('Xen\0'))) {
      renameSync(`${target}.${process.pid}`, target);
      return target;
    }
    rmSync(`${target}.${process.pid}`, { force: true });
  }
  return image;
}

/** Builds (or reuses) the initramfs for `kernel` under the cache folder. */
export function ensureGuestImage(repo: string, kernel: GuestKernel): GuestImage {
  requireTool(kernel.image, 'the guest kernel');
  requireTool('/bin/busybox', 'busybox-static');
  const release = kernel.modulesRoot ? releaseOf(kernel) : undefined;
  const modules = release ? moduleClosure(kernel, release) : [];
  const key = createHash('sha256').update(JSON.stringify([kernel.image, modules, STAGE1, STAGE2])).digest('hex').slice(0, 16);
  const initrd = join(guestCacheDir(repo), `initrd-${key}.cpio.gz`);
  const bootable = bootableKernel(repo, kernel.image);
  if (existsSync(initrd)) return { kernel: bootable, initrd };
  const staging = `${initrd}.${process.pid}.d`;
  rmSync(staging, { recursive: true, force: true });
  for (const sub of ['bin', 'modules', 'proc', 'sys', 'dev']) mkdirSync(join(staging, sub), { recursive: true });
  copyFileSync('/bin/busybox', join(staging, 'bin', 'busybox'));
  for (const path of modules) copyFileSync(path, join(staging, 'modules', basename(path)));
  if (modules.length > 0) writeFileSync(join(staging, 'modules', 'order'), `${modules.map((p) => basename(p)).join('\n')}\n`);
  writeFileSync(join(staging, 'init'), STAGE1);
  writeFileSync(join(staging, 'stage2'), STAGE2);
  chmodSync(join(staging, 'init'), 0o755);
  chmodSync(join(staging, 'stage2'), 0o755);
  // Written next to its final name, then renamed: parallel test files may build the same image at once.
  execFileSync('sh', ['-c', 'cd "$1" && find . | cpio -o -H newc --quiet | gzip -1 > "$2"', 'sh', staging, `${initrd}.${process.pid}`]);
  renameSync(`${initrd}.${process.pid}`, initrd);
  rmSync(staging, { recursive: true, force: true });
  return { kernel: bootable, initrd };
}
