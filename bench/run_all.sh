#!/bin/bash
# All benchmarks side by side, in one run; markdown tables on stdout.
# Needs root (loads BPF), gcc, bpftrace (./dev.sh bench installs them).
# Options go to the syscall benchmarks: -n ITERATIONS -r REPS.
set -u
here=$(cd "$(dirname "$0")" && pwd)
py="$here/../.venv/bin/python"
[ -x "$py" ] || py=python3
cd "$here"
echo "## pytap benchmarks ($(uname -r), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ))"
echo
"$py" bench_startup.py
"$py" bench_syscall.py "$@"
"$py" bench_maps.py "$@"
"$py" bench_output.py
"$py" bench_syscall_tapset.py "$@"
