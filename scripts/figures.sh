#!/usr/bin/env bash
# Prints the daemon's figures for the README: binary sizes, memory idle and while paying, and
# time to READY with an empty store and with 100,000 journal records, on the host and for
# 64-bit (arm64) and 32-bit (armhf) ARM under qemu-user. It measures the production binaries
# (without the `sim` feature); the host one is built in a target directory of its own
# (PRODUCTION_TARGET_DIR, default target/production) so that the benchmark's default build is
# not relinked back and forth.
set -euo pipefail
cd "$(dirname "$0")/.."
cross=${CROSS_TARGET_DIR:-target/cross}
CROSS_TARGET_DIR=$cross scripts/cross-test.sh --arch arm64 --build
CROSS_TARGET_DIR=$cross scripts/cross-test.sh --arch armhf --build
production=${PRODUCTION_TARGET_DIR:-target/production}
cargo build --release --locked --no-default-features --target-dir "$production"
MPOSD_HOST_BIN=$production/release/mposd \
  MPOSD_AARCH64_BIN=$cross/aarch64-unknown-linux-gnu/release/mposd \
  MPOSD_ARMHF_BIN=$cross/armv7-unknown-linux-gnueabihf/release/mposd \
  cargo bench --bench daemon_figures
