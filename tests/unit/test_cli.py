"""Command-line parsing: stap's (GNU getopt) conventions."""
from pytap.cli import parse_args


def test_options_after_the_script_are_options():
    # The examples' .meta files write `stap script.stp -T 1`.
    o = parse_args(["script.stp", "-T", "1", "arg1"])
    assert o.script_file == "script.stp"
    assert o.timeout == 1.0
    assert o.args == ["arg1"]


def test_double_dash_ends_options():
    o = parse_args(["-e", "probe begin {}", "--", "-v", "x"])
    assert o.verbose == 0
    assert o.args == ["-v", "x"]


def test_stap_compatibility_options_are_accepted():
    o = parse_args(["--all-modules", "--skip-badvars", "--suppress-time-limits", "s.stp"])
    assert o.script_file == "s.stp"
