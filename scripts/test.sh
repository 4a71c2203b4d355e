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
echo "== cargo clippy --no-default-features (the production build)"
cargo clippy --all-targets --locked --no-default-features -- -D warnings
echo "== cargo test"
cargo test --all-targets --locked

echo "== systemd unit hardening"
if command -v systemd-analyze >/dev/null; then
  scripts/check-unit.sh
elif [ "${CI:-}" = "true" ]; then
  echo "systemd-analyze is missing (apt-get install systemd)" >&2
  exit 1
else
  echo "skipped: systemd-analyze is not installed"
fi
