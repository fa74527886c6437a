"""@hist_log / @hist_linear text, hand-computed from the rules in
/work/shared/NOTES.md."""
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
