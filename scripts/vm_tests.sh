#!/bin/bash
# The kprobe test tier: boots Debian's stock kernel (which has kprobes; this
# host's kernel does not) ONCE under qemu with virtme-ng, with this machine's
# filesystem as the guest root, and runs `pytest -m vm tests/vm` inside.
# Prints the guest's test output and exits with pytest's status.
#
# Usage: scripts/vm_tests.sh [pytest args...]   (default: tests/vm)
#        scripts/vm_tests.sh --exec 'CMD'       run CMD in the VM instead, from
#            the repo root with the venv on PATH (e.g. to try a kprobe script:
#            --exec '.venv/bin/pytap -c "cat /etc/hostname" my.stp')
# Env:   PYTAP_VM_KERNEL   kernel image (default: newest /boot/vmlinuz-6.1.*)
#        PYTAP_VM_MEMORY   guest memory (default 2G)
#        PYTAP_VM_TIMEOUT  seconds before the boot is abandoned (default 1800)
#        PYTAP_VM_KVM=1    use KVM when /dev/kvm works (default: TCG)
#        PYTAP_VM_CACHE    host dir kept across boots as the guest's
#                          XDG_CACHE_HOME (pytap's compiled-object, BTF and
#                          tapset caches); default /var/tmp/pytap-vm-cache,
#                          empty: a fresh cache every boot
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$repo/.venv/bin:$PATH"

die() { echo "vm_tests: $*" >&2; exit 2; }

command -v vng >/dev/null || die "vng not found: run scripts/setup.sh test (installs virtme-ng into .venv)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing: apt-get install qemu-system-x86"

kernel=${PYTAP_VM_KERNEL:-$(ls -1v /boot/vmlinuz-6.1.* 2>/dev/null | tail -n 1)}
[ -n "$kernel" ] && [ -r "$kernel" ] || die "no /boot/vmlinuz-6.1.* kernel: apt-get install linux-image-amd64"
kver=${kernel##*/vmlinuz-}
[ -e "/lib/modules/$kver/build" ] || die "no headers for $kver: apt-get install linux-headers-amd64"

results=$(mktemp -d /tmp/pytap-vm.XXXXXX)
trap 'rm -rf "$results"' EXIT

rw_cache=()
cache=${PYTAP_VM_CACHE-/var/tmp/pytap-vm-cache}
if [ -n "$cache" ] && mkdir -p "$cache" 2>/dev/null; then
  printf 'XDG_CACHE_HOME=%q\n' "$cache" >"$results/env"
  rw_cache=(--rwdir "$cache")
fi

# opt-in VM tests (tests/vm/test_exit_race.py) follow the host's setting
[ -n "${PYTAP_EXIT_RACE:-}" ] && printf 'export PYTAP_EXIT_RACE=%q\n' "$PYTAP_EXIT_RACE" >>"$results/env"

args=("$@")
[ ${#args[@]} -gt 0 ] || args=(tests/vm)
# Quote for the guest shell.
inner="bash $(printf '%q ' "$repo/scripts/vm_inner.sh" "$repo" "$results" "${args[@]}")"

kvm_flag=--disable-kvm
if [ "${PYTAP_VM_KVM:-0}" = 1 ] && [ -w /dev/kvm ]; then kvm_flag=; fi

echo "vm_tests: booting $kernel (qemu ${kvm_flag:+TCG, }one boot for all kprobe tests)" >&2
start=$(date +%s)
timeout --foreground -k 10 "${PYTAP_VM_TIMEOUT:-1800}" \
  vng --run "$kernel" $kvm_flag --memory "${PYTAP_VM_MEMORY:-2G}" \
      --cpus 2 --rwdir "$results" "${rw_cache[@]}" --overlay-rwdir "$repo" --cwd "$repo" \
      --exec "$inner" </dev/null >"$results/console.log" 2>&1
vng_rc=$?
# timeout ends vng, not the qemu it started: stop whatever of this boot is
# left (its command line names our results directory)
pkill -KILL -f -- "$results" 2>/dev/null || true
echo "vm_tests: VM finished in $(( $(date +%s) - start ))s (vng status $vng_rc)" >&2

if [ -f "$results/output.log" ]; then
  cat "$results/output.log"
fi
if [ -f "$results/status" ]; then
  exit "$(cat "$results/status")"
fi
echo "vm_tests: the VM did not report a test status; its console said:" >&2
tail -n 50 "$results/console.log" >&2
[ "$vng_rc" -ne 0 ] && exit "$vng_rc"
exit 2
