#!/usr/bin/env bash
# Builds mposd for 64-bit ARM (aarch64-unknown-linux-gnu) and runs its test suite under
# qemu-user. Installs Debian's cross toolchain when it is missing (needs root and apt).
#
#   scripts/cross-test.sh            # build and run every test under qemu-aarch64
#   scripts/cross-test.sh --build    # build the production release binary only
#
# Debian ships the aarch64 Rust standard library as a package (libstd-rust-web-dev:arm64),
# which needs Debian's own rustc of the same version; rustup's toolchain is not used here.
set -euo pipefail
cd "$(dirname "$0")/.."

target=aarch64-unknown-linux-gnu
mode=${1:-test}

need_packages=()
command -v aarch64-linux-gnu-gcc >/dev/null || need_packages+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
command -v qemu-aarch64-static >/dev/null || need_packages+=(qemu-user-static)
[ -x /usr/bin/rustc ] && [ -d /usr/lib/rustlib/$target ] || need_packages+=(rustc-web cargo-web "libstd-rust-web-dev:arm64")
if [ ${#need_packages[@]} -gt 0 ]; then
  echo "== installing the cross toolchain: ${need_packages[*]}"
  dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_packages[@]}" >/dev/null
fi

export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
export CARGO_TARGET_DIR=${CROSS_TARGET_DIR:-target/cross}
cargo=/usr/bin/cargo

# Test binaries start the mposd binary as a child process; let the kernel hand aarch64
# executables to qemu (root only; without it those tests cannot start their child).
if [ "$(id -u)" = 0 ] && [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || true
  if [ -w /proc/sys/fs/binfmt_misc/register ] && [ -f /usr/lib/binfmt.d/qemu-aarch64.conf ]; then
    cat /usr/lib/binfmt.d/qemu-aarch64.conf > /proc/sys/fs/binfmt_misc/register || true
  fi
fi

case "$mode" in
  --build)
    # The production feature set: without the simulator and the demo (the tests need them).
    echo "== cargo build --release --no-default-features --target $target"
    $cargo build --release --locked --no-default-features --target $target
    ;;
  test)
    echo "== cargo test --target $target (under qemu-aarch64)"
    # The cash-register (ecr) and daemon suites open serial ports by path, which needs ioctls
    # qemu-user does not emulate (TCGETS2 gives ENOSYS); they run natively and in the
    # full-system VM (scripts/vm-test.sh). Everything else runs here. The crash torture runs a
    # shorter round, since every process is emulated.
    MPOSD_TORTURE_KILLS=${MPOSD_TORTURE_KILLS:-25} $cargo test --locked --target $target \
      --lib --bins --test sim --test client --test engine --test display --test engine_torture
    ;;
  *)
    echo "usage: scripts/cross-test.sh [--build]" >&2
    exit 2
    ;;
esac
