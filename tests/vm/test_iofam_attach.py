"""Every probe alias of the I/O and network tapset families resolves and
attaches on a kernel with kprobes (run inside the VM, scripts/vm_tests.sh).

One run covers them all (each BCC compile is slow under TCG): every alias
gets a handler that counts its hits, a timer ends the run, and the run must
exit 0 having printed its end line.  An alias that fails to resolve or to
attach fails the run with an error naming it.
"""
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.vm

REPO = Path(__file__).resolve().parent.parent.parent
PYTAP = REPO / ".venv" / "bin" / "pytap"

FAMILIES = ("vfs", "generic", "ioblock", "ioblock_trace", "ioscheduler", "ioscheduler_trace",
            "netdev", "tcp", "udp", "socket", "ipmib", "tcpmib", "linuxmib", "tty", "netfilter")

# events some kernels no longer have (their alias locations are optional)
OPTIONAL = {"ioblock_trace.bounce", "ioscheduler_trace.unplug_timer",
            "ioscheduler.elv_add_request.kp", "ioscheduler.elv_next_request"}


def aliases():
    r = subprocess.run([str(PYTAP), "--dump-probe-aliases"], capture_output=True, text=True)
    names = sorted({line.split()[0] for line in r.stdout.splitlines() if line.strip()})
    return [n for n in names if n.split(".")[0] in FAMILIES]


def test_every_alias_attaches():
    names = aliases()
    assert len(names) > 100
    points = ", ".join(n + (" ?" if n in OPTIONAL else "") for n in names)
    script = (f"global hits\n"
              f"probe {points} {{ hits++ }}\n"
              f"probe timer.s(2) {{ exit() }}\n"
              f"probe end {{ if (hits >= 0) println(\"all attached\") }}\n")
    r = subprocess.run([str(PYTAP), "-e", script], cwd=REPO, capture_output=True, text=True,
                       timeout=1500, stdin=subprocess.DEVNULL,
                       env=dict(os.environ, PYTHONUNBUFFERED="1"))
    detail = f"--- stdout\n{r.stdout}--- stderr\n{r.stderr}"
    assert r.returncode == 0, detail
    assert r.stdout.endswith("all attached\n"), detail


def test_nfs_aliases_attach():
    """nfs.fop.* / nfs.aop.* are kprobes on the nfs module: load it first
    (its BTF then describes struct nfs_inode / nfs_server too)."""
    if subprocess.run(["modprobe", "nfs"], capture_output=True).returncode != 0:
        pytest.skip("cannot load the nfs module in this VM")
    script = ("global hits\n"
              "probe nfs.fop.*, nfs.aop.* { hits++ }\n"
              "probe nfs.fop.read_iter { printf(\"%d %d\", cache_valid, attrtimeo) }\n"
              "probe timer.s(2) { exit() }\n"
              "probe end { if (hits >= 0) println(\"nfs attached\") }\n")
    r = subprocess.run([str(PYTAP), "-e", script], cwd=REPO, capture_output=True, text=True,
                       timeout=900, stdin=subprocess.DEVNULL,
                       env=dict(os.environ, PYTHONUNBUFFERED="1"))
    detail = f"--- stdout\n{r.stdout}--- stderr\n{r.stderr}"
    assert r.returncode == 0, detail
    assert r.stdout.endswith("nfs attached\n"), detail
