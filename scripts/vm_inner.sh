#!/bin/bash
# Runs INSIDE the virtme-ng guest (started by scripts/vm_tests.sh).
# Usage: vm_inner.sh REPO RESULT_DIR [pytest args...]
#        vm_inner.sh REPO RESULT_DIR --exec 'SHELL COMMAND'   (debugging)
# Runs the kprobe tier with the repo's venv and leaves the output and the
# exit status in RESULT_DIR (a host directory shared read-write), because the
# guest console is not a reliable channel for long output.
set -u
repo=$1; results=$2; shift 2
export PYTAP_IN_VM=1
export PATH="$repo/.venv/bin:$PATH"
export PYTHONDONTWRITEBYTECODE=1
export PYTHONUNBUFFERED=1
# The guest sees the host root read-only (the repo is a copy-on-write
# overlay); keep caches on the guest's own tmpfs.
export XDG_CACHE_HOME=/tmp/pytap-vm-cache HOME=/tmp/pytap-vm-home
# vm_tests.sh may hand us a persistent host cache dir (shared read-write), so
# compiled BPF objects (keyed by kernel build and C source) survive boots.
[ -f "$results/env" ] && . "$results/env"
mkdir -p "$XDG_CACHE_HOME" "$HOME"
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
cd "$repo" || exit 97
{
  echo "== VM kernel $(uname -r), $(nproc) cpu(s)"
  if [ ! -e "/lib/modules/$(uname -r)/build" ]; then
    echo "== WARNING: no kernel headers for $(uname -r) (apt-get install linux-headers-amd64)"
  fi
} >"$results/output.log" 2>&1
if [ "${1:-}" = --exec ]; then
  bash -c "$2" >>"$results/output.log" 2>&1
else
  python -m pytest -m vm -p no:cacheprovider -rs --durations=0 "$@" >>"$results/output.log" 2>&1
fi
rc=$?
echo "$rc" >"$results/status"
exit "$rc"
