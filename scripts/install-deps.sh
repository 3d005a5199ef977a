#!/usr/bin/env bash
# Installs what the build and the tests need on a fresh Debian machine: npm packages from the lock file, and the Debian
# packages the tests run for real (cryptsetup as the interop oracle). Safe to re-run; installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

stamp=node_modules/.install-stamp
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  # `npm ci` rejects lock files written by this npm (platform-only optional packages are left out), so install from the lock.
  npm install --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi

need=()
command -v cryptsetup >/dev/null 2>&1 || need+=(cryptsetup-bin)
if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: installing Debian packages: ${need[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
