#!/usr/bin/env bash
# The main job on the built-in Qubes simulator: two volumes made by the real cryptsetup sit in a simulated sys-usb, a LUKS1 one
# (sda) and a LUKS2 one with cryptsetup's defaults at a small argon2id cost (sdb, 4096-byte sectors). Each is attached to a
# simulated `work` qube through its own device and header DisposableVMs; `work` reads the plaintext of each; status; detach;
# nothing left running or attached.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d)
trap 'echo "== removing $work (the simulated Qubes and its volumes)"; rm -rf "$work"' EXIT
sim=test/sim/qubes-sim

echo "== a simulated Qubes in $work/qubes"
"$sim" init "$work/qubes"
echo "== a LUKS1 volume (made by cryptsetup) holding known data, as sys-usb:sda"
truncate -s 8M "$work/sda.img"
printf 'demo passphrase' | cryptsetup luksFormat --type luks1 --batch-mode --pbkdf-force-iterations 1000 "$work/sda.img" -
node scripts/demo-fill.mjs "$work/sda.img" 'demo passphrase' "$work/sda.plain"
"$sim" add-block "$work/qubes" sys-usb sda "$work/sda.img" --description 'DataTraveler_2.0 () 8 MiB'
echo "== a LUKS2 volume (cryptsetup's defaults, argon2id at 64 MiB) holding known data, as sys-usb:sdb"
truncate -s 24M "$work/sdb.img"
printf 'other passphrase' | cryptsetup luksFormat --type luks2 --batch-mode --pbkdf argon2id --pbkdf-memory 65536 --pbkdf-force-iterations 4 "$work/sdb.img" -
node scripts/demo-fill.mjs "$work/sdb.img" 'other passphrase' "$work/sdb.plain"
"$sim" add-block "$work/qubes" sys-usb sdb "$work/sdb.img" --description 'Cruzer_Blade () 24 MiB'
eval "$("$sim" env "$work/qubes")"
cd "$work"

echo "== qvm-block-split attach work sys-usb:sda   (passphrase typed on stdin here)"
printf 'demo passphrase\n' | qvm-block-split attach work sys-usb:sda
echo "== qvm-block-split attach work sys-usb:sdb   (LUKS2, the default --type)"
printf 'other passphrase\n' | qvm-block-split attach work sys-usb:sdb
echo "== the header DisposableVMs: each parsed its header and unlocked, then was removed before the mapping was made"
"$repo/$sim" transcript "$work/qubes" | grep -a -o -- '--- qvm-run dm-header-disp[0-9]* (root) service splitdmcrypt.HeaderUnlock+luks[12]$' | sed 's/^--- qvm-run //'
echo "== running VMs (no header VM left: device VMs hold the mappings)"; "$repo/$sim" ls "$work/qubes"
echo "== attachments"; "$repo/$sim" attachments "$work/qubes"
echo "== status"; qvm-block-split status
for frontend in xvdi:sda xvdj:sdb; do
  dev=${frontend%%:*} source=${frontend#*:}
  echo "== what work reads at /dev/$dev (first 64 bytes of the decrypted $source)"
  "$repo/$sim" read-block "$work/qubes" work "$dev" | head -c 64; echo
  if cmp -s <("$repo/$sim" read-block "$work/qubes" work "$dev" | head -c "$(stat -c %s "$source.plain")") "$source.plain"; then
    echo "work reads exactly the plaintext that was written to $source"
  else
    echo "MISMATCH: work does not read the plaintext of $source" >&2; exit 1
  fi
done
echo "== qvm-block-split detach sys-usb:sda; qvm-block-split detach sys-usb:sdb"
qvm-block-split detach sys-usb:sda
qvm-block-split detach sys-usb:sdb
echo "== running VMs after detach"; "$repo/$sim" ls "$work/qubes"
echo "== attachments after detach (none expected)"; "$repo/$sim" attachments "$work/qubes"
if [ -n "$("$repo/$sim" attachments "$work/qubes")" ] || "$repo/$sim" ls "$work/qubes" | grep -q '^dm-'; then
  echo "something was left behind" >&2; exit 1
fi
echo "demo: ok"
