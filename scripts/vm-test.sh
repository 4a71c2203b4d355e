#!/usr/bin/env bash
# Full-system test on 64-bit ARM: the mposd .deb installed on Debian arm64 under
# qemu-system-aarch64 (TCG), a payment driven over a virtual serial line, and power cuts.
#
#   scripts/vm-test.sh              # quick mode: one power cut in the middle of a payment
#   scripts/vm-test.sh --cuts 200   # long mode: 200 cuts at random moments (or VM_TEST_CUTS=200)
#   scripts/vm-test.sh --keep       # keep the run folder (console logs, ECR transcripts)
#   scripts/vm-test.sh --cuts 200 --minutes 90
#                                   # long mode with a time budget: no new cut is started
#                                   # after 90 minutes (or VM_TEST_MINUTES=90)
#
# What it does:
#  1. builds the arm64 package (scripts/build-deb.sh arm64) and the host's mposd (simulator
#     and virtual cash register), and the cached VM image (scripts/vm/image.sh);
#  2. boots the VM, installs the package and checks what the package promises: the mposd
#     user, the directories, the units, mposd.path enabled and the service not started;
#  3. runs `mposd sim --tls` on the host, gives the guest the client secret, the simulator's
#     CA and /etc/mposd/mposd.toml, and checks that creating the config starts the daemon;
#  4. per cut: starts a payment from the host with `mposd ecr` on the pty that is the
#     guest's /dev/ttyS0, kills QEMU with SIGKILL mid-payment, boots again, and checks that
#     the file system recovered, the daemon came back, the ECR's repeated command and a
#     query give the true outcome, and the simulator's ground truth shows exactly one
#     payment for the order, captured once, for the amount asked.
#
# Needs root (image build, binfmt) and apt for missing tools. Timings are printed at the end.
# Environment: VM_TEST_CUTS (cuts), VM_TEST_DEB (use this .deb instead of building),
# VM_TEST_MPOSD (the host's mposd binary instead of building it),
# CROSS_TARGET_DIR (cross build folder, default target/cross), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

cuts=${VM_TEST_CUTS:-1}
minutes=${VM_TEST_MINUTES:-0}
keep=no
while [ $# -gt 0 ]; do
  case "$1" in
    --cuts) cuts=$2; shift 2 ;;
    --minutes) minutes=$2; shift 2 ;;
    --keep) keep=yes; shift ;;
    *) echo "usage: scripts/vm-test.sh [--cuts N] [--minutes M] [--keep]" >&2; exit 2 ;;
  esac
done
case "$cuts" in ''|*[!0-9]*) echo "--cuts needs a number" >&2; exit 2 ;; esac
case "$minutes" in ''|*[!0-9]*) echo "--minutes needs a number" >&2; exit 2 ;; esac

source scripts/vm/vm.sh

test_started=$(vm_now)
timings=()
timing() { timings+=("$(printf '%-44s %7s s' "$1" "$2")"); }

# --- host tools -------------------------------------------------------------------------
need=()
command -v qemu-system-aarch64 >/dev/null || need+=(qemu-system-arm)
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v arch-test >/dev/null || need+=(arch-test)
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
for tool in cpio zstd jq curl mkfs.ext4; do
  command -v "$tool" >/dev/null || need+=("$tool")
