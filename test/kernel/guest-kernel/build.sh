#!/bin/bash
# Builds the QEMU test guest's kernel: Debian's linux-source-6.1 with no-part-scan.patch (Qubes' block.no_part_scan) and
# guest.config, everything built in. The result is cached per machine, outside the checkout so that a fresh clone (CI's)
# reuses it: under $SPLIT_DM_CRYPT_CACHE, else $XDG_CACHE_HOME/split-dm-crypt, else ~/.cache/split-dm-crypt, in
# guest-kernel-build/<key>/, the key hashing the source package's version, the config fragment, the patch and this script:
# unchanged inputs reuse the bzImage, a change rebuilds in the kept source tree (guest-kernel-build/tree/), incrementally.
# stdout: the bzImage's absolute path, alone on the last line. stderr: progress and a summary (kernel release, build time
# or "cached"). Installs its Debian packages when missing (as root, or through sudo).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE_ROOT="${SPLIT_DM_CRYPT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/split-dm-crypt}/guest-kernel-build"
TREE="$CACHE_ROOT/tree"
SOURCE_PACKAGE=linux-source-6.1
SOURCE_TARBALL=/usr/src/linux-source-6.1.tar.xz
# Parallel compile jobs: the number of CPUs, unless GUEST_KERNEL_JOBS says otherwise (more on a machine busy with other work).
JOBS=${GUEST_KERNEL_JOBS:-$(nproc)}
PACKAGES=("$SOURCE_PACKAGE" bc bison flex libelf-dev libssl-dev build-essential patch xz-utils util-linux)

say() { echo "guest-kernel: $*" >&2; }
fail() { echo "guest-kernel: error: $*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else fail "need root or sudo to run: $*"; fi
}

installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }

# Installs the packages not yet installed; apt-get update first, as on a fresh machine the package lists may be empty.
ensure_packages() {
  local missing=() p
  for p in "$@"; do installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || fail "apt-get update failed"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 \
    || fail "apt-get install ${missing[*]} failed"
}

# A fixed build timestamp, so /proc/version depends only on the inputs: the date of the source package's changelog entry,
# or the tarball's modification time (dpkg keeps the package's) where /usr/share/doc is not installed (Docker images).
source_date() {
  local changelog="/usr/share/doc/$SOURCE_PACKAGE/changelog.Debian.gz"
  if [ -f "$changelog" ]; then
    zcat "$changelog" | awk '/^ -- / && !d { sub(/^.*>  /, ""); d = $0 } END { print d }'
  else
    date -u -R -r "$SOURCE_TARBALL"
  fi
}

# Applies the fragment: defconfig, kvm_guest.config, our lines, olddefconfig. (Chained with &&: the caller redirects it
# with ||, where bash ignores set -e.)
configure() {
  local src=$1
  make -C "$src" x86_64_defconfig && make -C "$src" kvm_guest.config \
    && (cd "$src" && scripts/kconfig/merge_config.sh -m .config "$HERE/guest.config") && make -C "$src" olddefconfig
}

# Fails when olddefconfig dropped or changed any line of the fragment (a dependency missing, a symbol renamed).
check_config() {
  local config=$1 line name
  while IFS= read -r line; do
    case "$line" in
      CONFIG_*=*) grep -qxF -- "$line" "$config" || fail "config: wanted '$line', got '$(grep "^${line%%=*}=" "$config" || echo unset)'" ;;
      "# CONFIG_"*" is not set")
        name=${line#\# }; name=${name%% *}
        ! grep -q "^$name=" "$config" || fail "config: wanted $name off, got '$(grep "^$name=" "$config")'" ;;
    esac
  done < "$HERE/guest.config"
}

