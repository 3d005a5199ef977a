#!/usr/bin/env bash
# The main job on the built-in Qubes simulator: a LUKS1 volume made by the real cryptsetup sits in a simulated sys-usb; it is attached
# to a simulated `work` qube through the device and header DisposableVMs; `work` reads the plaintext; status; detach; nothing left.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sim=test/sim/qubes-sim

echo "== a simulated Qubes in $work/qubes"
"$sim" init "$work/qubes"
echo "== a LUKS1 volume (made by cryptsetup) holding known data, as sys-usb:sda"
truncate -s 8M "$work/disk.img"
printf 'demo passphrase' | cryptsetup luksFormat --type luks1 --batch-mode --pbkdf-force-iterations 1000 "$work/disk.img" -
node scripts/demo-fill.mjs "$work/disk.img" 'demo passphrase' "$work/plain.bin"
"$sim" add-block "$work/qubes" sys-usb sda "$work/disk.img" --description 'DataTraveler_2.0 () 8 MiB'
eval "$("$sim" env "$work/qubes")"
cd "$work"

echo "== qvm-block-split attach work sys-usb:sda   (passphrase typed on stdin here)"
printf 'demo passphrase\n' | qvm-block-split attach work sys-usb:sda
echo "== running VMs"; "$repo/$sim" ls "$work/qubes"
echo "== attachments"; "$repo/$sim" attachments "$work/qubes"
echo "== status"; qvm-block-split status
echo "== what work reads at /dev/xvdi (first 64 bytes of the decrypted volume)"
"$repo/$sim" read-block "$work/qubes" work xvdi | head -c 64; echo
if cmp -s <("$repo/$sim" read-block "$work/qubes" work xvdi | head -c "$(stat -c %s plain.bin)") plain.bin; then
  echo "work reads exactly the plaintext that was written"
else
  echo "MISMATCH: work does not read the plaintext" >&2; exit 1
fi
echo "== qvm-block-split detach sys-usb:sda"
qvm-block-split detach sys-usb:sda
echo "== running VMs after detach"; "$repo/$sim" ls "$work/qubes"
echo "== attachments after detach (none expected)"; "$repo/$sim" attachments "$work/qubes"
echo "demo: ok"
