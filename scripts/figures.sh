#!/usr/bin/env bash
# Prints the daemon's figures for the README: binary sizes, memory idle and while paying, and
# time to READY with an empty store and with 100,000 journal records, on the host and for
# 64-bit (arm64) and 32-bit (armhf) ARM under qemu-user. It measures the production binaries
# (without the `sim` feature), built by scripts/production-build.sh for the host and
# scripts/cross-test.sh --build for ARM.
set -euo pipefail
cd "$(dirname "$0")/.."
cross=${CROSS_TARGET_DIR:-target/cross}
CROSS_TARGET_DIR=$cross scripts/cross-test.sh --arch arm64 --build
CROSS_TARGET_DIR=$cross scripts/cross-test.sh --arch armhf --build
host_bin=$(scripts/production-build.sh | tail -n1)
MPOSD_HOST_BIN=$host_bin \
  MPOSD_AARCH64_BIN=$cross/aarch64-unknown-linux-gnu/release/mposd \
  MPOSD_ARMHF_BIN=$cross/armv7-unknown-linux-gnueabihf/release/mposd \
  cargo bench --bench daemon_figures
