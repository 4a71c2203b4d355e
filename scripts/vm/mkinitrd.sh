#!/usr/bin/env bash
# Builds a tiny initramfs for the arm64 test VM on the host, without emulation.
#
#   scripts/vm/mkinitrd.sh ROOTFS KERNEL_VERSION BUSYBOX_STATIC_ARM64_DEB OUTPUT
#
# Debian's arm64 kernel has virtio and ext4 as modules, so the root disk needs an initramfs.
# Debian's own (mkinitramfs under qemu-user) takes minutes and is 35 MB; this one loads the
# handful of modules that reach /dev/vda and switches to the real root.
set -euo pipefail
rootfs=$1 kver=$2 busybox_deb=$3 out=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/bb" "$work/i/bin" "$work/i/dev" "$work/i/proc" "$work/i/sys" "$work/i/newroot" "$work/i/mods"
dpkg-deb -x "$busybox_deb" "$work/bb"
cp "$work/bb/bin/busybox" "$work/i/bin/"
for applet in sh mount umount switch_root insmod sleep; do ln -s busybox "$work/i/bin/$applet"; done

# Load order matters: each module after the ones it depends on.
moddir=$rootfs/usr/lib/modules/$kver
n=0
for m in virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk crc16 mbcache jbd2 crc32c_generic ext4; do
  f=$(grep -E "(^|/)$m\.ko:" "$moddir/modules.dep" | cut -d: -f1)
  if [ -z "$f" ]; then
    echo "mkinitrd: module $m not found for kernel $kver" >&2
    exit 1
  fi
  n=$((n + 1))
  cp "$moddir/$f" "$work/i/mods/$(printf %02d "$n")-$m.ko"
done

cat > "$work/i/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in /mods/*.ko; do insmod "$m"; done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
mount -t ext4 -o ro /dev/vda /newroot || exec sh
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/init
INIT
chmod +x "$work/i/init"
(cd "$work/i" && find . | cpio -o -H newc --quiet | gzip -1) > "$out"
