#!/usr/bin/env bash
# The main job. Until the Qubes simulator lands this is the LUKS round trip the header DisposableVM relies on:
# a volume formatted by our engine is opened by the real cryptsetup, and one made by cryptsetup is unlocked by us.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tool=dist/split-dm-crypt-luks.mjs
echo "== format with split-dm-crypt-luks, open with cryptsetup"
printf 'demo passphrase\n' | node "$tool" format "$work/ours.img" --pbkdf-force-iterations 1000
printf 'demo passphrase\n' | cryptsetup open --test-passphrase --verbose "$work/ours.img"
echo "== format with cryptsetup, unlock with split-dm-crypt-luks"
truncate -s 4M "$work/theirs.img"
printf 'demo passphrase' | cryptsetup luksFormat --type luks1 --batch-mode --pbkdf-force-iterations 1000 "$work/theirs.img" -
printf 'demo passphrase\n' | node "$tool" unlock "$work/theirs.img"
echo "demo: ok"
