"""Root must never run code from a cache someone else can write
(pytap/cachefs.py).  Each test fills a cache with a real run, replaces every
code-carrying entry (pickled tapset trees, jinja2 bytecode, whose header is a
pickle too) by a pickle whose loading creates a marker file, then runs pytap
again as root:

  * cache entries that are root's alone ARE loaded (the control: proves the
    planted entries sit where a warm run reads them);
  * a cache directory or file owned by another user, or a directory group-
    or world-writable, is NOT loaded: no marker, same output, exit 0.

Also: pytap works with a missing or read-only cache directory.
"""
from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parent.parent.parent
SCRIPT = 'probe begin { printf("%d\\n", pid() > 0) }'
NOBODY = 65534


def _pytap(cache_home, *words, wrap=()):
    env = dict(os.environ, XDG_CACHE_HOME=str(cache_home), PYTHONPATH=str(REPO))
    env.pop("PYTAP_NO_CACHE", None)
    return subprocess.run(list(wrap) + [sys.executable, "-m", "pytap", *words],
                          capture_output=True, text=True, timeout=120, env=env, cwd="/")


class _Plant:
    """Unpickling this creates `path` (as whoever unpickles it)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _plant(cache: Path, marker: Path) -> int:
    """Replace every pickle and jinja2 bytecode entry; returns how many."""
    import jinja2.bccache
    payload = pickle.dumps(_Plant(marker))
    n = 0
    for p in cache.rglob("*"):
        if p.suffix == ".pickle":
            p.write_bytes(payload)
        elif p.parent.name == "jinja":
            p.write_bytes(jinja2.bccache.bc_magic + payload)
        else:
            continue
        n += 1
    return n


@pytest.fixture
def warm(tmp_path):
    """(cache home, cache root, marker, expected stdout) after a cold -p3."""
    if os.geteuid() != 0:
        pytest.skip("needs root: the point is what root loads")
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    cold = _pytap(home, "-p3", "-e", SCRIPT)
    assert cold.returncode == 0, cold.stderr
    cache = home / "pytap"
    marker = tmp_path / "planted-code-ran"
    assert _plant(cache, marker) >= 2          # tapset tree(s) and templates
    return home, cache, marker, cold.stdout


def _chown_tree(path: Path, uid: int) -> None:
    for p in [path, *path.rglob("*")]:
        os.chown(p, uid, -1)


def test_control_entries_we_own_are_loaded(warm):
    home, _cache, marker, _out = warm
    _pytap(home, "-p3", "-e", SCRIPT)
    assert marker.exists(), "the planted entries are not where a warm run reads"


def test_cache_dir_owned_by_another_user_is_not_loaded(warm):
    home, cache, marker, out = warm
    _chown_tree(cache, NOBODY)
    r = _pytap(home, "-v", "-p3", "-e", SCRIPT)
    assert not marker.exists()
    assert r.returncode == 0, r.stderr
    assert r.stdout == out
    assert f"ignoring cache {cache}: owned by uid {NOBODY}, not 0" in r.stderr


def test_file_owned_by_another_user_is_not_loaded(warm):
    home, cache, marker, out = warm
    for p in cache.rglob("*"):
        if p.is_file():
            os.chown(p, NOBODY, -1)
    r = _pytap(home, "-p3", "-e", SCRIPT)
    assert not marker.exists()
    assert r.returncode == 0, r.stderr
    assert r.stdout == out


@pytest.mark.parametrize("bits", [0o020, 0o002])
def test_group_or_world_writable_dir_is_not_loaded(warm, bits):
    home, cache, marker, out = warm
    for d in [cache, *(p for p in cache.rglob("*") if p.is_dir())]:
        os.chmod(d, 0o755 | bits)
    r = _pytap(home, "-v", "-p3", "-e", SCRIPT)
    assert not marker.exists()
    assert r.returncode == 0, r.stderr
    assert r.stdout == out
    assert f"ignoring cache {cache}: writable by group or others" in r.stderr


def test_writable_subdirectory_is_not_loaded(warm):
    """The root is fine but tapsets/ below it is not: still refused."""
    home, cache, marker, out = warm
    os.chmod(cache / "tapsets", 0o777)
    os.chmod(cache / "jinja", 0o777)
    r = _pytap(home, "-p3", "-e", SCRIPT)
    assert not marker.exists()
    assert r.returncode == 0 and r.stdout == out, r.stderr


def test_untrusted_cache_is_not_written_either(tmp_path):
    """Root does not store into another user's cache directory."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    home = tmp_path / "home"
    (home / "pytap").mkdir(parents=True)
    _chown_tree(home / "pytap", NOBODY)
    r = _pytap(home, "-p3", "-e", SCRIPT)
    assert r.returncode == 0, r.stderr
    assert list((home / "pytap").iterdir()) == []


def test_missing_cache_directory(tmp_path):
    r = _pytap("/proc/no-such-dir", "-p3", "-e", SCRIPT)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr


def _ro_run(home: Path, *words):
    """pytap with <home>/pytap bind-mounted read-only (in a private mount
    namespace: root ignores mode bits, so a mount is the honest way to make
    a directory read-only for root)."""
    target = home / "pytap"
    wrap = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            f'mount --bind "{target}" "{target}" && '
            f'mount -o remount,bind,ro "{target}" "{target}" && exec "$@"', "sh"]
    return _pytap(home, *words, wrap=wrap)


@pytest.mark.parametrize("warm_first", [False, True])
def test_read_only_cache_directory(tmp_path, warm_first):
    if os.geteuid() != 0:
        pytest.skip("needs root to mount")
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        pytest.skip("unshare/mount (util-linux) not installed")
    home = tmp_path / "home"
    (home / "pytap").mkdir(parents=True, mode=0o700)
    ref = _pytap(tmp_path / "ref", "-p3", "-e", SCRIPT)
    assert ref.returncode == 0, ref.stderr
    if warm_first:
        assert _pytap(home, "-p3", "-e", SCRIPT).returncode == 0
    before = sorted(p.name for p in (home / "pytap").rglob("*"))
    r = _ro_run(home, "-p3", "-e", SCRIPT)
    if r.returncode != 0 and "mount" in r.stderr:
        pytest.skip(f"cannot make a read-only bind mount here: {r.stderr.strip()}")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert r.stdout == ref.stdout
    assert sorted(p.name for p in (home / "pytap").rglob("*")) == before
