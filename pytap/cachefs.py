"""Every on-disk cache goes through here: loads only from places nobody else
can write, atomic writes into directories only we can write.

Why: pytap runs as root, and some caches hold formats whose loading runs
code (pickle; marshalled jinja2 bytecode).  The cache root is
`$XDG_CACHE_HOME/pytap` or `~/.cache/pytap` (Options.cache_dir); under
`sudo -E` those can be another user's directories.  So, before any load, the
cache root, every directory below it on the way to the file, and the file
itself must be owned by the effective uid and not writable by group or
others.  The walk is done on open file descriptors (openat + fstat), so a
directory swapped in between the check and the read is seen, not trusted.
Anything that fails is ignored (a `-v` note says why) and the run goes on
without that cache entry; stores go only into directories that pass the same
check (created 0700), via a temporary file and rename.

Callers name a file by the cache root and a relative path ("tapsets/K.pickle").
"""
from __future__ import annotations

import json
import os
import pickle
import stat
import sys
from pathlib import Path
from typing import Any, List, Optional, Tuple

# -v level of the current run (pipeline.run sets it): notes print at >= 1.
verbose = 0
_noted: set = set()

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def note(msg: str) -> None:
    """A -v note, once per message per process."""
    if verbose >= 1 and msg not in _noted:
        _noted.add(msg)
        try:
            sys.stderr.write(f"pytap: {msg}\n")
        except (OSError, ValueError):
            pass


def default_root() -> Path:
    from .options import Options
    return Options().cache_dir


def _untrusted(st: os.stat_result) -> Optional[str]:
    """Why a file or directory is not ours alone (None when it is)."""
    euid = os.geteuid()
    if st.st_uid != euid:
        return f"owned by uid {st.st_uid}, not {euid}"
    if st.st_mode & 0o022:
        return f"writable by group or others (mode {stat.S_IMODE(st.st_mode):o})"
    return None


def _open_dir(root: Path, parts: List[str], create: bool) -> Optional[int]:
    """An fd on root/parts..., each level checked; None (with a note) when a
    level is missing (and not created) or not trusted."""
    if create:
        try:
            root.parent.mkdir(parents=True, exist_ok=True)
            os.mkdir(root, 0o700)
        except FileExistsError:
            pass
        except OSError as e:
            note(f"cache {root} not created: {e.strerror}")
            return None
    try:
        # The root itself may be a symlink (a redirected ~/.cache): what
        # counts is the directory it leads to, which fstat checks.
        fd = os.open(root, _DIR_FLAGS)
    except OSError:
        return None
    where = root
    try:
        why = _untrusted(os.fstat(fd))
        if why:
            note(f"ignoring cache {where}: {why}")
            os.close(fd)
            return None
        for part in parts:
            where = where / part
            if create:
                try:
                    os.mkdir(part, 0o700, dir_fd=fd)
                except FileExistsError:
                    pass
            sub = os.open(part, _DIR_FLAGS | _NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = sub
            why = _untrusted(os.fstat(fd))
            if why:
                note(f"ignoring cache {where}: {why}")
                os.close(fd)
                return None
        return fd
    except OSError:
        os.close(fd)
        return None


def _split(rel: str) -> Tuple[List[str], str]:
    parts = [p for p in rel.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise ValueError(f"bad cache path {rel!r}")
    return parts[:-1], parts[-1]


def path_of(root: Path, rel: str) -> Path:
    return Path(root) / rel


# ------------------------------------------------------------------- loads

def load_bytes(root: Path, rel: str, touch: bool = False) -> Optional[bytes]:
    """The file's bytes when it and every directory up to the cache root are
    ours alone; None otherwise (missing, unreadable, untrusted)."""
    if root is None:
        return None
    dirs, name = _split(rel)
    dfd = _open_dir(Path(root), dirs, create=False)
    if dfd is None:
        return None
    try:
        fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC | _NOFOLLOW, dir_fd=dfd)
    except OSError:
        os.close(dfd)
        return None
    try:
        st = os.fstat(fd)
        why = _untrusted(st) or (None if stat.S_ISREG(st.st_mode) else "not a regular file")
        if why:
            note(f"ignoring cache {Path(root) / rel}: {why}")
            return None
        chunks = []
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            chunks.append(b)
        if touch:
            try:
                os.utime(fd)          # recently used (LRU eviction)
            except OSError:
                pass
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)
        os.close(dfd)


def load_json(root: Path, rel: str, touch: bool = False) -> Any:
    data = load_bytes(root, rel, touch)
    if data is None:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def load_pickle(root: Path, rel: str) -> Any:
    """Unpickle only what passed the trust check (unpickling runs code)."""
    data = load_bytes(root, rel)
    if data is None:
        return None
    try:
        return pickle.loads(data)
    except Exception:          # stale layout, truncated file: a miss
        return None


# ------------------------------------------------------------------ stores

def store_bytes(root: Path, rel: str, data: bytes) -> bool:
    """Atomically (temporary file, then rename) into trusted directories,
    created 0700; False when that is not possible (read-only, untrusted)."""
    if root is None:
        return False
    dirs, name = _split(rel)
    dfd = _open_dir(Path(root), dirs, create=True)
    if dfd is None:
        return False
    tmp = f".{name}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | _NOFOLLOW,
                     0o600, dir_fd=dfd)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
        finally:
            os.close(fd)
        os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        return True
    except OSError as e:
        note(f"cannot write cache {Path(root) / rel}: {e.strerror}")
        try:
            os.unlink(tmp, dir_fd=dfd)
        except OSError:
            pass
        return False
    finally:
        os.close(dfd)


def store_json(root: Path, rel: str, obj: Any) -> bool:
    return store_bytes(root, rel, json.dumps(obj, separators=(",", ":")).encode())


def store_pickle(root: Path, rel: str, obj: Any) -> bool:
    try:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return False
    return store_bytes(root, rel, data)


# ------------------------------------------------------------ housekeeping

def entries(root: Path, reldir: str = "") -> List[Tuple[str, os.stat_result]]:
    """[(name, lstat)] of the regular files in a trusted cache directory."""
    out: List[Tuple[str, os.stat_result]] = []
    if root is None:
        return out
    parts = [p for p in reldir.split("/") if p]
    dfd = _open_dir(Path(root), parts, create=False)
    if dfd is None:
        return out
    try:
        for n in os.listdir(dfd):
            try:
                st = os.stat(n, dir_fd=dfd, follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                out.append((n, st))
    except OSError:
        pass
    finally:
        os.close(dfd)
    return out


def remove(root: Path, rel: str) -> None:
    """Unlink a cache file, only inside a trusted directory."""
    if root is None:
        return
    dirs, name = _split(rel)
    dfd = _open_dir(Path(root), dirs, create=False)
    if dfd is None:
        return
    try:
        os.unlink(name, dir_fd=dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
