#!/usr/bin/env bash
# Checks the systemd unit's hardening: `systemd-analyze security` must rate its exposure at
# 2.0 or lower. It must also not wait for network-online.target: mposd waits for MobilePay
# itself, and pulling that target in would hold up every boot of the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
if grep -En '^(After|Wants|Requires)=.*network-online' systemd/mposd.service; then
  echo "the unit must be ordered after network.target only" >&2
  exit 1
fi
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