done
if [ ${#need[@]} -gt 0 ]; then
  need=("${need[@]/mkfs.ext4/e2fsprogs}")
  vm_log "installing ${need[*]}"
  apt-get update -qq
  # One package at a time: apt refused qemu-system-arm and qemu-utils together once, when
  # the installed qemu-user-static came from another suite than the candidate versions.
  for package in "${need[@]}"; do
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >/dev/null
  done
fi
# Installing qemu-system-arm can remove a qemu-utils of another suite (it did on a machine
# that came with the backports build): make sure qemu-img is there after the installs.
if ! command -v qemu-img >/dev/null; then
  vm_log "installing qemu-utils"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-utils >/dev/null
fi

# --- builds -----------------------------------------------------------------------------
t=$(vm_now)
if [ -n "${VM_TEST_DEB:-}" ]; then
  deb=$VM_TEST_DEB
else
  deb=$(scripts/build-deb.sh arm64 | tail -n1)
fi
timing "arm64 package (cross build + cargo-deb)" "$(vm_since "$t")"
vm_log "package: $deb"

t=$(vm_now)
if [ -n "${VM_TEST_MPOSD:-}" ]; then
  host_mposd=$VM_TEST_MPOSD
else
  cargo build --locked --bin mposd >&2
  host_mposd=${CARGO_TARGET_DIR:-target}/debug/mposd
fi
timing "host mposd (simulator, virtual ECR)" "$(vm_since "$t")"

t=$(vm_now)
VM_IMAGE=$(scripts/vm/image.sh | tail -n1)
timing "VM image (build or cache)" "$(vm_since "$t")"

VM_RUN=$repo/.cache/vm/run-$(date -u +%Y%m%dT%H%M%S)
mkdir -p "$VM_RUN"
sim_pid=
ecr_pid=
finish() {
  local rc=$?
  [ -n "$ecr_pid" ] && kill "$ecr_pid" 2>/dev/null
  [ -n "${VM_PID:-}" ] && vm_cut
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null
  if [ $rc -eq 0 ] && [ "$keep" = no ]; then
    rm -rf "$VM_RUN"
  else
    vm_log "run folder kept: $VM_RUN"
  fi
  exit $rc
}
trap finish EXIT
fail() { vm_log "FAIL: $*"; exit 1; }

# --- simulator on the host --------------------------------------------------------------
# The guest reaches the host's loopback as 10.0.2.2 (QEMU user-mode networking), so the
# simulator listens on loopback only; its certificate also names 10.0.2.2, because mposd
# insists on https for any host but loopback.
"$host_mposd" sim --tls --tls-name 10.0.2.2 --listen 127.0.0.1:0 --ca-out "$VM_RUN/sim-ca.pem" \
  > "$VM_RUN/sim.log" 2>&1 &
sim_pid=$!
for _ in $(seq 1 100); do
  sim_url=$(sed -n 's/^mposd sim listening on \(https:[^ ]*\).*/\1/p' "$VM_RUN/sim.log")
  [ -n "$sim_url" ] && [ -s "$VM_RUN/sim-ca.pem" ] && break
  sleep 0.1
done
[ -n "$sim_url" ] || fail "the simulator did not start: $(cat "$VM_RUN/sim.log")"
sim_port=${sim_url##*:}
sim_port=${sim_port%%/*}
sim() { curl -fsS --cacert "$VM_RUN/sim-ca.pem" "$@"; }
sim -X POST -H 'content-type: application/json' \
  -d '{"beaconId":"*","phoneNumber":"+4520031801","action":"accept","delayMs":2000}' \
  "https://127.0.0.1:$sim_port/_sim/behaviour" >/dev/null
vm_log "simulator on $sim_url (guest: https://10.0.2.2:$sim_port)"
cp "$deb" "$VM_RUN/share/" 2>/dev/null || { mkdir -p "$VM_RUN/share"; cp "$deb" "$VM_RUN/share/"; }
cp "$VM_RUN/sim-ca.pem" "$VM_RUN/share/"

# --- first boot: install the package ----------------------------------------------------
vm_create_disk
t=$(vm_now)
vm_start
vm_wait_ready
timing "first boot to agent" "$VM_BOOT_SECONDS"

t=$(vm_now)
vm_run "dpkg -i /mnt/host/$(basename "$deb")" > "$VM_RUN/dpkg.log" 2>&1 \
  || fail "dpkg -i failed: $(cat "$VM_RUN/dpkg.log")"
timing "dpkg -i in the guest" "$(vm_since "$t")"
vm_log "package installed"

# What installing promises, checked in the guest.
vm_run '
set -e
fail() { echo "package check failed: $*"; exit 1; }
id mposd >/dev/null || fail "no mposd user"
id -nG mposd | grep -qw dialout || fail "mposd is not in dialout"
[ "$(stat -c %U:%a /var/lib/mposd)" = mposd:700 ] || fail "/var/lib/mposd: $(stat -c %U:%a /var/lib/mposd)"
[ "$(stat -c %U:%a /etc/mposd/credentials)" = root:700 ] || fail "/etc/mposd/credentials"
test -x /usr/bin/mposd || fail "no /usr/bin/mposd"
test -f /usr/lib/sysusers.d/mposd.conf || fail "no sysusers snippet"
test -f /usr/share/mposd/examples/mposd.toml || fail "no example config"
ls /usr/share/mposd/boards/*.toml >/dev/null || fail "no board profiles"
test -f /usr/share/doc/mposd/README.md || fail "no README"
[ "$(systemctl is-enabled mposd.path)" = enabled ] || fail "mposd.path is not enabled"
[ "$(systemctl is-active mposd.path)" = active ] || fail "mposd.path is not active"
[ "$(systemctl is-active mposd.service)" = inactive ] || fail "mposd.service started without a config"
/usr/bin/mposd --version
' > "$VM_RUN/package-check.log" 2>&1 || fail "$(cat "$VM_RUN/package-check.log")"
vm_log "package checks passed: $(tail -n1 "$VM_RUN/package-check.log")"

# The daemon needs `mposd run`; without it the test stops after the file-system power cut.
if ! "$host_mposd" run --help >/dev/null 2>&1; then
  vm_log "this mposd has no 'run' command yet: checking a power cut of the file system only"
  vm_run 'sh -c "i=0; while :; do i=\$((i+1)); echo \$i >> /var/tmp/counter; sync; sleep 0.2; done" > /dev/null 2>&1 &
sleep 3; tail -n1 /var/tmp/counter' > "$VM_RUN/counter-before" || fail "cannot start the writer"
  vm_cut
  vm_start
  t=$(vm_now)
  vm_wait_ready
  timing "boot after a power cut" "$VM_BOOT_SECONDS"
  after=$(vm_run 'tail -n1 /var/tmp/counter; systemctl is-system-running --wait || true; dpkg -s mposd | grep Status')
  echo "$after" >&2
  grep -q "EXT4-fs (vda): recovery complete" "$VM_CONSOLE" || fail "no journal recovery after the power cut"
  [ "$(head -n1 <<<"$after")" -ge "$(cat "$VM_RUN/counter-before")" ] || fail "synced writes were lost"
  vm_poweroff
  vm_check_image "$VM_RUN/disk.qcow2" || fail "qemu-img check"
  vm_log "file system power cut: passed"
  timing "total" "$(vm_since "$test_started")"
  printf '%s\n' "${timings[@]}" >&2
  exit 0
fi

# --- configure the daemon: creating the config file starts it ---------------------------
cat > "$VM_RUN/share/mposd.toml" <<EOF
# Written by scripts/vm-test.sh: one lane on the guest's /dev/ttyS0 against the simulator
# on the host.
[state]
dir = "/var/lib/mposd"

[mobilepay]
environment = "custom"
auth_url = "https://10.0.2.2:$sim_port/integrator-authentication"
api_url = "https://10.0.2.2:$sim_port/pos/v10"
client_id = "5c7a5b8e-0a4e-4d8e-9b1a-2f0c3d4e5f60"
client_secret = { credential = "mobilepay-client-secret" }
extra_ca = "/etc/mposd/sim-ca.pem"

[[lane]]
name = "till-1"
currency = "DKK"
[lane.pos]
vat = "DK12345678"
store = { id = "401b5617-ae5e-4f1a-9a59-5a446dbb3caa" }
merchant_pos_id = "vm-till-1"
name = "VM till 1"
beacon = "generated"
supported_beacon_types = ["QR"]
[lane.ecr]
serial = { device = "/dev/ttyS0", baud = 115200 }
[lane.display]
board = "headless-png"
language = "da"
header = "VM till 1"
EOF

# Waits until the daemon reports READY to systemd (recovery done, lanes serving); fails
# early when systemd keeps restarting it.
wait_daemon_active() {
  local state= restarts= answer
  for _ in $(seq 1 150); do
    # A loaded host can make the emulated guest slow to answer; that is not a failure.
    answer=$(vm_run --timeout 60 \
      'echo $(systemctl show -p ActiveState --value mposd.service) $(systemctl show -p NRestarts --value mposd.service)' || true)
    read -r state restarts <<<"$answer" || true
    [ "$state" = active ] && return 0
    [ "$state" = failed ] || [ "${restarts:-0}" -ge 3 ] && break
    sleep 1
  done
  vm_run 'systemctl status --no-pager mposd.service; journalctl -b --no-pager -u mposd.service | tail -n 30' >&2 || true
  fail "mposd.service is not active (state $state, $restarts restarts)"
}

t=$(vm_now)
# The secret first, the config last: mposd.path starts the daemon when the config appears.
vm_run '
set -e
umask 077
printf %s sim-secret-demo-integrator > /etc/mposd/credentials/client-secret
install -m 0644 /mnt/host/sim-ca.pem /etc/mposd/sim-ca.pem
mposd check-config /mnt/host/mposd.toml
install -m 0644 /mnt/host/mposd.toml /etc/mposd/mposd.toml.new
mv /etc/mposd/mposd.toml.new /etc/mposd/mposd.toml
sync
' >&2 || fail "cannot write the configuration"
wait_daemon_active
timing "config written -> daemon READY" "$(vm_since "$t")"
vm_log "creating the config started mposd.service"
# The headless-png board puts the customer screen in the unit's runtime directory.
vm_run 'for i in $(seq 1 60); do [ -s /run/mposd/display.png ] && exit 0; sleep 0.5; done
journalctl -b --no-pager -u mposd.service | grep -i display; exit 1' >&2 \
  || fail "the daemon did not draw the customer display to /run/mposd/display.png"

ecr() { timeout 900 "$host_mposd" ecr --port "$VM_PTY" --json "$@"; }
t=$(vm_now)
ecr --timeout 120 hello > "$VM_RUN/hello.jsonl" 2>&1 || fail "no hello over the serial line: $(cat "$VM_RUN/hello.jsonl")"
timing "first ECR hello over ttyS0" "$(vm_since "$t")"

# The simulator's record of the payments for an order, as JSON lines.
sim_payments_for() {
  sim "https://127.0.0.1:$sim_port/_sim/payments" | jq -c --arg o "$1" '.payments[] | select(.orderId == $o)'
}

# The final message for command id $2 in the JSON-lines transcript $1.
final_message() {
  jq -c --arg id "$2" 'select((.type == "outcome" and .id == $id and .result != "unknown") or (.type == "query_result" and .id == $id))' "$1" 2>/dev/null | tail -n1
}

cut_log=$VM_RUN/cuts.txt
expected_captured=0
captured_total=0
cuts_done=0
cuts_started=$(vm_now)
for k in $(seq 1 "$cuts"); do
  if [ "$minutes" -gt 0 ] && [ "$(awk -v a="$cuts_started" -v b="$(vm_now)" -v m="$minutes" 'BEGIN { print (b - a > m * 60) }')" = 1 ]; then
    vm_log "time budget of $minutes min used up after $cuts_done of $cuts cuts"
    break
  fi
  id=vm-pay-$k-$(date +%s)
  order=VM-$k-$RANDOM
  minor=$((1000 + k * 7))
  amount=$((minor / 100)).$(printf %02d $((minor % 100)))
  # Start the payment, then cut the power mid-payment.
  ecr --id "$id" pay "$amount" --order "$order" > "$VM_RUN/pay-$k.jsonl" 2>&1 &
  ecr_pid=$!
  sent=$(vm_now)
  if [ "$cuts" = 1 ]; then
    # Quick mode: cut as soon as the payment exists at MobilePay, while the customer is still
    # looking at it (the automatic customer accepts after 2 s).
    for _ in $(seq 1 1200); do
      [ -n "$(sim_payments_for "$order")" ] && break
      sleep 0.1
    done
  else
    # Long mode: any moment from before the command arrives to just after the capture (a
    # payment takes about 5 s here: create, check-in and accept after 2 s each, capture).
    sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", (r % 700) / 100 }')"
  fi
  at_cut=$(sim_payments_for "$order" | jq -r .status | paste -sd, -)
  vm_cut
  kill "$ecr_pid" 2>/dev/null || true
  wait "$ecr_pid" 2>/dev/null || true
  ecr_pid=
  cut_after=$(vm_since "$sent")
  vm_log "cut $k/$cuts: $cut_after s after the pay command, MobilePay status then: ${at_cut:-none}"

  t=$(vm_now)
  vm_start
  vm_wait_ready
  reboot_s=$VM_BOOT_SECONDS
  grep -q "EXT4-fs (vda): recovery complete" "$VM_CONSOLE" || fail "cut $k: the next boot did not replay the ext4 journal"
  wait_daemon_active
  ready_s=$(vm_since "$t")

  # What the ECR learns after the power comes back: a query, then the command repeated under
  # the same id (what a register does when it lost the answer), then a query again.
  ecr --timeout 120 --id "q1-$k" query "$id" > "$VM_RUN/query1-$k.jsonl" 2>&1 || fail "cut $k: query failed: $(cat "$VM_RUN/query1-$k.jsonl")"
  state1=$(final_message "$VM_RUN/query1-$k.jsonl" "q1-$k" | jq -r .state)
  ecr --timeout 600 --id "$id" pay "$amount" --order "$order" > "$VM_RUN/repeat-$k.jsonl" 2>&1 \
    || fail "cut $k: the repeated command did not succeed: $(tail -n 5 "$VM_RUN/repeat-$k.jsonl")"
  outcome=$(final_message "$VM_RUN/repeat-$k.jsonl" "$id")
  ecr --timeout 120 --id "q2-$k" query "$id" > "$VM_RUN/query2-$k.jsonl" 2>&1 || fail "cut $k: second query failed"
  query2=$(final_message "$VM_RUN/query2-$k.jsonl" "q2-$k")
  done_s=$(vm_since "$t")

  # The outcome, the query and MobilePay's ground truth must agree: one payment for the
  # order, captured once, for the amount asked.
  [ "$(jq -r .result <<<"$outcome")" = captured ] || fail "cut $k: outcome $outcome"
  [ "$(jq -r .amount <<<"$outcome")" = "$minor" ] || fail "cut $k: outcome $outcome for an amount of $minor"
  payment_id=$(jq -r .payment_id <<<"$outcome")
  [ "$(jq -r .state <<<"$query2")" = finished ] || fail "cut $k: query after the outcome: $query2"
  [ "$(jq -cS .outcome <<<"$query2")" = "$(jq -cS 'del(.type, .id)' <<<"$outcome")" ] \
    || fail "cut $k: query says $query2, the ECR was told $outcome"
  truth=$(sim_payments_for "$order")
  [ "$(grep -c . <<<"$truth")" = 1 ] || fail "cut $k: MobilePay has $(grep -c . <<<"$truth") payments for order $order: $truth"
  [ "$(jq -r .paymentId <<<"$truth")" = "$payment_id" ] || fail "cut $k: the ECR was told payment $payment_id, MobilePay has $truth"
  [ "$(jq -r .status <<<"$truth")" = Captured ] || fail "cut $k: MobilePay status $(jq -r .status <<<"$truth")"
  [ "$(jq -r .capturedMinor <<<"$truth")" = "$minor" ] || fail "cut $k: captured $(jq -r .capturedMinor <<<"$truth") of $minor"
  expected_captured=$((expected_captured + minor))
  # Nothing else was ever captured, and nothing is left open at MobilePay.
  all=$(sim "https://127.0.0.1:$sim_port/_sim/payments")
  captured_total=$(jq '[.payments[].capturedMinor] | add' <<<"$all")
  [ "$captured_total" = "$expected_captured" ] || fail "cut $k: MobilePay captured $captured_total in total, expected $expected_captured"
  open=$(jq -r '[.payments[] | select(.status == "Initiated" or .status == "IssuedToUser" or .status == "Reserved" or .status == "Paired")] | length' <<<"$all")
  [ "$open" = 0 ] || fail "cut $k: $open payments left open at MobilePay"
  vm_run "journalctl -b -u mposd.service --no-pager > /mnt/host/journal-$k.txt" || true
  printf 'cut %d: after %ss (MobilePay: %s); reboot %ss, READY +%ss, query then: %s; outcome %s in %ss\n' \
    "$k" "$cut_after" "${at_cut:-none}" "$reboot_s" "$(awk -v a="$ready_s" -v b="$reboot_s" 'BEGIN { printf "%.1f", a - b }')" \
    "$state1" captured "$done_s" | tee -a "$cut_log" >&2
  cuts_done=$k
done

# A last payment without a cut: the journal tells its story by order, payment and correlation
# id (the log's fields become journal fields F_ORDER_ID, F_PAYMENT_ID, F_CORRELATION_ID), and
# the client secret appears nowhere in the journal.
t=$(vm_now)
id=vm-final-$(date +%s)
order=VM-final-$RANDOM
ecr --timeout 300 --id "$id" pay 12.34 --order "$order" > "$VM_RUN/pay-final.jsonl" 2>&1 \
  || fail "the last payment failed: $(tail -n 5 "$VM_RUN/pay-final.jsonl")"
outcome=$(final_message "$VM_RUN/pay-final.jsonl" "$id")
[ "$(jq -r .result <<<"$outcome")" = captured ] || fail "the last payment: outcome $outcome"
vm_run "for i in \$(seq 1 40); do
  journalctl -b -u mposd.service --no-pager -o json F_ORDER_ID=$order > /mnt/host/trail.json
  grep -q '\"answered: captured\"' /mnt/host/trail.json && exit 0
  sleep 0.5
done; exit 1" || fail "the journal has no answer for order $order: $(cat "$VM_RUN/share/trail.json")"
trail=$(jq -c --arg p "$(jq -r .payment_id <<<"$outcome")" \
  'select(.MESSAGE == "answered: captured" and .F_PAYMENT_ID == $p and .F_COMMAND != null and (.F_CORRELATION_ID | length) > 0)' \
  "$VM_RUN/share/trail.json")
[ -n "$trail" ] || fail "the journal's answer for order $order lacks its ids: $(cat "$VM_RUN/share/trail.json")"
for step in "command accepted" "waiting for the customer" "captured"; do
  # (Not jq -e: jq 1.6 fails it when the last input line does not match.)
  [ -n "$(jq -c --arg m "$step" 'select(.MESSAGE == $m)' "$VM_RUN/share/trail.json")" ] \
    || fail "the journal has no \"$step\" line for order $order"
done
vm_run '! journalctl --no-pager | grep -F sim-secret-demo-integrator' > /dev/null \
  || fail "the client secret appears in the journal"
timing "last payment + its trail in the journal" "$(vm_since "$t")"

t=$(vm_now)
vm_poweroff
vm_check_image "$VM_RUN/disk.qcow2" || fail "qemu-img check of the disk after the cuts"
timing "clean poweroff + qemu-img check" "$(vm_since "$t")"
timing "total" "$(vm_since "$test_started")"
vm_log "passed: $cuts_done power cut(s) mid-payment, every payment captured exactly once ($((captured_total / 100)).$(printf %02d $((captured_total % 100))) DKK in total)"
printf '%s\n' "${timings[@]}" >&2
