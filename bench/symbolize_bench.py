"""Time to symbolize and format 10,000 distinct kernel stacks (print_stack
text), user space only: kallsyms load + lookups + stap's line format.
Usage: python bench/symbolize_bench.py"""
import random
import time

from pytap.runtime import stacks
from pytap.runtime.symbols import KERNEL

t0 = time.perf_counter()
KERNEL.lookup(0)
t1 = time.perf_counter()
addrs = [a for a in KERNEL._addrs if a >= 0xffffffff81000000][:50000]
rnd = random.Random(1)
texts = set()
while len(texts) < 10000:
    texts.add("".join(f"{a + rnd.randrange(1, 64):#x} " for a in rnd.sample(addrs, 12)))
t2 = time.perf_counter()
out = [stacks.format_kind("S", t) for t in texts]
t3 = time.perf_counter()
print(f"kallsyms load: {t1 - t0:.3f} s ({len(KERNEL._addrs)} symbols)")
print(f"10,000 distinct 12-frame stacks symbolized+formatted: {t3 - t2:.3f} s "
      f"({sum(o.count(chr(10)) for o in out)} lines)")
