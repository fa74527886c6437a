"""$$parms / $$vars / $$locals / $$return of kernel.function points come
from the function's BTF prototype (stap reads DWARF; same names, same
"name=%#x" text): pass 2 turns them into sprintf over the $parameters."""
import subprocess
import sys

import pytest

SCRIPT = ('probe kernel.function("vfs_read").return '
          '{ println($$parms, "|", $$vars, "|", $$locals, "|", $$return) }')


def test_pretty_vars_of_a_kernel_function():
    r = subprocess.run([sys.executable, "-m", "pytap", "-p2", "-v", "-e", SCRIPT],
                       capture_output=True, text=True, timeout=300)
    if "no match" in r.stderr or "Permission denied" in r.stderr:
        pytest.skip("vfs_read not visible here: " + r.stderr[-200:])
    assert r.returncode == 0, r.stderr
    parms = 'sprintf("file=%#x buf=%#x count=%#x pos=%#x", $file, $buf, $count, $pos)'
    body = r.stdout + r.stderr
    assert f'println({parms}, "|", {parms}, "|", sprintf(""), "|", sprintf("return=%#x", $return))' in body, body
