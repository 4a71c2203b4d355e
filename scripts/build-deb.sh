#!/usr/bin/env bash
# Builds the mposd Debian package with cargo-deb and prints its path on the last line.
#
#   scripts/build-deb.sh            # amd64, built natively (scripts/production-build.sh)
#   scripts/build-deb.sh arm64      # arm64 (64-bit Raspberry Pi OS), cross-compiled
#   scripts/build-deb.sh armhf      # armhf (32-bit Raspberry Pi OS), cross-compiled
#
# The ARM binaries come from Debian's cross toolchain (scripts/cross-test.sh --arch ARCH
# --build), the amd64 one from scripts/production-build.sh; cargo-deb then only packages them
# (--no-build). CROSS_TARGET_DIR selects the cross build's target directory (default
# target/cross), PRODUCTION_TARGET_DIR the native one (default target/production).
# Installs cargo-deb with `cargo install --locked` when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

arch=${1:-amd64}
if ! cargo deb --version >/dev/null 2>&1; then
  echo "== installing cargo-deb" >&2
  cargo install cargo-deb --locked >&2
fi
# cargo-deb computes the package's dependencies with dpkg-shlibdeps.
if ! command -v dpkg-shlibdeps >/dev/null; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dpkg-dev >/dev/null
fi

case "$arch" in
  amd64)
    target_dir=${PRODUCTION_TARGET_DIR:-target/production}
    PRODUCTION_TARGET_DIR=$target_dir scripts/production-build.sh >/dev/null
    host=$(rustc -vV | sed -n 's/^host: //p')
    CARGO_TARGET_DIR=$target_dir cargo deb --no-build --no-strip --target "$host" \
      --output "$target_dir/debian/" >&2
    ;;
  arm64 | armhf)
    target_dir=${CROSS_TARGET_DIR:-target/cross}
    CROSS_TARGET_DIR=$target_dir scripts/cross-test.sh --arch "$arch" --build >&2
    target=aarch64-unknown-linux-gnu
    [ "$arch" = arm64 ] || target=armv7-unknown-linux-gnueabihf
    # The release profile strips the binary already; cargo-deb's own strip would need the
    # cross binutils' name.
    CARGO_TARGET_DIR=$target_dir cargo deb --no-build --no-strip --target $target \
      --output "$target_dir/debian/" >&2
    ;;
  *)
    echo "usage: scripts/build-deb.sh [amd64|arm64|armhf]" >&2
    exit 2
    ;;
esac

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
deb=$(ls -t "$target_dir"/debian/mposd_"$version"*_"$arch".deb | head -n1)
echo "$deb"
