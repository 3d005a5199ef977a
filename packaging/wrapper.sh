#!/bin/sh
# split-dm-crypt: runs the bundle @BUNDLE@ with Node.js >= 18.19 (written by `make install-vm` / `make install-dom0` from
# packaging/wrapper.sh). Without such a node it says so in one line on stderr and exits 127: the code qrexec gives a
# service it cannot find, which dom0 reports as "has no working <service>"; for a command, the shell's code for a missing
# program. `node --version` answers before Node starts its engine: the check costs about 4 ms.
v=$(node --version 2>/dev/null) || v=
case $v in
  '') found=none ;;
  # Only vMAJOR.MINOR.PATCH in digits is read (no second line in the message, nothing `test -gt` could choke on).
  v*[!0-9.]* | *.*.*.*) found='an unreadable version' ;;
  v[0-9]*.[0-9]*.[0-9]*)
    found=$v
    n=${v#v}
    major=${n%%.*}
    n=${n#*.}
    minor=${n%%.*}
    if [ ${#v} -le 20 ] && { [ "$major" -gt 18 ] || { [ "$major" -eq 18 ] && [ "$minor" -ge 19 ]; }; }; then
      lib=$(dirname "$0")/@LIB@
      # Node >= 22.1 keeps V8's compiled code of the bundle in NODE_COMPILE_CACHE and checks it against the source and its own
      # version before use. The install fills compile-cache/ (root-owned: a user run only reads it), so a DisposableVM made from
      # the template and dom0 start without compiling the bundle. Older Node ignores the variable; one set by the caller wins.
      if [ "$major" -ge 22 ] && [ -z "${NODE_COMPILE_CACHE-}" ] && [ -d "$lib/compile-cache" ]; then
        NODE_COMPILE_CACHE=$lib/compile-cache
        export NODE_COMPILE_CACHE
      fi
      exec node "$lib/@BUNDLE@" "$@"
    fi
    ;;
  *) found='an unreadable version' ;;
esac
echo "${0##*/}: error: needs Node.js >= 18.19 as 'node' on PATH, found $found (README, \"Installing in Qubes OS\")" >&2
exit 127
