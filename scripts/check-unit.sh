#!/usr/bin/env bash
# Checks the systemd unit's hardening: `systemd-analyze security` must rate its exposure at
# 2.0 or lower.
set -euo pipefail
cd "$(dirname "$0")/.."
limit=2.0
out=$(systemd-analyze security --offline=true systemd/mposd.service 2>&1)
exposure=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for mposd.service: \([0-9.]*\).*/\1/p')
if [ -z "$exposure" ]; then
  printf '%s\n' "$out" >&2
  echo "could not read the exposure level" >&2
  exit 1
fi
echo "systemd unit exposure: $exposure (limit $limit)"
awk -v e="$exposure" -v l="$limit" 'BEGIN { exit !(e <= l) }'
