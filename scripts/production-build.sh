#!/usr/bin/env bash
# Builds the production binary for this machine's architecture and prints its path on the
# last line: the daemon and its tools without the simulator and the demo (the `sim` feature),
# on x86_64 with the C library linked in (a static-pie executable). Extra arguments go to
# cargo, e.g. `--features rpi`.
#
# Linking the C library in keeps about 1 MiB of shared-library mappings (libc, libm, the
# dynamic loader) out of the daemon's resident memory, and the binary no longer depends on the
# C library the box has installed. Host names still resolve through /etc/hosts and DNS, which
# glibc has built in; other name services in /etc/nsswitch.conf (mdns, ...) are loaded only
# when the box's glibc is the release the binary was built with (Debian 12's 2.36 for the
# .deb). On ARM Rust links static binaries at a fixed address, without PIE, so there the
# shared C library stays (as in scripts/cross-test.sh --build). The README's "production build"
# paragraph says more.
#
# The executable's own pointers are relocated at start (it is position-independent, so its
# code sits at a random address). `-z pack-relative-relocs` stores those relocations as a
# compact bitmap (DT_RELR, read by glibc 2.36 and later) instead of a 24-byte entry each: the
# table shrinks from about 310 KiB to 5 KiB of the file and of the daemon's resident memory.
#
# The flags are given for the target triple, with --target, so that it reaches the binary but
# not the build scripts and procedural macros cargo runs on the build machine. The output goes
# to PRODUCTION_TARGET_DIR (default target/production), so that the everyday debug and test
# builds are not relinked back and forth.
set -euo pipefail
cd "$(dirname "$0")/.."

host=$(rustc -vV | sed -n 's/^host: //p')
host_env=$(echo "$host" | tr 'a-z-' 'A-Z_')
target_dir=${PRODUCTION_TARGET_DIR:-target/production}
case "$host" in
  x86_64-*) export "CARGO_TARGET_${host_env}_RUSTFLAGS=-C target-feature=+crt-static -C link-arg=-Wl,-z,pack-relative-relocs" ;;
esac
cargo build --release --locked --no-default-features --target "$host" --target-dir "$target_dir" "$@" >&2
echo "$target_dir/$host/release/mposd"
