# Functions to boot, drive and power-cut the arm64 test VM (sourced by scripts/vm-test.sh).
#
# The VM: qemu-system-aarch64 -M virt with TCG, the cached image from scripts/vm/image.sh
# behind a per-run qcow2 overlay (the cached image is never written), user-mode networking
# (the guest reaches the host's loopback as 10.0.2.2), a 16550 UART (guest /dev/ttyS0) whose
# other end is a pseudo-terminal on the host, the console in a log file, and a 9p shared
# folder through which scripts/vm/guest/vm-agent runs commands.
#
# Needs: VM_IMAGE (image directory), VM_RUN (this run's folder). Sets: VM_PID, VM_PTY,
# VM_BOOTS (boot counter), VM_CONSOLE (this boot's console log).

VM_BOOTS=0

vm_log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

vm_now() { date +%s.%N; }
vm_since() { awk -v a="$1" -v b="$(vm_now)" 'BEGIN { printf "%.1f", b - a }'; }

vm_create_disk() {
  mkdir -p "$VM_RUN/share/cmd"
  qemu-img create -q -f qcow2 -b "$VM_IMAGE/rootfs.img" -F raw "$VM_RUN/disk.qcow2"
}

# Starts QEMU and waits until it has said which pty the guest's ttyS0 is on.
vm_start() {
  VM_BOOTS=$((VM_BOOTS + 1))
  VM_CONSOLE=$VM_RUN/console-$VM_BOOTS.log
  local err=$VM_RUN/qemu-$VM_BOOTS.err
  rm -f "$VM_RUN/share/cmd/ready"
  : > "$err"
  VM_BOOT_STARTED=$(vm_now)
  qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m 1024 \
    -nodefaults -display none -no-reboot \
    -kernel "$VM_IMAGE/vmlinuz" -initrd "$VM_IMAGE/initrd.img" \
    -append 'root=/dev/vda ro console=ttyAMA0 panic=-1' \
    -drive file="$VM_RUN/disk.qcow2",format=qcow2,if=virtio \
    -chardev file,id=con0,path="$VM_CONSOLE" -serial chardev:con0 \
    -chardev pty,id=ecr0 -device pci-serial,chardev=ecr0 \
    -netdev user,id=net0 -device virtio-net-pci,netdev=net0,romfile= \
    -device virtio-rng-pci \
    -virtfs local,path="$VM_RUN/share",mount_tag=host0,security_model=none,id=host0 \
    </dev/null >"$err" 2>&1 &
  VM_PID=$!
  local i
  for i in $(seq 1 100); do
    VM_PTY=$(sed -n 's/.*char device redirected to \(\/dev\/pts\/[0-9]*\) (label ecr0).*/\1/p' "$err")
    [ -n "$VM_PTY" ] && break
    if ! kill -0 "$VM_PID" 2>/dev/null; then
      cat "$err" >&2
      vm_log "QEMU did not start"
      return 1
    fi
    sleep 0.1
  done
  if [ -z "$VM_PTY" ]; then
    vm_log "QEMU did not report the pty of the guest's ttyS0"
    return 1
  fi
  vm_log "boot $VM_BOOTS: QEMU pid $VM_PID, guest ttyS0 = host $VM_PTY"
}

# Waits until the guest's agent runs (systemd is up, the shared folder is mounted).
vm_wait_ready() {
  local timeout=${1:-240} started
  started=$(vm_now)
  while [ ! -f "$VM_RUN/share/cmd/ready" ]; do
    if ! kill -0 "$VM_PID" 2>/dev/null; then
      vm_log "the VM stopped while booting; console:"
      tail -n 40 "$VM_CONSOLE" >&2
      return 1
    fi
    if [ "$(awk -v a="$started" -v b="$(vm_now)" -v t="$timeout" 'BEGIN { print (b - a > t) }')" = 1 ]; then
      vm_log "the VM did not come up within $timeout s; console:"
      tail -n 40 "$VM_CONSOLE" >&2
      return 1
    fi
    sleep 0.2
  done
  VM_BOOT_SECONDS=$(vm_since "$VM_BOOT_STARTED")
  vm_log "boot $VM_BOOTS: agent ready after $VM_BOOT_SECONDS s"
}

# Runs a shell script in the guest as root; prints its output; returns its exit status.
#   vm_run [--timeout S] SCRIPT
vm_run() {
  local timeout=300
  if [ "$1" = --timeout ]; then
    timeout=$2
    shift 2
  fi
  # Unique name without a counter: vm_run often runs in a command substitution (a subshell).
  local base=$VM_RUN/share/cmd/c$(date +%s%N)-$RANDOM started
  printf '%s\n' "$1" > "$base.tmp"
  mv "$base.tmp" "$base.sh"
  started=$(vm_now)
  while [ ! -f "$base.rc" ]; do
    if ! kill -0 "$VM_PID" 2>/dev/null; then
      vm_log "the VM stopped while running: $1"
      return 1
    fi
    if [ "$(awk -v a="$started" -v b="$(vm_now)" -v t="$timeout" 'BEGIN { print (b - a > t) }')" = 1 ]; then
      vm_log "no answer from the guest within $timeout s to: $1"
      return 1
    fi
    sleep 0.1
  done
  cat "$base.out"
  return "$(cat "$base.rc")"
}

# Power cut: SIGKILL to QEMU. The guest's page cache and QEMU's in-flight writes are lost.
vm_cut() {
  kill -9 "$VM_PID" 2>/dev/null || true
  wait "$VM_PID" 2>/dev/null || true
  VM_PID=
  # Commands the guest had not finished will never finish.
  rm -f "$VM_RUN"/share/cmd/*.sh "$VM_RUN"/share/cmd/*.run
}

# Clean shutdown; a power cut if the guest does not stop within 60 s.
vm_poweroff() {
  [ -n "${VM_PID:-}" ] || return 0
  printf 'systemctl poweroff\n' > "$VM_RUN/share/cmd/poweroff.sh"
  local i
  for i in $(seq 1 600); do
    kill -0 "$VM_PID" 2>/dev/null || break
    sleep 0.1
  done
  vm_cut
}

# Checks the disk image after the cuts. A SIGKILL to QEMU may leave qcow2 clusters that are
# allocated but referenced by nothing (`qemu-img check` exit 3, "leaked clusters"): that is
# the host file's bookkeeping, costs only space and cannot hide a guest write. Corruption
# (exit 2) or a check that could not run (exit 1) fails.
vm_check_image() {
  local rc=0
  qemu-img check "$1" > "$VM_RUN/qemu-img-check.log" 2>&1 || rc=$?
  case $rc in
    0) return 0 ;;
    3) vm_log "qemu-img check: leaked clusters only (QEMU was killed): $(grep -c '^Leaked cluster' "$VM_RUN/qemu-img-check.log")"
       return 0 ;;
    *) cat "$VM_RUN/qemu-img-check.log" >&2
       return 1 ;;
  esac
}
