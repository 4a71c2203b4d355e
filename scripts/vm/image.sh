#!/usr/bin/env bash
# Builds (or takes from the cache) the arm64 Debian image the full-system test boots, and
# prints the directory that holds it: rootfs.img (ext4, raw), vmlinuz, initrd.img.
#
#   scripts/vm/image.sh            # needs root: mmdebstrap, chroot, binfmt_misc
#
# The image is a minimal Debian with systemd, no kernel inside: the Debian arm64 kernel
# package is unpacked on the host and a tiny initramfs is built on the host
# (scripts/vm/mkinitrd.sh), which takes seconds instead of the ~15 minutes mkinitramfs needs
# under qemu-user. The guest reaches the host over QEMU user-mode networking and runs
# commands from the host through scripts/vm/guest/vm-agent over a 9p shared folder.
#
# Cache: .cache/vm/image-HASH/ in the source tree, where HASH covers this recipe (the files
# in scripts/vm/ that shape the image). A copy is also kept outside the tree in
# ${XDG_CACHE_HOME:-~/.cache}/mposd/vm-image-HASH.tar.zst when that folder is writable, so
# a fresh clone on the same machine does not rebuild. Packages come from the mirrors this
# machine's apt is configured with.
set -euo pipefail
cd "$(dirname "$0")/../.."

log() { echo "vm-image: $*" >&2; }

