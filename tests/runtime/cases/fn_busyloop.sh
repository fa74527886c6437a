#!/bin/sh
# a CPU-bound shell loop: almost all of its time is spent in user mode
i=0
while [ $i -lt 300000 ]; do i=$((i + 1)); done
