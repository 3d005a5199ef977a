#!/usr/bin/env bash
# Builds the packages from the bundles in dist/ (`make build`), exactly as the make-based install lays them out:
#   packaging/build-packages.sh rpm OUTDIR   split-dm-crypt-dom0 and split-dm-crypt-vm, noarch rpms (Debian's rpmbuild)
#   packaging/build-packages.sh deb OUTDIR   split-dm-crypt-vm, an Architecture: all deb (dpkg-deb)
# Each package's tree is what `make install-dom0` / `make install-vm PREFIX=/usr` installs into a fresh DESTDIR. Versioned
# from package.json; reproducible: every time stamp is SOURCE_DATE_EPOCH (default: the last commit's time, else 0), owners
# are root, the build host is not recorded.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-}
out=${2:-.}
case "$kind" in rpm|deb) ;; *) echo "usage: build-packages.sh rpm|deb [OUTDIR]" >&2; exit 64 ;; esac
version=$(node -p "require('./package.json').version")
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "build-packages: package.json version '$version' is not MAJOR.MINOR.PATCH" >&2; exit 1; }
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
mkdir -p "$out"
out=$(realpath "$out")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The trees, made by the install targets themselves; umask 022 so directory modes do not depend on the caller's.
stage() {
  (umask 022 && make -s "$1" DESTDIR="$work/$2" PREFIX=/usr >/dev/null)
  find "$work/$2" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

# rpm's file list: every file of the tree, the directory of the bundles (ours alone) and its compile cache (empty in the
# package: see WARM in the Makefile), the policy kept when edited.
file_list() {
  (cd "$work/$1" && find . -type f | sed 's|^\.||' | LC_ALL=C sort) | sed 's|^\(/etc/qubes/policy.d/.*\)$|%config(noreplace) \1|'
  echo '%dir /usr/lib/split-dm-crypt'
  echo '%dir /usr/lib/split-dm-crypt/compile-cache'
}

if [ "$kind" = rpm ]; then
  command -v rpmbuild >/dev/null || { echo "build-packages: rpmbuild is missing: scripts/install-deps.sh packages" >&2; exit 1; }
  for side in dom0 vm; do
    stage "install-$side" "$side"
    file_list "$side" > "$work/$side.files"
    # Reproducible: build time and file times from SOURCE_DATE_EPOCH, a fixed build host. xz payload (every rpm 4.x reads
    # it): the 13 bundles share most of their code, which xz's window finds and gzip's does not (110 KiB instead of 960).
    rpmbuild -bb --quiet \
      --define "_topdir $work/rpmbuild" --define "_rpmdir $out" --define '_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm' \
      --define "pkg_version $version" --define "stage $work/$side" --define "filelist $work/$side.files" \
      --define 'use_source_date_epoch_as_buildtime 1' --define 'clamp_mtime_to_source_epoch 1' \
      --define '_buildhost split-dm-crypt' --define '_binary_payload w6.xzdio' \
      "packaging/rpm/split-dm-crypt-$side.spec" >/dev/null
    echo "wrote $out/split-dm-crypt-$side-$version-1.noarch.rpm"
  done
else
  stage install-vm vm
  deb="$work/deb"
  cp -a "$work/vm" "$deb"
  mkdir -m 755 "$deb/DEBIAN"
  size=$(du -sk --apparent-size "$work/vm" | cut -f1)
  sed -e "s|@VERSION@|$version-1|" -e "s|@SIZE@|$size|" packaging/deb/control > "$deb/DEBIAN/control"
  (cd "$work/vm" && find . -type f | sed 's|^\./||' | LC_ALL=C sort | xargs md5sum) > "$deb/DEBIAN/md5sums"
  # No conffiles: the files in /etc/qubes-rpc are program (wrappers of the bundles), not settings; as conffiles, `dpkg -r`
  # would leave the services behind, callable but with their bundles gone.
  chmod 644 "$deb/DEBIAN/control" "$deb/DEBIAN/md5sums"
  find "$deb" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  name="split-dm-crypt-vm_$version-1_all.deb"
  dpkg-deb --root-owner-group -Zxz --build "$deb" "$out/$name" >/dev/null
  echo "wrote $out/$name"
fi
