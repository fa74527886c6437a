"""procfs probes in user space: pytap serves the files itself.

stap's kernel runtime creates /proc/systemtap/MODULE/PATH; pytap loads no
kernel module, so it does what stap's own BPF runtime (stapbpf) does and
man stapprobes documents for it: each PATH is a FIFO under

    /var/tmp/systemtap-USER/MODULE/PATH

USER: the effective user's name; MODULE: `-m NAME`, else the script's
file name without `.stp` (lower case, other characters as `_`,
as stap's -m allows), else `stap_PID`
(for -e / stdin scripts).  PYTAP_PROCFS_DIR replaces
/var/tmp/systemtap-USER.  Modes as stap's: 0400 read, 0200 write, with
`.umask(N)` r--r--r-- / -w--w--w- minus N.

- read files: a thread per file blocks in open(O_WRONLY) until a reader
  opens the FIFO, then puts a fresh FIFO in its place (rename: the next
  open gets its own pipe, this reader its own copy), asks the main loop
  to run the read handler, writes its $value and closes (the reader sees
  end of file).
- write files: a thread holds the FIFO open for reading (plus a writer
  end of its own, so a writer's close is no end of file); every chunk that
  arrives (at most bufsize - 1 bytes, bufsize = STP_PROCFS_BUFSIZE,
  default MAXSTRINGLEN) runs each write handler of the path in script
  order with it as $value.
- "__stdin" (input.char / input.line): no file; pytap's standard input is
  fed to its write handlers one byte per hit; a terminal is switched to
  non-canonical mode without echo for the run (as stap does).

Handlers run on the main thread, in the interpreter, between ring-buffer
polls (Session.loop calls `service()`; a request interrupts the poll with
SIGCHLD, whose handler does nothing).  Their context is pytap's own
process, as for begin/end.  A FIFO carries one direction, so a path may
not have both a read and a write probe (stap's BPF runtime refuses that
too).  `stop()` runs on every way out (Session.finish): readers waiting
get end of file, files and directories are removed, the terminal is
restored.  A directory left by a killed run is reused.
"""
from __future__ import annotations

import errno
import os
import pwd
import queue
import re
import signal
import stat
import sys
import threading
from dataclasses import dataclass, field
from typing import Dict, List, Optional

STDIN_PATH = "__stdin"
DEFAULT_UMASK = 0o066      # owner only: 0400 read, 0200 write


def module_name(opts) -> str:
    """MODULE of the directory: -m NAME, else from the script's name."""
    name = getattr(opts, "module_name", None)
    if name:
        return name
    script = getattr(opts, "script_file", None)
    if script and script != "-" and getattr(opts, "script_text", None) is None:
        base = os.path.basename(script)
        if base.endswith(".stp"):
            base = base[:-4]
        base = re.sub(r"[^a-z0-9_]", "_", base.lower())
        if base:
            return base
    return f"stap_{os.getpid()}"


def base_dir() -> str:
    env = os.environ.get("PYTAP_PROCFS_DIR")
    if env:
        return env
    try:
        user = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        user = str(os.geteuid())
    return f"/var/tmp/systemtap-{user}"


def procfs_dir(opts) -> str:
    return os.path.join(base_dir(), module_name(opts))


class ProcfsError(Exception):
    """Cannot serve the files: the message is the run's ERROR line."""


@dataclass
class ProcfsBuffer:
    """$value of one handler run (runtime/natives/procfs.py)."""
    bufsize: int
    data: bytes = b""


@dataclass
class ProcfsFile:
    path: str                       # relative, as in procfs("PATH")
    full: str = ""
    read_probe: object = None
    write_probes: List[object] = field(default_factory=list)
    maxsize: Optional[int] = None
    umask: Optional[int] = None

    @property
    def mode(self) -> int:
        """stapprobes: 0400 read, 0200 write, 0600 both; .umask(N) masks
        r--r--r-- / -w--w--w- instead (umask(0040).read: 0404)."""
        m = (0o444 if self.read_probe is not None else 0) | (0o222 if self.write_probes else 0)
        umask = DEFAULT_UMASK if self.umask is None else self.umask
        return m & ~umask & 0o777


@dataclass
class _Request:
    file: ProcfsFile
    kind: str                       # "read" | "write"
    data: bytes = b""               # write: what arrived
    reply: Optional[bytes] = None   # read: what the handler left in $value
    done: threading.Event = field(default_factory=threading.Event)


def procfs_files(program) -> Dict[str, ProcfsFile]:
    files: Dict[str, ProcfsFile] = {}
    for cp in sorted(program.probes, key=lambda c: c.index):
        rp = getattr(cp.probe, "resolved", None) or getattr(cp, "resolved", None)
        if getattr(rp, "family", None) != "procfs":
            continue
        spec = rp.spec
        f = files.setdefault(spec["path"], ProcfsFile(spec["path"]))
        if spec["kind"] == "read":
            f.read_probe = cp.probe
            f.maxsize = spec.get("maxsize")
        else:
            f.write_probes.append(cp.probe)
        if spec.get("umask") is not None:
            f.umask = int(spec["umask"])
    return files


