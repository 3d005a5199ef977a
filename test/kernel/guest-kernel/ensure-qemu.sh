#!/bin/bash
# Installs what booting the guest kernel needs on the host when missing: QEMU (TCG), a static busybox and cpio for the
# initramfs, and cryptsetup, which the guest runs from the host's root shared over 9p. As root, or through sudo.
set -euo pipefail

PACKAGES=(qemu-system-x86 busybox-static cpio cryptsetup-bin)

fail() { echo "ensure-qemu: error: $*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else fail "need root or sudo to run: $*"; fi
}

missing=()
for p in "${PACKAGES[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "ensure-qemu: installing ${missing[*]}" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || fail "apt-get update failed"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 \
    || fail "apt-get install ${missing[*]} failed"
fi
command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 not found after installing qemu-system-x86"
