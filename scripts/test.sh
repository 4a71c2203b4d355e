#!/usr/bin/env bash
# Runs everything that checks mposd: formatting, lints, unit and integration tests.
# Heavier suites have a quick mode here and a long mode behind environment variables
# (see the README).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --all-targets --locked
