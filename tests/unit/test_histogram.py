"""@hist_log / @hist_linear text, hand-computed from the rules in
/work/shared/NOTES.md."""
import pytest

from pytap.runtime.histogram import render_linear, render_log
from pytap.runtime.stats import Stat

DASHES = "-" * 50


def log_of(*values):
    s = Stat()
    for v in values:
        s.add(v)
    return s


def lin_of(start, stop, interval, *values):
    s = Stat.with_linear(start, stop, interval)
    for v in values:
        s.add(v)
    return s


def row(label, width, count, cnt_space, scale=1):
    n = count // scale
    return label.rjust(width) + " |" + "@" * n + str(count).rjust(50 - n + 1 + cnt_space) + "\n"


def test_log_small():
    text = render_log(log_of(1, 2, 2, 3))
    assert text == (
        "value |" + DASHES + " count\n"
        "    0 |" + " " * 51 + "0\n"
        "    1 |@" + " " * 50 + "1\n"
        "    2 |@@@" + " " * 48 + "3\n"
        "    4 |" + " " * 51 + "0\n"
        "    8 |" + " " * 51 + "0\n"
        "\n")


def test_log_scale_over_50():
    text = render_log(log_of(*([0] * 100 + [8] * 30)))
    # scale = ceil(100 / 50) = 2, counts three digits wide
    expected = "value |" + DASHES + " count\n"
    for label, count in [("0", 100), ("1", 0), ("2", 0), ("4", 0), ("8", 30), ("16", 0), ("32", 0)]:
        expected += row(label, 5, count, 3, scale=2)
    expected += "\n"
    assert text == expected
    assert "    0 |" + "@" * 50 + " 100\n" in text
    assert "    8 |" + "@" * 15 + " " * 37 + "30\n" in text


def test_log_scale_rounds_up():
    text = render_log(log_of(*([1] * 101)))
    # ceil(101 / 50) = 3 -> 33 @
    assert "    1 |" + "@" * 33 + " " * 18 + "101\n" in text


def test_log_negatives_widen_below_zero():
    text = render_log(log_of(-1, -5, 3))
    expected = "value |" + DASHES + " count\n"
    for label, count in [("-16", 0), ("-8", 0), ("-4", 1), ("-2", 0), ("-1", 1),
                         ("0", 0), ("1", 0), ("2", 1), ("4", 0), ("8", 0)]:
        expected += row(label, 5, count, 1)
    assert text == expected + "\n"


def test_log_elision_and_wide_labels():
    text = render_log(log_of(1, 1000000))
    expected = "  value |" + DASHES + " count\n"
    for label, count in [("0", 0), ("1", 1), ("2", 0), ("4", 0)]:
        expected += row(label, 7, count, 1)
    expected += "        ~\n"
    for label, count in [("131072", 0), ("262144", 0), ("524288", 1), ("1048576", 0), ("2097152", 0)]:
        expected += row(label, 7, count, 1)
    assert text == expected + "\n"


def test_log_only_zero():
    text = render_log(log_of(0, 0))
    expected = "value |" + DASHES + " count\n"
    for label, count in [("0", 2), ("1", 0), ("2", 0)]:
        expected += row(label, 5, count, 1)
    assert text == expected + "\n"


def test_linear_under_and_overflow():
    s = lin_of(0, 100, 10, -5, 5, 15, 15, 95, 100, 105, 200)
    expected = "value |" + DASHES + " count\n"
    for label, count in [("<0", 1), ("0", 1), ("10", 2), ("20", 0), ("30", 0)]:
        expected += row(label, 5, count, 1)
    expected += "      ~\n"
    for label, count in [("70", 0), ("80", 0), ("90", 1), ("100", 2), (">100", 1)]:
        expected += row(label, 5, count, 1)
    assert render_linear(s, 0, 100, 10) == expected + "\n"


def test_linear_without_under_overflow():
    s = lin_of(0, 50, 10, 20, 20, 30)
    expected = "value |" + DASHES + " count\n"
    for label, count in [("0", 0), ("10", 0), ("20", 2), ("30", 1), ("40", 0), ("50", 0)]:
        expected += row(label, 5, count, 1)
    assert render_linear(s, 0, 50, 10) == expected + "\n"


def test_linear_negative_start():
    s = lin_of(-20, 20, 10, -25, -20, 0, 25, 35)
    expected = "value |" + DASHES + " count\n"
    for label, count in [("<-20", 1), ("-20", 1), ("-10", 0), ("0", 1), ("10", 0),
                         ("20", 1), (">20", 1)]:
        expected += row(label, 5, count, 1)
    assert render_linear(s, -20, 20, 10) == expected + "\n"


def test_linear_wide_value_column():
    # width: digits(start + interval * highest shown index) (+1 with overflow)
    s = lin_of(0, 1000000, 100000, 950000)
    text = render_linear(s, 0, 1000000, 100000)
    # data in bucket 10 (label 900000); shown 8..12, 12 = overflow is empty
    # so hidden: highest shown 11 -> digits(1100000) = 7
    lines = text.splitlines()
    assert lines[0] == "  value |" + DASHES + " count"
    assert lines[1] == row("700000", 7, 0, 1).rstrip("\n")
    assert lines[-2] == row("1000000", 7, 0, 1).rstrip("\n")
    assert text.endswith("\n\n")


