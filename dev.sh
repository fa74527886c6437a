#!/bin/bash
# pytap developer entry point.  Every command first runs scripts/setup.sh for
# what it needs (idempotent), so each one works on a fresh Debian 12 machine.
#
#   ./dev.sh demo            set up, run samples/timer_alias.stp for 7 seconds
#   ./dev.sh test [ARGS]     set up, run the whole test suite, tier by tier:
#                              1 unit + golden       (no root)
#                              2 runtime             (root, loads BPF)
#                              3 oracle              (compares with stap)
#                              4 vm                  (kprobes, one VM boot)
#                            ARGS go to every pytest run (e.g. -x, -k NAME).
#                            PYTAP_SKIP_VM=1 leaves out tier 4.
#   ./dev.sh bench           set up, run the benchmarks (bench/run_all.sh)
#   ./dev.sh setup [TIER]    only set up (run|test|bench|all)
set -uo pipefail

repo=$(cd "$(dirname "$0")" && pwd)
cd "$repo"
py="$repo/.venv/bin/python"

cmd=${1:-help}
[ $# -gt 0 ] && shift

setup() { bash "$repo/scripts/setup.sh" "$1" || exit 1; }

# One test tier: its own pytest run, so a tier that collects nothing is seen.
# Usage: tier NAME MUST_HAVE_TESTS pytest-args...
declare -a summary=()
failed=0
tier() {
  local name=$1 required=$2; shift 2
  echo
  echo "=================== tier: $name ==================="
  # A hung test must not eat CI's 90 minutes: each host tier gets 15.
  timeout -k 30 "${PYTAP_TIER_TIMEOUT:-900}" "$@"
  local rc=$?
  case $rc in
    0) summary+=("PASS     $name");;
    5) if [ "$required" = yes ]; then
         summary+=("FAIL     $name: collected no tests (the suite must have tests here)")
         failed=1
       else
         summary+=("NO TESTS $name (nothing collected for this tier)")
       fi;;
    124|137) summary+=("FAIL     $name (timed out)"); failed=1;;
    *) summary+=("FAIL     $name (exit $rc)"); failed=1;;
  esac
}

case "$cmd" in
  demo)
    setup run
    echo "+ pytap -T 7 samples/timer_alias.stp" >&2
    exec "$repo/.venv/bin/pytap" -T 7 samples/timer_alias.stp
    ;;
  test)
    setup test
    export PYTHONUNBUFFERED=1
    pt=("$py" -m pytest -rs "$@")
    tier "unit + golden" yes "${pt[@]}" -m "not root and not oracle and not vm" tests
    tier "runtime (root, BPF)" no "${pt[@]}" -m "root and not vm" tests
    tier "oracle (stap)" no "${pt[@]}" -m "oracle and not root and not vm" tests
    if [ "${PYTAP_SKIP_VM:-0}" = 1 ]; then
      summary+=("SKIPPED  vm (PYTAP_SKIP_VM=1)")
    else
      PYTAP_TIER_TIMEOUT=2000 tier "vm (kprobes)" yes bash "$repo/scripts/vm_tests.sh" "$@" tests/vm
    fi
    echo
    echo "=================== summary ==================="
    printf '%s\n' "${summary[@]}"
    exit $failed
    ;;
  bench)
    setup bench
    exec bash "$repo/bench/run_all.sh" "$@"
    ;;
  setup)
    setup "${1:-all}"
    ;;
  help|-h|--help)
    awk 'NR>1 && /^#/ { sub(/^# ?/, ""); print; next } NR>1 { exit }' "$0"
    ;;
  *)
    echo "dev.sh: unknown command '$cmd'" >&2
    awk 'NR>1 && /^#/ { sub(/^# ?/, ""); print; next } NR>1 { exit }' "$0" >&2
    exit 2
    ;;
esac
