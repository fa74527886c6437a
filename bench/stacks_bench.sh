#!/bin/sh
# Per-sample BPF cost of `timer.profile { s[backtrace()] <<< 1 }` from the
# kernel's own accounting (kernel.bpf_stats_enabled; run_time_ns / run_cnt
# in /proc/PID/fdinfo of the program fds).  Usage (root): bench/stacks_bench.sh [SECONDS]
T=${1:-10}
cd "$(dirname "$0")/.."
sysctl -q -w kernel.bpf_stats_enabled=1
printf 'global s\nprobe timer.profile { s[backtrace()] <<< 1 }\nprobe timer.s(%s) { exit() }\n' "$T" > /tmp/pytap_bench_prof.stp
./.venv/bin/pytap /tmp/pytap_bench_prof.stp > /dev/null &
P=$!
sleep $((T - 1))
PY=$(pgrep -P $P python3 2>/dev/null || echo $P)
cat /proc/$P/fdinfo/* 2>/dev/null | awk '/^prog_type:/ {p=1} p && /run_time_ns/ {t+=$2} p && /run_cnt/ {c+=$2; p=0}
  END {if (c) printf "pytap: %.0f ns/sample over %d samples\n", t/c, c; else print "pytap: no stats"}'
wait
sysctl -q -w kernel.bpf_stats_enabled=0
