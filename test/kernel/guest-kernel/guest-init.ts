// The smoke guest's /init (busybox sh, PID 1). It reports facts on the serial console as `smoke: KEY VALUE` lines, waits for
// the host to hot-plug a second disk after `smoke: hotplug-ready`, and powers off (PID 1 must never exit: the kernel panics).
// With `smoke_mode=boot-only` on the kernel command line it stops after the facts about boot.

export const MARKER = 'smoke: ';

/** What every guest /init starts with: busybox's applets, the kernel's file systems, `say` for a marker, `finish` to power off. */
export const GUEST_PRELUDE = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
say() { echo "${MARKER}$*"; }
yes_no() { if "$@"; then echo yes; else echo no; fi; }
differs() { ! cmp -s "$1" "$2"; }
# The pause lets the serial line drain first: the kernel prints "sysrq: Power Off" straight to the console, and it once landed
# in the middle of the last marker still queued in the tty (a volume key cut in two).
finish() { say done; sleep 1; echo o > /proc/sysrq-trigger; while :; do sleep 60; done; }
`;

/** The host's root read-only over 9p at /host, with what its cryptsetup needs in a chroot (proc, sys, dev, a writable run and tmp). */
export const HOST_ROOT = `mount -t 9p -o trans=virtio,version=9p2000.L,ro hostroot /host || { say host-root failed; finish; }
mount -t proc proc /host/proc; mount -t sysfs sysfs /host/sys; mount -t devtmpfs devtmpfs /host/dev
mount -t tmpfs tmpfs /host/run; mount -t tmpfs tmpfs /host/tmp
`;

export const GUEST_INIT = `${GUEST_PRELUDE}P=/sys/module/block/parameters/no_part_scan

say release "$(uname -r)"
say version "$(cat /proc/version)"
say param-boot "$(cat $P 2>/dev/null || echo missing)"
say param-mode "$(stat -c %a $P 2>/dev/null || echo missing)"
say vda1-boot "$(yes_no test -e /sys/block/vda/vda1 -a -b /dev/vda1)"
[ "$smoke_mode" = boot-only ] && finish

echo Y > $P || say param-write failed
say param-set "$(cat $P)"
say hotplug-ready
# Wait up to 20 s of guest uptime (read from /proc: no process per round, forks are slow under emulation).
uptime_s() { read -r up _ < /proc/uptime; echo "\${up%.*}"; }
deadline=$(( $(uptime_s) + 20 ))
while [ ! -b /dev/vdb ] && [ "$(uptime_s)" -lt $deadline ]; do sleep 0.2; done
# A scan would have run inside device_add_disk, before the node appeared; the pause only guards against a late one.
sleep 1
say vdb "$(yes_no test -b /dev/vdb)"
say vdb-size "$(cat /sys/block/vdb/size 2>/dev/null || echo missing)"
say vdb1 "$(yes_no test -e /sys/block/vdb/vdb1 -o -e /dev/vdb1)"
say vdb-rereadpt "$(yes_no blockdev --rereadpt /dev/vdb 2>/dev/null)"
say vdb1-after-rereadpt "$(yes_no test -e /sys/block/vdb/vdb1 -o -e /dev/vdb1)"
say vda-rereadpt "$(yes_no blockdev --rereadpt /dev/vda)"
say device-mapper "$(yes_no grep -q device-mapper /proc/devices)"

# dm-crypt for real: the host's cryptsetup, from its root shared read-only over 9p.
${HOST_ROOT}head -c 64 /dev/urandom > /host/run/key
chroot /host cryptsetup open --batch-mode --type plain --cipher aes-xts-plain64 --key-size 512 --key-file /run/key /dev/vdb smoke \\
  && say dm-crypt-open yes || say dm-crypt-open no
say xts-aes-driver "$(awk '/^name/ { n = $3 } /^driver/ && n == "xts(aes)" { print $3; exit }' /proc/crypto)"
say dm-crypt-name "$(cat /sys/block/dm-0/dm/name 2>/dev/null || echo missing)"
printf split-dm-crypt-smoke > /tmp/plain
dd if=/tmp/plain of=/dev/mapper/smoke conv=fsync 2>/dev/null
echo 3 > /proc/sys/vm/drop_caches
dd if=/dev/mapper/smoke of=/tmp/back bs=20 count=1 2>/dev/null
dd if=/dev/vdb of=/tmp/raw bs=20 count=1 2>/dev/null
say dm-crypt-roundtrip "$(yes_no cmp -s /tmp/plain /tmp/back)"
say dm-crypt-raw-differs "$(yes_no differs /tmp/plain /tmp/raw)"
chroot /host cryptsetup close smoke && say dm-crypt-close yes || say dm-crypt-close no
finish
`;
