#!/usr/bin/env bash
# Long fuzzing of the cash-register protocol with libFuzzer (cargo-fuzz targets in fuzz/).
# The quick, property-based variant runs with every `scripts/test.sh`; this is the long mode.
#
#   scripts/fuzz.sh              # each target for 15 minutes
#   scripts/fuzz.sh 3600         # each target for an hour
#   FUZZ_TARGETS=ecr_frame_decoder scripts/fuzz.sh 600
#
# cargo-fuzz needs nightly compiler flags (sanitizers); a stable toolchain is told to accept
# them with RUSTC_BOOTSTRAP=1, so no nightly toolchain has to be installed. The corpus grows
# in fuzz/corpus/<target>/ and crashes land in fuzz/artifacts/<target>/ (both git-ignored).
# Each run ends with libFuzzer's statistics; the line "Done N runs in S second(s)" is the
# number of executions.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${1:-900}
case "$seconds" in ''|*[!0-9]*) echo "usage: scripts/fuzz.sh [seconds per target]" >&2; exit 2 ;; esac
targets=${FUZZ_TARGETS:-ecr_frame_decoder ecr_message_parser}

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz" >&2
  cargo install --locked cargo-fuzz >&2
fi
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$PWD/target}/fuzz}

for target in $targets; do
  echo "== $target: $seconds s" >&2
  # -rss_limit_mb: endless garbage must not make the decoder hold on to memory. Progress
  # lines are left out; the statistics, the seed and any failure are shown.
  set +e
  cargo fuzz run -O "$target" -- -max_total_time="$seconds" -rss_limit_mb=512 -print_final_stats=1 2>&1 \
    | grep -E '^(Done|stat::|INFO: Seed|==[0-9]+==|.*(ERROR|panicked|deadly signal))'
  status=${PIPESTATUS[0]}
  set -e
  if [ "$status" != 0 ]; then
    echo "$target: libFuzzer found a failure (see fuzz/artifacts/$target/)" >&2
    exit 1
  fi
done