# The one source tree, kept between builds: a changed input rebuilds only the objects it affects (make's own tracking).
# Unpacked again only for another source version; the applied patch is reversed before a changed one is applied.
prepare_tree() {
  local version=$1 src="$TREE/linux-source-6.1"
  if [ "$(cat "$TREE/source-version" 2>/dev/null)" != "$version" ]; then
    rm -rf "$TREE"
    mkdir -p "$TREE"
    say "unpacking $SOURCE_TARBALL"
    tar -xJf "$SOURCE_TARBALL" -C "$TREE"
    echo "$version" > "$TREE/source-version"
  fi
  if [ -f "$TREE/applied.patch" ] && ! cmp -s "$TREE/applied.patch" "$HERE/no-part-scan.patch"; then
    patch -d "$src" -p1 -R --quiet < "$TREE/applied.patch" || fail "cannot take the previous patch out of $TREE: remove that folder"
    rm "$TREE/applied.patch"
  fi
  if [ ! -f "$TREE/applied.patch" ]; then
    patch -d "$src" -p1 --forward --quiet --dry-run < "$HERE/no-part-scan.patch" >&2 \
      || fail "no-part-scan.patch does not apply to $src (if a run was interrupted while patching: remove $TREE)"
    patch -d "$src" -p1 --forward --quiet < "$HERE/no-part-scan.patch"
    cp "$HERE/no-part-scan.patch" "$TREE/applied.patch"
  fi
}

# Configures and builds the tree; leaves OUT/bzImage, OUT/config, OUT/release and OUT/build.log.
build() {
  local out=$1 src="$TREE/linux-source-6.1" log="$TREE/build.log" stamp
  : > "$log"
  configure "$src" >> "$log" 2>&1 || { tail -n 30 "$log" >&2; fail "configuration failed (log: $log)"; }
  check_config "$src/.config"
  grep -q '^CONFIG_MODULES=y' "$src/.config" && fail "the configured kernel wants modules"
  stamp=$(source_date)
  say "make -j$JOBS bzImage (log: $log)"
  KBUILD_BUILD_TIMESTAMP="$stamp" KBUILD_BUILD_USER=split-dm-crypt KBUILD_BUILD_HOST=guest-kernel KBUILD_BUILD_VERSION=1 \
    make -C "$src" -j"$JOBS" bzImage >> "$log" 2>&1 || { tail -n 40 "$log" >&2; fail "kernel build failed (log: $log)"; }
  cp "$src/arch/x86/boot/bzImage" "$src/.config" "$log" "$out/"
  mv "$out/.config" "$out/config"
  make -s -C "$src" kernelrelease > "$out/release"
}

main() {
  ensure_packages "${PACKAGES[@]}"
  [ -f "$SOURCE_TARBALL" ] || fail "$SOURCE_TARBALL missing although $SOURCE_PACKAGE is installed"
  local version key dir started
  version=$(dpkg-query -W -f='${Version}' "$SOURCE_PACKAGE")
  key=$( { echo "$SOURCE_PACKAGE $version"; cat "$HERE/guest.config" "$HERE/no-part-scan.patch" "${BASH_SOURCE[0]}"; } \
    | sha256sum | cut -c1-16)
  dir="$CACHE_ROOT/$key"
  mkdir -p "$CACHE_ROOT"
  # One build at a time: a second caller waits, then finds the first one's result.
  exec 9> "$CACHE_ROOT/.lock"
  flock 9
  if [ -f "$dir/bzImage" ] && [ -f "$dir/release" ]; then
    say "$(cat "$dir/release") cached in $dir"
  else
    started=$(date +%s)
    rm -rf "$dir.partial"
    mkdir -p "$dir.partial"
    prepare_tree "$version"
    build "$dir.partial"
    echo "$(($(date +%s) - started))" > "$dir.partial/build-seconds"
    # Results of earlier keys are stale (their inputs changed): keep only the tree and the one just built.
    find "$CACHE_ROOT" -mindepth 1 -maxdepth 1 -type d ! -name tree ! -name "$key.partial" -exec rm -rf {} +
    mv "$dir.partial" "$dir"
    say "$(cat "$dir/release") built in $(cat "$dir/build-seconds") s from $SOURCE_PACKAGE $version"
  fi
  echo "$dir/bzImage"
}

main "$@"
