#!/usr/bin/env bash
# Installs what is needed on a fresh Debian machine, and only what is missing (safe to re-run):
#   install-deps.sh npm    the npm packages, exactly as the lock file lists them (`npm ci` never rewrites the lock): for a build
#   install-deps.sh demo   that, and cryptsetup (the demo formats its volumes with it): for `make demo`, in a minute or two
#   install-deps.sh packages  the npm packages and the package builders: Debian's `rpm` (rpmbuild) for `make rpm`; dpkg-deb
#                          (`make deb`) comes with every Debian
#   install-deps.sh        everything the tests need: all of the above, QEMU, the guest kernels and their build (the kernel tier)
set -euo pipefail
cd "$(dirname "$0")/.."
scope=${1:-all}
case "$scope" in npm|demo|packages|all) ;; *) echo "usage: install-deps.sh [npm|demo|packages|all]" >&2; exit 64 ;; esac

stamp=node_modules/.install-stamp
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  # The lock lists every platform's optional packages (msgpackr's native builds), so `npm ci` accepts it on any machine.
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  touch "$stamp"
fi
[ "$scope" = npm ] && exit 0

need=()
# `make rpm` and the package tests (test/install) build rpms with Debian's rpmbuild.
if [ "$scope" = packages ] || [ "$scope" = all ]; then
  command -v rpmbuild >/dev/null 2>&1 || need+=(rpm)
fi
[ "$scope" = packages ] || command -v cryptsetup >/dev/null 2>&1 || need+=(cryptsetup-bin)
if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: installing Debian packages: ${need[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
[ "$scope" = demo ] || [ "$scope" = packages ] && exit 0

# The kernel tier (test/kernel, docs/KERNEL-TIER.md): QEMU under TCG boots Debian's stock kernel with a busybox initramfs and
# runs the host's node, dmsetup and udev inside it. A machine that cannot get these fails here, loudly: the tier never skips.
qemu_need=()
command -v qemu-system-x86_64 >/dev/null 2>&1 || qemu_need+=(qemu-system-x86)
dpkg -s busybox-static >/dev/null 2>&1 || qemu_need+=(busybox-static)
for pair in modprobe:kmod depmod:kmod cpio:cpio dmsetup:dmsetup udevadm:udev xz:xz-utils pgrep:procps blkid:util-linux; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "${pair%%:*}" >/dev/null 2>&1 || qemu_need+=("${pair#*:}")
done
mapfile -t qemu_need < <(printf '%s\n' "${qemu_need[@]}" | sort -u | sed '/^$/d')
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
if [ ${#qemu_need[@]} -gt 0 ]; then
  echo "install-deps: installing Debian packages for the kernel tier: ${qemu_need[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${qemu_need[@]}"
fi

# Debian's current kernel, the package linux-image-amd64 depends on, unpacked (not installed) into .cache/guest-kernel/root.
guest=.cache/guest-kernel
if ! ls "$guest"/root/boot/vmlinuz-*-amd64 >/dev/null 2>&1; then
  package=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n1)
  if [ -z "$package" ]; then
    "${sudo_cmd[@]}" apt-get update -qq
    package=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n1)
  fi
  [ -n "$package" ] || { echo "install-deps: cannot tell which kernel linux-image-amd64 depends on" >&2; exit 1; }
  echo "install-deps: unpacking $package into $guest for the kernel tier"
  rm -rf "$guest/root" && mkdir -p "$guest"
  (cd "$guest" && rm -f ./*.deb && apt-get download -q "$package" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
  deb=$(ls "$guest"/"$package"_*.deb 2>/dev/null | head -n1)
  [ -n "$deb" ] || { echo "install-deps: apt-get download $package failed" >&2; exit 1; }
  dpkg -x "$deb" "$guest/root"
  release=${package#linux-image-}
  depmod -b "$guest/root" "$release"
fi
ls "$guest"/root/boot/vmlinuz-*-amd64 >/dev/null 2>&1 || { echo "install-deps: no guest kernel in $guest/root/boot" >&2; exit 1; }

# The guest kernel with Qubes' no_part_scan that the kernel tier boots by default (test/kernel/guest-kernel/build.sh,
# docs/GUEST-KERNEL.md): Debian's linux-source-6.1 plus our patch, built once per machine (about 10 minutes on 2 cores) and
# cached outside the checkout, so a fresh clone on the same machine reuses it. Progress on stderr; fails loudly.
test/kernel/guest-kernel/build.sh >/dev/null