def test_empty_renders_only_the_header():
    # the interpreter reports "empty aggregate" before rendering; the
    # renderer itself stays well-defined
    assert render_log(Stat()) == "value |" + DASHES + " count\n\n"
    assert render_linear(Stat.with_linear(0, 10, 1), 0, 10, 1) == "value |" + DASHES + " count\n\n"


def test_hist_elision_setting():
    s = log_of(1, 1000000)
    # negative: every row between the widened ends is printed
    assert "~" not in render_log(s, elision=-1)
    assert len(render_log(s, elision=-1).splitlines()) == 1 + 23 + 1
    # 0: every empty row is elided
    # 0: every empty row is elided; a "~" line only precedes a printed row
    assert render_log(s, elision=0) == (
        "  value |" + DASHES + " count\n"
        "        ~\n" + row("1", 7, 1, 1) + "        ~\n" + row("524288", 7, 1, 1) +
        "\n")


# ------------------------------------------------------------------------
# Differential check against SystemTap's own run-time C.  The harness is
# compiled at test time against the installed stap runtime (read-only; no
# SystemTap code is part of pytap) and prints stap's histogram text and
# integer variance for the same values.

_HARNESS = r'''
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#define noinline
#define unlikely(x) (x)
#define likely(x) (x)
#define min(a,b) ((a)<(b)?(a):(b))
#define max(a,b) ((a)>(b)?(a):(b))
#define min_t(t,a,b) ((t)(a)<(t)(b)?(t)(a):(t)(b))
#define do_div(n,base) ({ uint32_t __rem = (n) % (base); (n) /= (base); __rem; })
static void _stp_warn(const char *f, ...) {}
static int _stp_snprintf(char *buf, size_t size, const char *fmt, ...) {
  va_list ap; va_start(ap, fmt); int n = vprintf(fmt, ap); va_end(ap); return n; }
static void _stp_print_flush(void) {}
static int64_t _stp_div64(const char **e, int64_t x, int64_t y) {
  if (!y) return 0; if (y == -1) return -x; return x / y; }
#include "RUNTIME/stat.h"
#include "RUNTIME/stat-common.c"
int main(int argc, char **argv) {
  struct _Hist h = {0};
  int i = 1;
  if (!strcmp(argv[i], "log")) { h.type = HIST_LOG; h.buckets = HIST_LOG_BUCKETS; i++; }
  else { h.type = HIST_LINEAR; h.start = atoi(argv[i+1]); h.stop = atoi(argv[i+2]);
         h.interval = atoi(argv[i+3]); h.buckets = _stp_stat_calc_buckets(h.stop, h.start, h.interval);
         i += 4; }
  stat_data *sd = calloc(1, sizeof(stat_data) + sizeof(int64_t) * h.buckets);
  for (; i < argc; i++) __stp_stat_add(&h, sd, strtoll(argv[i], 0, 10), 1, 1, 1, 1, 1);
  _stp_stat_print_histogram_buf(NULL, 0, &h, sd);
  int64_t avg_s = _stp_div64(NULL, sd->sum << sd->shift, sd->count);
  int64_t S1 = sd->count * (sd->avg_s - avg_s) * (sd->avg_s - avg_s);
  int64_t S2 = (sd->count - 1) * sd->variance_s;
  fprintf(stderr, "%lld\n", (long long)(_stp_div64(NULL, S1 + S2, sd->count - 1) >> (2 * sd->shift)));
  return 0;
}
'''
_RUNTIME = "/usr/share/systemtap/runtime"


@pytest.mark.oracle
def test_against_stap_runtime_c(tmp_path):
    import os
    import random
    import shutil
    import subprocess
    if shutil.which("gcc") is None or not os.path.exists(_RUNTIME + "/stat-common.c"):
        pytest.skip("needs gcc and SystemTap's runtime sources in " + _RUNTIME)
    src = tmp_path / "h.c"
    src.write_text(_HARNESS.replace("RUNTIME", _RUNTIME))
    exe = tmp_path / "h"
    r = subprocess.run(["gcc", "-w", "-o", str(exe), str(src)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot build the stap runtime harness: " + r.stderr[-200:])
    rnd = random.Random(4711)
    for _ in range(150):
        mode = rnd.choice(["small", "wide", "neg", "huge"])

        def val():
            if mode == "small":
                return rnd.randint(0, 20)
            if mode == "wide":
                return rnd.randint(-1000, 100000)
            if mode == "neg":
                return rnd.randint(-50, 5)
            return rnd.choice([rnd.randint(-2 ** 40, 2 ** 40), rnd.randint(0, 7)])
        vals = [val() for _ in range(rnd.choice([1, 2, 3, 5, 20, 100]))]
        if rnd.random() < 0.3:
            vals += [vals[0]] * rnd.randint(50, 200)          # scale > 50
        if rnd.random() < 0.5:
            s = Stat()
            args = ["log"]
            for v in vals:
                s.add(v)
            mine = render_log(s)
        else:
            start = rnd.choice([0, -20, 5, 100, -1000])
            interval = rnd.choice([1, 2, 10, 25, 100])
            stop = start + interval * rnd.randint(1, 40)
            s = lin_of(start, stop, interval, *vals)
            args = ["linear", str(start), str(stop), str(interval)]
            mine = render_linear(s, start, stop, interval)
        out = subprocess.run([str(exe)] + args + [str(v) for v in vals],
                             capture_output=True, text=True)
        assert mine == out.stdout, (args, vals)
        assert s.variance() == int(out.stderr), (args, vals)
