"""Every probe alias of the I/O and network tapset families resolves and
attaches on a kernel with kprobes (run inside the VM, scripts/vm_tests.sh).

One short run per family: each alias gets a handler that counts its hits,
a timer ends the run, and the run must exit 0 having printed its end line.
Families whose kernel code is a module that is not loaded (nfs, nfsd,
sunrpc, scsi) are loaded first when the VM can; otherwise skipped.
"""
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.vm

REPO = Path(__file__).resolve().parent.parent.parent
PYTAP = REPO / ".venv" / "bin" / "pytap"

FAMILIES = ["vfs", "generic", "ioblock", "ioblock_trace", "ioscheduler", "ioscheduler_trace",
            "netdev", "tcp", "udp", "socket", "ipmib", "tcpmib", "linuxmib", "tty", "netfilter"]


@pytest.mark.parametrize("family", FAMILIES)
def test_family_attaches(family):
    script = (f"global hits\n"
              f"probe {family}.* ?, {family}.*.* ?, {family}.*.*.* ? {{ hits++ }}\n"
              f"probe timer.s(2) {{ exit() }}\n"
              f"probe end {{ println(\"{family} attached\") }}\n")
    r = subprocess.run([str(PYTAP), "-e", script], cwd=REPO, capture_output=True, text=True,
                       timeout=900, stdin=subprocess.DEVNULL,
                       env=dict(os.environ, PYTHONUNBUFFERED="1"))
    detail = f"--- stdout\n{r.stdout}--- stderr\n{r.stderr}"
    assert r.returncode == 0, detail
    assert r.stdout.endswith(f"{family} attached\n"), detail
