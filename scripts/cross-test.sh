#!/usr/bin/env bash
# Builds mposd for ARM and runs its test suite under qemu-user: 64-bit ARM
# (aarch64-unknown-linux-gnu, Debian arm64) by default, 32-bit ARM
# (armv7-unknown-linux-gnueabihf, Debian armhf, as 32-bit Raspberry Pi OS) with --arch armhf.
# Installs Debian's cross toolchain when it is missing (needs root and apt).
#
#   scripts/cross-test.sh                        # build and run the tests under qemu-aarch64
#   scripts/cross-test.sh --build                # build the arm64 production release binary only
#   scripts/cross-test.sh --arch armhf           # build and run the tests under qemu-arm
#   scripts/cross-test.sh --arch armhf --build   # build the armhf production release binary only
#
# Debian ships the ARM Rust standard libraries as packages (libstd-rust-web-dev:arm64,
# :armhf), which need Debian's own rustc of the same version; scripts/debian-rust.sh picks
# and installs that version. rustup's toolchain is not used here.
set -euo pipefail
cd "$(dirname "$0")/.."

arch=arm64
mode=test
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch=${2:-}; shift 2 || true ;;
    --build) mode=build; shift ;;
    *) arch=invalid; break ;;
  esac
done
case "$arch" in
  arm64) target=aarch64-unknown-linux-gnu gnu=aarch64-linux-gnu qemu=aarch64 ;;
  armhf) target=armv7-unknown-linux-gnueabihf gnu=arm-linux-gnueabihf qemu=arm ;;
  *)
    echo "usage: scripts/cross-test.sh [--arch arm64|armhf] [--build]" >&2
    exit 2
    ;;
esac

need_packages=()
command -v $gnu-gcc >/dev/null || need_packages+=(gcc-$gnu "libc6-dev-$arch-cross")
command -v qemu-$qemu-static >/dev/null || need_packages+=(qemu-user-static)
if [ ${#need_packages[@]} -gt 0 ]; then
  echo "== installing the cross toolchain: ${need_packages[*]}"
  apt-get update -qq || echo "warning: some apt indexes failed to download; using the others" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_packages[@]}" >/dev/null
fi
sysroot=$(scripts/debian-rust.sh "$arch" | tail -n1)

export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
export CARGO_TARGET_DIR=${CROSS_TARGET_DIR:-target/cross}
cargo=/usr/bin/cargo
target_env=$(echo "$target" | tr 'a-z-' 'A-Z_')
if [ "$sysroot" != /usr ]; then
  export "CARGO_TARGET_${target_env}_RUSTFLAGS=--sysroot=$sysroot"
fi
# ARM executables started by the tests find the cross C library here when the foreign
# architecture's libc6 is not installed. Only then: with the arm64 cross C library
# (libc6-arm64-cross 2.36-8cross1), qemu-aarch64 7.2 spins for ever in the first thread a
# program starts, while the installed libc6:arm64 runs it.
if [ ! -e "/lib/$gnu/libc.so.6" ]; then
  export QEMU_LD_PREFIX=/usr/$gnu
fi

# Test binaries start the mposd binary as a child process; let the kernel hand ARM
# executables to qemu (root only; without it those tests cannot start their child).
if [ "$(id -u)" = 0 ] && [ ! -e /proc/sys/fs/binfmt_misc/qemu-$qemu ]; then
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || true
  if [ -w /proc/sys/fs/binfmt_misc/register ] && [ -f /usr/lib/binfmt.d/qemu-$qemu.conf ]; then
    cat /usr/lib/binfmt.d/qemu-$qemu.conf > /proc/sys/fs/binfmt_misc/register || true
  fi
fi

# rqrr declares rust-version 1.85.1 while Debian 12 ships rustc 1.85.0; a patch release adds
# nothing to the language, so cargo's version check is skipped. Every other locked
# dependency supports 1.85.0, so a real incompatibility still shows as a compile error.
cargo_flags=(--locked --ignore-rust-version --target "$target")
# The release binary that ships (scripts/build-deb.sh packages it): the production feature
# set, without the simulator and the demo (the tests need them).
release_build=(build --release --no-default-features "${cargo_flags[@]}")

case "$mode" in
  build)
    echo "== cargo ${release_build[*]}"
    $cargo "${release_build[@]}"
    ;;
  test)
    echo "== cargo test --target $target (under qemu-$qemu)"
    # The cash-register (ecr) and daemon suites open serial ports by path, which needs ioctls
    # qemu-user does not emulate (TCGETS2 gives ENOSYS); they run natively and in the
    # full-system VM (scripts/vm-test.sh). Everything else runs here. The crash torture runs a
    # shorter round, since every process is emulated.
    MPOSD_TORTURE_KILLS=${MPOSD_TORTURE_KILLS:-25} $cargo test "${cargo_flags[@]}" \
      --lib --bins --test sim --test client --test engine --test display --test engine_torture
    ;;
esac
