#!/bin/bash
# TraceWatch VM test harness (host side), (see test/vm/README.md).
#
# Boots one of Debian's own kernels (they have kprobes and loadable modules; the CI kernel has
# neither) under qemu/TCG, and runs the host script ENTRY inside it as root, in a chroot of the
# whole host filesystem (read-only 9p + tmpfs overlay, so the guest may write anywhere but nothing
# reaches the host), with OUTDIR shared read-write and visible at the same path ($TW_OUT).
#
# usage: [KVER=<release>] test/vm/vmtest.sh ENTRY [OUTDIR]
#   ENTRY   a host path (no spaces), run as `/bin/sh -c ENTRY` inside the guest (so a script needs
#           its exec bit or use e.g. "bash /path/to/script" -- but no spaces: prefer chmod +x)
#   OUTDIR  shared read-write (default ${TMPDIR:-/tmp}/tw-vm-out)
# env:
#   KVER          guest kernel release (default: the newest in /lib/modules with a /boot/vmlinuz)
#   TW_VM_WORK    cache dir for the extracted vmlinux and the initramfs (default /tmp/tw-vm-work)
#   TW_VM_TIMEOUT seconds before qemu is killed (default 120; TMO is accepted too)
#   SMP, MEM      guest CPUs (default 2) and MiB (default 1024)
# exit status: ENTRY's (0..63; larger values are reported as 63),
#   100 = the guest crashed/panicked/timed out or never reported a status,
#   90  = bad usage or host setup (kernel not installed, qemu missing, cannot build the initramfs)
# The guest's console (kernel messages + ENTRY's stdout/stderr) is on stdout; harness notes on stderr.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
die() { echo "vmtest: $*" >&2; exit 90; }
[ $# -ge 1 ] && [ -n "$1" ] || die "usage: [KVER=<release>] $0 ENTRY [OUTDIR]"
ENTRY=$1; OUT=${2:-${TMPDIR:-/tmp}/tw-vm-out}
case "$ENTRY$OUT" in *[[:space:]]*) die "ENTRY and OUTDIR must not contain whitespace (they go on the kernel command line)";; esac
case "$OUT" in /*) ;; *) OUT=$(pwd)/$OUT;; esac
if [ -z "${KVER:-}" ]; then
  for k in $(ls /lib/modules 2>/dev/null | sort -V); do [ -f /boot/vmlinuz-$k ] && KVER=$k; done
fi
[ -n "${KVER:-}" ] || die "no guest kernel: install linux-image-amd64 (see test/vm/README.md)"
[ -f /boot/vmlinuz-$KVER ] && [ -f /lib/modules/$KVER/modules.dep ] || die "kernel $KVER is not installed (/boot/vmlinuz-$KVER, /lib/modules/$KVER/modules.dep)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"
[ -x /bin/busybox ] || die "/bin/busybox not found (apt-get install busybox-static)"
WORK=${TW_VM_WORK:-${TMPDIR:-/tmp}/tw-vm-work}
mkdir -p "$WORK" "$OUT" || die "cannot create $WORK or $OUT"
VMLINUX=$WORK/vmlinux-$KVER; INITRD=$WORK/initrd-$KVER.cpio

# 1. PVH-bootable ELF: skips SeaBIOS real-mode setup and in-guest decompression (~3 s under TCG).
#    Written to a temp name and renamed, so parallel runs never see a half-written file.
if [ ! -s "$VMLINUX" ] || [ /boot/vmlinuz-$KVER -nt "$VMLINUX" ]; then
  python3 "$HERE/extract-vmlinux.py" /boot/vmlinuz-$KVER "$VMLINUX.$$" >&2 && mv -f "$VMLINUX.$$" "$VMLINUX" \
    || { rm -f "$VMLINUX.$$"; die "cannot extract vmlinux from /boot/vmlinuz-$KVER"; }
fi

# 2. initramfs: busybox + the virtio/9p/overlay modules (deps from modules.dep) + /init. Rebuilt when
#    the harness changes; built in a private dir and renamed into place (parallel-safe).
if [ ! -s "$INITRD" ] || [ "$HERE/init" -nt "$INITRD" ] || [ "$HERE/vmtest.sh" -nt "$INITRD" ] \
   || [ "$HERE/moddeps.py" -nt "$INITRD" ] || [ /lib/modules/$KVER/modules.dep -nt "$INITRD" ]; then
  R=$(mktemp -d "$WORK/root.XXXXXX") || die "mktemp failed"
  (
    set -e
    mkdir -p $R/bin $R/dev $R/mods
    cp /bin/busybox $R/bin/; cp "$HERE/init" $R/init; chmod +x $R/init
    python3 "$HERE/moddeps.py" $KVER virtio_pci 9pnet_virtio 9p overlay > $R/mods/order.txt
    while read -r p; do  # busybox insmod wants plain .ko: unpack Debian's compressed modules (6.12: .ko.xz)
      f=/lib/modules/$KVER/$p; b=$(basename "${p%.xz}"); b=${b%.zst}
      case $p in *.xz) xz -dc "$f" > $R/mods/$b;; *.zst) zstd -qdc "$f" > $R/mods/$b;; *) cp "$f" $R/mods/$b;; esac
    done < $R/mods/order.txt
    sed -i 's/\.ko\.\(xz\|zst\)$/.ko/' $R/mods/order.txt
    mknod -m 600 $R/dev/console c 5 1
    (cd $R && find . -print0 | cpio --null -o -H newc --quiet) > "$INITRD.$$"
    mv -f "$INITRD.$$" "$INITRD"
  ) || { rm -rf "$R" "$INITRD.$$"; die "cannot build the initramfs for $KVER"; }
  rm -rf "$R"
fi

# 3. boot (TCG). oops=panic + panic_on_warn + panic=-1 + -no-reboot: a crashing module ends the VM at
#    once (qemu rc 0). Results come back through isa-debug-exit. Always under timeout.
TMO=${TW_VM_TIMEOUT:-${TMO:-120}}
SECONDS=0
timeout -k 5 "$TMO" qemu-system-x86_64 -accel tcg,thread=multi -cpu ${TW_VM_CPU:-max} -smp ${SMP:-2} -m ${MEM:-1024} \
  -kernel "$VMLINUX" -initrd "$INITRD" \
  -append "console=ttyS0 quiet panic=-1 oops=panic panic_on_warn=1 tw_entry=$ENTRY tw_out=$OUT" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs local,path="$OUT",mount_tag=out,security_model=none,multidevs=remap \
  -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
  -nographic -no-reboot -nodefaults -serial stdio -display none </dev/null
rc=$?
# timeout(1) exits 124 (SIGTERM sufficed) or 137 (needed SIGKILL). 137 is also a valid isa-debug-exit
# code (status 36), so it only means "timeout" when the time is up.
if [ $rc -eq 124 ] || { [ $rc -eq 137 ] && [ $SECONDS -ge "$TMO" ]; }; then
  echo "vmtest: guest timed out after ${TMO}s (TW_VM_TIMEOUT)" >&2; exit 100
fi
# isa-debug-exit: qemu rc = (value << 1) | 1, the guest writes 0x20 + status  =>  odd rc in 65..191
if [ $rc -ge 65 ] && [ $rc -le 191 ] && [ $((rc % 2)) -eq 1 ]; then exit $(( (rc - 1) / 2 - 0x20 )); fi
echo "vmtest: VM ended without a result (qemu rc=$rc; 0 = the guest panicked or powered off)" >&2
exit 100