recipe_hash=$(cat scripts/vm/image.sh scripts/vm/mkinitrd.sh scripts/vm/guest/* | sha256sum | cut -c1-16)
image_dir=$PWD/.cache/vm/image-$recipe_hash
outside_cache=${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/mposd
outside_archive=$outside_cache/vm-image-$recipe_hash.tar.zst

if [ -f "$image_dir/complete" ]; then
  echo "$image_dir"
  exit 0
fi

if [ -f "$outside_archive" ]; then
  log "restoring the image from $outside_archive"
  rm -rf "$image_dir.tmp"
  mkdir -p "$image_dir.tmp"
  zstd -dc "$outside_archive" | tar -C "$image_dir.tmp" -xSf -
  rm -rf "$image_dir"
  mv "$image_dir.tmp" "$image_dir"
  echo "$image_dir"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  log "building the image needs root (mmdebstrap --mode=root, chroot, binfmt_misc)"
  exit 1
fi

started=$(date +%s)
work=$PWD/.cache/vm/build-$recipe_hash
rm -rf "$work"
mkdir -p "$work"
rootfs=$work/rootfs
cleanup() { rm -rf "$work" "$image_dir.tmp"; }
trap cleanup EXIT

# Let the kernel run arm64 executables in the chroot through qemu-user-static. The F flag
# makes the registration carry the interpreter into the chroot.
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  cat /usr/lib/binfmt.d/qemu-aarch64.conf > /proc/sys/fs/binfmt_misc/register
fi

# The host's own apt sources (one-line and deb822 files) decide the mirror.
mirrors=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && grep -q '^[^#]' "$f" && mirrors+=("$f")
done
if [ ${#mirrors[@]} -eq 0 ]; then
  log "this machine has no apt sources configured"
  exit 1
fi
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")

log "mmdebstrap arm64 $suite (takes 2-3 minutes)"
mmdebstrap --mode=root --arch=arm64 --variant=minbase \
  --include=systemd-sysv,udev,kmod,e2fsprogs,procps,iproute2 \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --customize-hook='rm -f "$1/etc/dpkg/dpkg.cfg.d/99mmdebstrap"' \
  --quiet "$suite" "$rootfs" "${mirrors[@]}"

# The kernel and busybox come as arm64 packages fetched by the host's apt.
if ! apt-cache show linux-image-arm64:arm64 >/dev/null 2>&1; then
  dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
  apt-get update -qq
fi
kernel_pkg=$(apt-cache depends linux-image-arm64:arm64 | sed -n 's/^ *Depends: \(linux-image-[0-9][^:]*\).*/\1/p' | head -n1)
kver=${kernel_pkg#linux-image-}
log "kernel $kver"
(cd "$work" && apt-get download -qq "$kernel_pkg:arm64" busybox-static:arm64)
dpkg-deb -x "$work"/linux-image-*_arm64.deb "$work/kernel"
mkdir -p "$image_dir.tmp"
cp "$work/kernel/boot/vmlinuz-$kver" "$image_dir.tmp/vmlinuz"
# Not `dpkg-deb -x` into the rootfs: the package's ./lib would replace the merged-/usr
# symlink. Drivers this VM never needs are left out (halves the image).
mkdir -p "$rootfs/usr/lib/modules"
cp -a "$work/kernel/lib/modules/$kver" "$rootfs/usr/lib/modules/"
kdir=$rootfs/usr/lib/modules/$kver/kernel
rm -rf "$kdir/sound" "$kdir/net/wireless" "$kdir/net/bluetooth" "$kdir/drivers/"{gpu,media,net/wireless,net/ethernet,infiniband,iio,staging,scsi,md,hwmon,bluetooth,isdn}
chroot "$rootfs" /sbin/depmod -a "$kver"
scripts/vm/mkinitrd.sh "$rootfs" "$kver" "$work"/busybox-static_*_arm64.deb "$image_dir.tmp/initrd.img"
echo "$kver" > "$image_dir.tmp/kernel-version"

# Host-side customisation: root file system, network, the agent, and no timers that would
# compete with the test for the two emulated CPUs.
cat > "$rootfs/etc/fstab" <<'FSTAB'
/dev/vda / ext4 defaults,errors=remount-ro 0 1
host0 /mnt/host 9p trans=virtio,version=9p2000.L,msize=262144,nofail 0 0
FSTAB
mkdir -p "$rootfs/mnt/host"
echo mposd-vm > "$rootfs/etc/hostname"
install -m 0755 scripts/vm/guest/vm-agent "$rootfs/usr/local/sbin/vm-agent"
install -m 0644 scripts/vm/guest/vm-agent.service "$rootfs/etc/systemd/system/vm-agent.service"
install -m 0644 scripts/vm/guest/10-vm.network "$rootfs/etc/systemd/network/10-vm.network"
wants=$rootfs/etc/systemd/system/multi-user.target.wants
mkdir -p "$wants" "$rootfs/etc/systemd/system/sockets.wants" "$rootfs/etc/systemd/system/network-online.target.wants"
ln -sf /etc/systemd/system/vm-agent.service "$wants/vm-agent.service"
ln -sf /lib/systemd/system/systemd-networkd.service "$wants/systemd-networkd.service"
ln -sf /lib/systemd/system/systemd-networkd.socket "$rootfs/etc/systemd/system/sockets.wants/systemd-networkd.socket"
ln -sf /lib/systemd/system/systemd-networkd-wait-online.service \
  "$rootfs/etc/systemd/system/network-online.target.wants/systemd-networkd-wait-online.service"
for unit in apt-daily.timer apt-daily-upgrade.timer e2scrub_reap.service e2scrub_all.timer fstrim.timer \
  serial-getty@ttyS0.service; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done

log "mkfs.ext4 (2 GiB, sparse)"
mkfs.ext4 -q -F -L root -d "$rootfs" "$image_dir.tmp/rootfs.img" 2G
touch "$image_dir.tmp/complete"
rm -rf "$image_dir"
mv "$image_dir.tmp" "$image_dir"
log "built in $(( $(date +%s) - started )) s: $image_dir"

if mkdir -p "$outside_cache" 2>/dev/null && [ -w "$outside_cache" ]; then
  rm -f "$outside_cache"/vm-image-*.tar.zst
  tar -C "$image_dir" -cSf - . | zstd -q -T0 -3 -o "$outside_archive.tmp" && mv "$outside_archive.tmp" "$outside_archive"
  log "cached outside the tree: $outside_archive"
fi
echo "$image_dir"