class ProcfsServer:
    def __init__(self, session, files: Dict[str, ProcfsFile]):
        self.session = session
        self.files = files
        self.opts = session.opts
        self.dir = procfs_dir(self.opts)
        self.requests: "queue.Queue[_Request]" = queue.Queue()
        self.stopping = False
        self.threads: List[threading.Thread] = []
        self.made: List[str] = []           # directories we created, deepest last
        self.lock_fd: Optional[int] = None
        self.stdin_attrs = None
        self.main_ident = threading.main_thread().ident
        d = self.opts.define_int
        self.bufsize = d("STP_PROCFS_BUFSIZE", d("MAXSTRINGLEN", 128))

    # ------------------------------------------------------------ set-up
    def start(self) -> None:
        both = [p for p, f in self.files.items()
                if f.read_probe is not None and f.write_probes and p != STDIN_PATH]
        if both:
            raise ProcfsError(
                f'ERROR: both read and write procfs probes cannot exist for the same procfs '
                f'path "{both[0]}": pytap serves procfs files as FIFOs, which carry one '
                f'direction (as stap\'s bpf runtime)')
        served = {p: f for p, f in self.files.items() if p != STDIN_PATH}
        if served:
            self._make_dir()
            for f in served.values():
                self._make_fifo(f)
            for f in served.values():
                target = self._serve_read if f.read_probe is not None else self._serve_write
                self._thread(target, f)
        stdin = self.files.get(STDIN_PATH)
        if stdin is not None and stdin.write_probes:
            self._start_stdin(stdin)

    def _thread(self, target, *args) -> None:
        t = threading.Thread(target=target, args=args, daemon=True,
                             name=f"pytap-procfs-{len(self.threads)}")
        self.threads.append(t)
        t.start()

    def _make_dir(self) -> None:
        base = base_dir()
        for d in (base, self.dir):
            self._own_dir(d)
        # one run per directory: a second run of the same script needs -m
        import fcntl
        fd = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ProcfsError(f"ERROR: procfs directory {self.dir} is in use by another run; "
                              f"name this one with -m NAME")
        self.lock_fd = fd
        self._clear_stale(self.dir)

    def _own_dir(self, d: str) -> None:
        """Create d (0755) or accept it when it is a real directory of ours
        that nobody else may write into."""
        try:
            os.mkdir(d, 0o755)
            os.chmod(d, 0o755)
            self.made.append(d)
            return
        except FileExistsError:
            pass
        except OSError as e:
            raise ProcfsError(f"ERROR: cannot create procfs directory {d}: {e.strerror}")
        st = os.lstat(d)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
            raise ProcfsError(f"ERROR: procfs directory {d} is not a directory owned by uid "
                              f"{os.geteuid()} and writable only by it")

    def _clear_stale(self, d: str) -> None:
        """FIFOs (and their empty directories) a killed run left behind."""
        for root, dirs, names in os.walk(d, topdown=False):
            for n in names:
                p = os.path.join(root, n)
                if stat.S_ISFIFO(os.lstat(p).st_mode):
                    os.unlink(p)
            for n in dirs:
                try:
                    os.rmdir(os.path.join(root, n))
                except OSError:
                    pass

    def _make_fifo(self, f: ProcfsFile) -> None:
        f.full = os.path.join(self.dir, f.path)
        parent = os.path.dirname(f.full)
        parts = os.path.relpath(parent, self.dir).split(os.sep)
        cur = self.dir
        for part in parts:
            if part in ("", "."):
                continue
            cur = os.path.join(cur, part)
            self._own_dir(cur)
        self._fresh_fifo(f)

    def _fresh_fifo(self, f: ProcfsFile) -> None:
        """A new FIFO at f.full (atomically replacing the old one)."""
        tmp = f"{f.full}.pytap-{os.getpid()}"
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        os.mkfifo(tmp, 0o600)
        os.chmod(tmp, f.mode)
        os.rename(tmp, f.full)

    # ------------------------------------------------------------ threads
    def _ask(self, req: _Request) -> bool:
        """Hand a request to the main loop; False when the run stops."""
        self.requests.put(req)
        try:
            signal.pthread_kill(self.main_ident, signal.SIGCHLD)   # end the poll now
        except (OSError, ValueError, AttributeError):
            pass
        while not req.done.wait(0.2):
            if self.stopping:
                return False
        return not self.stopping or req.reply is not None

    def _serve_read(self, f: ProcfsFile) -> None:
        while not self.stopping:
            try:
                fd = os.open(f.full, os.O_WRONLY)      # blocks until a reader comes
            except OSError:
                if self.stopping:
                    return
                threading.Event().wait(0.1)
                continue
            try:
                if self.stopping:
                    return
                try:
                    self._fresh_fifo(f)
                except OSError:
                    pass
                req = _Request(f, "read")
                if self._ask(req) and req.reply:
                    _write_all(fd, req.reply)
            except OSError:
                pass                                    # the reader went away
            finally:
                os.close(fd)

    def _serve_write(self, f: ProcfsFile) -> None:
        import select
        try:
            rfd = os.open(f.full, os.O_RDONLY | os.O_NONBLOCK)
            wfd = os.open(f.full, os.O_WRONLY | os.O_NONBLOCK)   # no EOF between writers
        except OSError:
            return
        try:
            p = select.poll()
            p.register(rfd, select.POLLIN)
            while not self.stopping:
                if not p.poll(200):
                    continue
                try:
                    data = os.read(rfd, 65536)
                except BlockingIOError:
                    continue
                if not data:
                    continue
                self._ask(_Request(f, "write", data))
        finally:
            os.close(rfd)
            os.close(wfd)

    def _start_stdin(self, f: ProcfsFile) -> None:
        try:
            fd = sys.stdin.fileno()
        except (AttributeError, ValueError, OSError):
            return
        if os.isatty(fd) and _foreground(fd):
            try:
                import termios
                self.stdin_attrs = termios.tcgetattr(fd)
                raw = termios.tcgetattr(fd)
                raw[3] &= ~(termios.ICANON | termios.ECHO)
                raw[6][termios.VMIN] = 1
                raw[6][termios.VTIME] = 0
                termios.tcsetattr(fd, termios.TCSANOW, raw)
            except Exception:
                self.stdin_attrs = None
        self._thread(self._serve_stdin, f, fd)

    def _serve_stdin(self, f: ProcfsFile, fd: int) -> None:
        import select
        p = select.poll()
        p.register(fd, select.POLLIN | select.POLLHUP)
        while not self.stopping:
            try:
                if not p.poll(200):
                    continue
                data = os.read(fd, 4096)
            except OSError:
                return
            if not data:
                return                                  # end of input
            for i in range(len(data)):
                if self.stopping or not self._ask(_Request(f, "write", data[i:i + 1])):
                    return

    # ------------------------------------------------------------ main loop
    def service(self) -> None:
        """Run the handlers the threads asked for (main thread)."""
        sess = self.session
        while True:
            try:
                req = self.requests.get_nowait()
            except queue.Empty:
                return
            try:
                if sess.stop_reason is None:
                    if req.kind == "read":
                        req.reply = self._run_read(req.file)
                    else:
                        self._run_write(req.file, req.data)
            finally:
                req.done.set()
            sess.out.flush()

    def _run_read(self, f: ProcfsFile) -> bytes:
        buf = ProcfsBuffer(f.maxsize or self.bufsize)
        self._run(f.read_probe, buf)
        return buf.data

    def _run_write(self, f: ProcfsFile, data: bytes) -> None:
        step = max(1, self.bufsize - 1)
        for i in range(0, len(data), step):
            for probe in f.write_probes:
                if self.session.stop_reason is not None:
                    return
                self._run(probe, ProcfsBuffer(self.bufsize, data[i:i + step]))

    def _run(self, probe, buf: ProcfsBuffer) -> None:
        sess = self.session
        ctx = sess.user_context(probe)
        ctx.procfs = buf
        sess.run_user_probe(probe, ctx)

    # ------------------------------------------------------------ the end
    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        while True:                      # threads waiting for a handler: no reply
            try:
                self.requests.get_nowait().done.set()
            except queue.Empty:
                break
        for f in self.files.values():
            if f.full and f.read_probe is not None:
                # a thread blocked in open(O_WRONLY) returns when we open the
                # read side; a reader blocked in open(O_RDONLY) returns, with
                # end of file, when we open and close the write side
                for flags in (os.O_RDONLY | os.O_NONBLOCK, os.O_WRONLY | os.O_NONBLOCK):
                    try:
                        os.close(os.open(f.full, flags))
                    except OSError:
                        pass
        for t in self.threads:
            t.join(0.5)
        self._restore_terminal()
        self._remove()

    def _restore_terminal(self) -> None:
        if self.stdin_attrs is not None:
            try:
                import termios
                termios.tcsetattr(sys.stdin.fileno(), termios.TCSANOW, self.stdin_attrs)
            except Exception:
                pass
            self.stdin_attrs = None

    def _remove(self) -> None:
        if self.lock_fd is None:
            return                      # the directory is not ours (another run's)
        for f in self.files.values():
            if f.full:
                for p in (f.full, f"{f.full}.pytap-{os.getpid()}"):
                    try:
                        if stat.S_ISFIFO(os.lstat(p).st_mode):
                            os.unlink(p)
                    except OSError:
                        pass
        if os.path.isdir(self.dir):
            self._clear_stale(self.dir)
            try:
                os.rmdir(self.dir)
            except OSError:
                pass
        os.close(self.lock_fd)
        self.lock_fd = None
        base = base_dir()
        if base in self.made:
            try:
                os.rmdir(base)          # only when no other run uses it
            except OSError:
                pass


def _foreground(fd: int) -> bool:
    """Only the terminal's foreground process may change its mode (a
    background one would be stopped by SIGTTOU)."""
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except InterruptedError:
            continue
        except OSError as e:
            if e.errno in (errno.EPIPE, errno.EBADF):
                return
            raise
        view = view[n:]


def start(session) -> Optional[ProcfsServer]:
    """The server for the session's procfs probes (None without any)."""
    files = procfs_files(session.program)
    if not files:
        return None
    server = ProcfsServer(session, files)
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server
