"""Stat arithmetic with stap's integer formulas; bucket rules."""
from pytap.runtime.stats import (Stat, cdiv, cmod, linear_bucket, linear_bucket_count,
                                 log_bucket, log_bucket_value)


def stat_of(*values):
    s = Stat()
    for v in values:
        s.add(v)
    return s


def test_basic_extractors():
    s = stat_of(5, -3, 10)
    assert (s.count, s.sum, s.min, s.max) == (3, 12, -3, 10)
    assert s.avg() == 4


def test_avg_truncates_toward_zero():
    assert stat_of(-1, -2).avg() == -1        # C division, not floor (-2)
    assert stat_of(1, 2).avg() == 1


def test_variance_simple():
    assert stat_of(7).variance() == 0
    assert stat_of(1, 3).variance() == 2


def test_variance_follows_stap_integer_welford():
    # per-CPU running mean 3, M2 68, var_s 22; total variance (4 + 66) / 3
    assert stat_of(1, 2, 3, 10).variance() == 23


def test_variance_with_bit_shift():
    s = Stat(shift=4)
    for v in (1, 2, 3, 10):
        s.add(v)
    # values scaled by 16: running mean 64, M2 12800, var_s 4266;
    # S1 = 4*(64-64)^2 = 0, S2 = 3*4266 = 12798 -> /3 = 4266 >> 8 = 16
    assert s.variance(4) == 16


def test_merge_uses_total_variance():
    a = stat_of(1, 3)
    b = stat_of(10)
    m = Stat()
    m.merge(a)
    m.merge(b)
    assert (m.count, m.sum, m.min, m.max, m.avg()) == (3, 14, 1, 10, 4)
    # S1 = 2*(2-4)^2 + 1*(10-4)^2 = 44, S2 = 1*2 + 0 = 2 -> 46 / 2
    assert m.variance() == 23
    assert m.log[log_bucket(10)] == 1 and m.log[log_bucket(1)] == 1


def test_variance_from_sums_when_no_partials():
    # a Stat filled from BPF maps only knows count/sum/sumsq
    s = Stat(count=4, sum=16, min=1, max=10, sumsq=1 + 4 + 9 + 100)
    assert s.variance() == 16


def test_sum_wraps_s64():
    s = stat_of(0x7FFFFFFFFFFFFFFF, 1)
    assert s.sum == -0x8000000000000000


def test_log_buckets():
    assert log_bucket(0) == 64
    assert [log_bucket(v) for v in (1, 2, 3, 4, 7, 8)] == [65, 66, 66, 67, 67, 68]
    assert [log_bucket(v) for v in (-1, -2, -3, -4)] == [63, 62, 62, 61]
    assert log_bucket(1 << 62) == 127
    assert log_bucket(-(1 << 63)) == 0
    assert [log_bucket_value(n) for n in (64, 65, 66, 67, 63, 62, 61)] == [0, 1, 2, 4, -1, -2, -4]


def test_linear_buckets():
    assert linear_bucket_count(0, 100, 10) == 13
    assert linear_bucket(-1, 0, 100, 10) == 0
    assert linear_bucket(0, 0, 100, 10) == 1
    assert linear_bucket(9, 0, 100, 10) == 1
    assert linear_bucket(10, 0, 100, 10) == 2
    assert linear_bucket(100, 0, 100, 10) == 11     # [stop, stop+interval) is a regular bucket
    assert linear_bucket(109, 0, 100, 10) == 11
    assert linear_bucket(110, 0, 100, 10) == 12     # overflow
    assert linear_bucket(10 ** 9, 0, 100, 10) == 12
    assert linear_bucket(-25, -20, 20, 10) == 0
    assert linear_bucket(-20, -20, 20, 10) == 1


def test_linear_stat():
    s = Stat.with_linear(0, 50, 10)
    for v in (-3, 0, 49, 55, 60, 1000):
        s.add(v)
    assert s.linear == [1, 1, 0, 0, 0, 1, 1, 2]


def test_c_division():
    assert cdiv(-7, 2) == -3 and cmod(-7, 2) == -1
    assert cdiv(7, -2) == -3 and cmod(7, -2) == 1
    assert cdiv(-(1 << 63), -1) == -(1 << 63)
    assert cdiv(5, 0) == 0
