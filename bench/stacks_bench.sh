#!/bin/sh
# Per-sample BPF cost of the classic kernel-stack profile, pytap against
# bpftrace, from the kernel's own accounting (kernel.bpf_stats_enabled:
# run_time_ns / run_cnt in /proc/PID/fdinfo of each tool's program fds).
#   pytap:    timer.profile { s[backtrace()] <<< 1 }        (every CPU, 1 kHz)
#   bpftrace: profile:hz:99 { @[kstack] = count(); }         (every CPU, 99 Hz)
# and the same with the user stack too (s[backtrace(), ubacktrace()] / @[kstack, ustack]).
# Usage (root): bench/stacks_bench.sh [SECONDS]
T=${1:-10}
cd "$(dirname "$0")/.."
old=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -q -w kernel.bpf_stats_enabled=1
cost() {    # PID LABEL
  cat /proc/$1/fdinfo/* 2>/dev/null | awk -v l="$2" '
    /^prog_type:/ {p=1} p && /^run_time_ns:/ {t+=$2} p && /^run_cnt:/ {c+=$2; p=0}
    END {if (c) printf "%-13s %6.0f ns/sample  (%d samples)\n", l, t/c, c; else print l ": no samples"}'
}
printf 'global s[65536]\nprobe timer.profile { s[backtrace()] <<< 1 }\nprobe timer.s(%s) { exit() }\nprobe end { delete s }\n' "$T" > /tmp/pytap_bench_prof.stp
./.venv/bin/pytap /tmp/pytap_bench_prof.stp > /dev/null &
P=$!; sleep $((T - 1)); cost $P pytap; wait $P
printf 'global s[65536]\nprobe timer.profile { s[backtrace(), ubacktrace()] <<< 1 }\nprobe timer.s(%s) { exit() }\nprobe end { delete s }\n' "$T" > /tmp/pytap_bench_prof2.stp
./.venv/bin/pytap /tmp/pytap_bench_prof2.stp > /dev/null &
P=$!; sleep $((T - 1)); cost $P "pytap k+u"; wait $P
if command -v bpftrace >/dev/null; then
  bpftrace -e "profile:hz:99 { @[kstack] = count(); } interval:s:$T { exit(); }" > /dev/null 2>&1 &
  P=$!; sleep $((T - 1)); cost $P bpftrace; wait $P
  bpftrace -e "profile:hz:99 { @[kstack, ustack] = count(); } interval:s:$T { exit(); }" > /dev/null 2>&1 &
  P=$!; sleep $((T - 1)); cost $P "bpftrace k+u"; wait $P
fi
sysctl -q -w kernel.bpf_stats_enabled="$old"
