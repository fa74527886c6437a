"""pytap kprobe cases, run inside the VM (scripts/vm_tests.sh).

Each tests/vm/cases/NAME.stp runs under pytap to completion; its stdout must
equal NAME.out and it must exit 0.  A `# pytap-args: ...` comment line gives
the command-line options (shell-quoted), typically `-c CMD` so the script
ends with its workload and target() selects it.
"""
import os
import shlex
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.vm

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CASES = sorted((HERE / "cases").glob("*.stp"))
PYTAP = REPO / ".venv" / "bin" / "pytap"


def case_args(script: Path):
    for line in script.read_text().splitlines():
        if line.startswith("# pytap-args:"):
            return shlex.split(line.split(":", 1)[1])
    return []


@pytest.mark.parametrize("script", CASES, ids=[c.stem for c in CASES])
def test_case(script):
    expected = script.with_suffix(".out").read_text()
    cmd = [str(PYTAP), *case_args(script), str(script.relative_to(REPO))]
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600,
                       stdin=subprocess.DEVNULL, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    detail = f"$ {shlex.join(cmd)}\n--- stdout\n{r.stdout}--- stderr\n{r.stderr}"
    assert r.returncode == 0, detail
    assert r.stdout == expected, detail
