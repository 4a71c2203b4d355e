#!/usr/bin/env bash
# Prints the daemon's figures for the README: binary sizes, memory idle and while paying, and
# time to READY with an empty store and with 100,000 journal records, on the host and for
# ARM64 under qemu-user.
set -euo pipefail
cd "$(dirname "$0")/.."
CROSS_TARGET_DIR=${CROSS_TARGET_DIR:-target/cross} scripts/cross-test.sh --build
arm=${CROSS_TARGET_DIR:-target/cross}/aarch64-unknown-linux-gnu/release/mposd
MPOSD_AARCH64_BIN=$arm cargo bench --bench daemon_figures
