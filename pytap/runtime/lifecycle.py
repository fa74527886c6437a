"""Pass 5: run a loaded Program, the way stap runs a module.

Order of events (stap's):
  1. checks (root, BCC, kernel headers), -o FILE opened;
  2. compile + verifier-load (runtime/loader.py; a warm run replays the
     compiled-object cache, runtime/objcache.py);
  3. run state and config (target pid) written into Program.state_map;
     with -c the command is forked first but held at a pipe, so target()
     is its pid already in begin probes;
  4. begin probes run in the interpreter, by priority then script order,
     BEFORE anything is attached: exit() or an error there means no kernel
     probe ever fires;
  5. every Program.attach_groups entry is attached (probes.attach);
  6. the -c command is released;
  7. the ring buffer is polled: output records are printed, trigger records
     run user-mode handlers in the interpreter, exit/error records stop;
     so do SIGINT / SIGTERM / SIGHUP, -T SECONDS and the -c command ending;
  8. on EVERY way out (try/finally): run state set to stopping, probes
     detached, the ring buffer drained, end probes run (not after an
     error: error probes run instead), globals written but never read
     printed, lost records reported, BPF objects closed.
Exit status as stap's: 0, or 1 after a run-time error.

Run-state map (Program.state_map, a BPF array of s64 indexed by slot;
numbers from Program.state_slots, defaults codegen.program.STATE_SLOT_*):
  state     0 running, 1 stopping, 2 error     (we write; BPF reads/writes)
  target    target() pid                        (we write; BPF reads)
  dropped   records lost (reserve failed)       (BPF increments; we report)
  stp_pid   stp_pid(): our own pid              (we write, if the slot exists)
  realtime  CLOCK_REALTIME - CLOCK_MONOTONIC    (we write; gettimeofday_*())
"""
from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any, Callable, List, Optional

from ..diagnostics import PassFailed, StapError

STATE_RUNNING, STATE_STOPPING, STATE_ERROR = 0, 1, 2
from ..codegen.program import STATE_SLOT_DROPPED, STATE_SLOT_RUN, STATE_SLOT_TARGET

DEFAULT_SLOTS = {"state": STATE_SLOT_RUN, "target": STATE_SLOT_TARGET,
                 "dropped": STATE_SLOT_DROPPED}
PASS5_FOOTER = "Pass 5: run failed.  [man error::pass5]"

# How long one ring-buffer poll may block.  Short enough that signals,
# -T and the -c command's exit are noticed promptly (signals also wake
# the poll at once through EINTR).
POLL_MS = 100


class Output:
    """Script output: stdout or -o FILE.  Buffered, flushed after each poll
    batch and at exit, so text stays in record order with stderr lines."""

    def __init__(self, path: Optional[str], size_mb: int = 0, files_max: int = 0):
        self.path = path
        # stapio's file switching (switch_file(), -S SIZE[,N]): FILE.1, FILE.2...
        # after FILE; with -S from FILE.0, a new one every SIZE MB, the
        # oldest removed beyond N files
        self.fnum = 0
        self.size_max = size_mb << 20
        self.files_max = files_max
        self.written = 0
        if path:
            try:
                self.stream = self._open(f"{path}.0" if self.size_max else path)
            except OSError as e:
                raise PassFailed(f"ERROR: Couldn't open file {path} for writing: "
                                 f"{e.strerror}\n{PASS5_FOOTER}") from None
        else:
            self.stream = sys.stdout
        self.parts: List[str] = []
        self.broken = False
        self.write_error: Optional[str] = None    # strerror of a failed write

    @staticmethod
    def _open(name: str):
        return open(name, "w", encoding="utf-8", errors="surrogateescape")

    def switch_file(self) -> None:
        """Continue in the next numbered file (stdout: nothing to switch)."""
        if not self.path or self.broken:
            return
        self.flush()
        try:
            self.stream.close()
            self.fnum += 1
            if self.files_max and self.fnum >= self.files_max:
                try:
                    os.unlink(f"{self.path}.{self.fnum - self.files_max}")
                except OSError:
                    pass
            self.stream = self._open(f"{self.path}.{self.fnum}")
            self.written = 0
        except OSError as e:
            self.write_error = e.strerror or str(e)
            self._give_up()
            warn(f"ERROR: Couldn't open file {self.path}.{self.fnum} for writing: {self.write_error}")

    def write(self, text: str) -> None:
        if text:
            self.parts.append(text)
            if len(self.parts) > 256:
                self.flush()

    def flush(self) -> None:
        if self.broken:
            self.parts.clear()
            return
        try:
            if self.parts:
                data = "".join(self.parts)
                self.parts.clear()
                if self.size_max and self.path:
                    if self.written and self.written + len(data) > self.size_max:
                        self.switch_file()
                    self.written += len(data)
                try:
                    self.stream.write(data)
                except UnicodeEncodeError:
                    self.stream.flush()
                    self.stream.buffer.write(data.encode("utf-8", "surrogateescape"))
            self.stream.flush()
        except BrokenPipeError:
            # the reader went away (`pytap ... | head`): stop quietly, as
            # stap does, and keep Python from complaining at shutdown
            self._give_up()
        except OSError as e:
            # full disk, I/O error...: say so in stap's words once, stop the
            # run (the session sees `broken`, detaches, exits non-zero)
            self.write_error = e.strerror or str(e)
            self._give_up()
            warn(f"ERROR: Couldn't write to output: {self.write_error}")
        except ValueError:
            pass

    def _give_up(self) -> None:
        """No more output: drop what is buffered and point the descriptor
        at /dev/null so no later flush (ours or Python's at exit) fails."""
        self.broken = True
        self.parts.clear()
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        self.flush()
        if self.path:
            try:
                self.stream.close()
            except OSError:
                pass


def warn(text: str) -> None:
    sys.stderr.write(text if text.endswith("\n") else text + "\n")
    sys.stderr.flush()


# ------------------------------------------------------------------ -c CMD

# Characters that make a command need a shell even when quoting is
# understood: expansions and globs (stap splits -c with wordexp(3), which
# expands them) and, unquoted, the shell's control operators.
_EXPANSION_CHARS = set("$`*?[~")
_OPERATOR_CHARS = set("|&;<>(){}\n")


def command_argv(cmd: str) -> List[str]:
    """How -c CMD is started.  Like stap (wordexp + spawn), a command line
    that is only words and quotes is split and exec'd directly, so target()
    is the command itself even for `sh -c '...; ...'`; anything with shell
    operators or expansions outside quotes goes through /bin/sh -c."""
    import shlex
    if not (set(cmd) & _EXPANSION_CHARS):
        try:
            lex = shlex.shlex(cmd, posix=True, punctuation_chars="".join(_OPERATOR_CHARS))
            lex.whitespace_split = True
            words = list(lex)
        except ValueError:          # unbalanced quotes: let the shell say so
            words = []
        operators = [w for w in words if w and set(w) <= _OPERATOR_CHARS]
        if words and not operators and not _has_unquoted_operator(cmd):
            return words
    return ["/bin/sh", "-c", cmd]


def _has_unquoted_operator(cmd: str) -> bool:
    """shlex folds a quoted ';' into a word token like an unquoted one; scan
    the raw text, skipping quoted spans, to tell them apart."""
    quote = None
    escaped = False
    for ch in cmd:
        if escaped:
            escaped = False
        elif ch == "\\" and quote != "'":
            escaped = True
        elif quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in _OPERATOR_CHARS or ch == "#":
            return True
    return False


def _which(name: str) -> Optional[str]:
    """execvp's PATH search, done before the fork (None: let execvp try
    and report)."""
    if "/" in name:
        return name if os.access(name, os.X_OK) else None
    for d in os.environ.get("PATH", os.defpath).split(os.pathsep):
        cand = os.path.join(d or ".", name)
        if os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None


def _wait_asleep(pid: int, limit: float = 0.5) -> None:
    """After its ready byte the child's next call is the blocking read of
    the go signal; wait (briefly) until it sleeps there, so not even that
    read's entry falls after the probes are armed."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            return
        if state in (b"S", b"Z", b"X"):
            return
        time.sleep(0.001)


class TargetCommand:
    """`-c CMD`: forked before the probes start, held at a pipe until they
    are armed, then exec'd through /bin/sh (which execs a simple command
    in place, so the pid stays CMD's)."""

    def __init__(self, cmd: str):
        self.cmd = cmd
        # Everything the child needs is prepared here, before the fork:
        # between the go signal and execve the child makes no system call
        # (a script counting target()'s calls sees only the command's).
        argv = command_argv(cmd)
        path = _which(argv[0])
        env = dict(os.environ)
        restore = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP,
                   signal.SIGCHLD, signal.SIGPIPE)
        rfd, wfd = os.pipe()            # both close on exec (O_CLOEXEC)
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: never return into pytap's Python state
            try:
                os.close(wfd)
                os.close(ready_r)
                for sig in restore:
                    signal.signal(sig, signal.SIG_DFL)
                # tell the parent the child's own set-up is over: the
                # probes are armed after this, so at most the wait below
                # is seen besides the command's calls
                os.write(ready_w, b"r")
                go = os.read(rfd, 1)
                if go != b"g":
                    os._exit(0)
                if path is not None:
                    os.execve(path, argv, env)
                try:
                    os.execvp(argv[0], argv)
                except OSError as e:
                    os.write(2, f"pytap: cannot run '{argv[0]}': {e.strerror}\n".encode())
                    os._exit(127)
            except BaseException:
                pass
            os._exit(127)
        os.close(rfd)
        os.close(ready_w)
        try:
            ready = os.read(ready_r, 1)     # b"" if the child died first
        finally:
            os.close(ready_r)
        if ready:
            _wait_asleep(pid)
        self.pid = pid
        self._wfd: Optional[int] = wfd
        self.status: Optional[int] = None

    def release(self) -> None:
        if self._wfd is not None:
            try:
                os.write(self._wfd, b"g")
            finally:
                os.close(self._wfd)
                self._wfd = None

    def cancel(self) -> None:
        """Never started (exit in begin, error): let the child go quietly."""
        if self._wfd is not None:
            os.close(self._wfd)
            self._wfd = None

    def poll(self) -> bool:
        """True once the command has ended (reaped)."""
        if self.status is not None:
            return True
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            self.status = 0
            return True
        if pid == 0:
            return False
        self.status = status
        return True

    def finish(self) -> None:
        """At exit: stap kills a -c command still running when the script
        ends (exit(), -T, signal), then reaps it."""
        self.cancel()
        if not self.poll():
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 1.0
            while not self.poll() and time.monotonic() < deadline:
                time.sleep(0.01)
            if not self.poll():
                try:
                    os.kill(self.pid, signal.SIGKILL)
                    os.waitpid(self.pid, 0)
                except (ProcessLookupError, ChildProcessError):
                    pass
                self.status = -9


# ------------------------------------------------------------------ context

def _proc_field(pid: int, name: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _comm() -> str:
    try:
        with open("/proc/self/comm") as f:
            return f.read().strip()
    except OSError:
        return "pytap"


def make_context(**fields):
    """A runtime.interp.ProbeContext from whatever fields it accepts."""
    from .interp import ProbeContext
    try:
        return ProbeContext(**fields)
    except TypeError:
        import inspect
        params = inspect.signature(ProbeContext).parameters
        ctx = ProbeContext(**{k: v for k, v in fields.items() if k in params})
        for k, v in fields.items():
            if k not in params:
                try:
                    setattr(ctx, k, v)
                except Exception:
                    pass
        return ctx


def probe_point_text(probe) -> str:
    """pp(): the probe point as stap prints it."""
    point = getattr(probe, "point", None)
    if point is None:
        return ""
    try:
        from ..printer import probe_point_text as text
        return text(point, with_flags=False)
    except Exception:
        return str(point)


# ------------------------------------------------------------------ session

class Session:
    def __init__(self, program, opts, bpf, out: Output):
        self.program = program
        self.opts = opts
        self.bpf = bpf
        self.out = out
        self.session = program.session
        self.slots = dict(DEFAULT_SLOTS)
        self.slots.update(getattr(program, "state_slots", None) or {})
        self.detachers: List[Callable[[], Any]] = []
        self.stop_reason: Optional[str] = None      # "exit" "error" "signal" "timeout" "target"
        self.error: Optional[BaseException] = None
        self.exit_status = 0
        self.target: Optional[TargetCommand] = None
        self.target_pid = int(getattr(opts, "target_pid", 0) or 0)
        self.signalled: Optional[int] = None
        self.dispatcher = None
        self.interp = None
        self.reader = None               # runtime/ringreader.py, set by start()
        self.store = None
        self._old_handlers = {}
        self._by_index = {}
        self._state_table = None
        from .timing import maybe
        self.hits = maybe(opts)          # -t: per-probe hits and times
        self.procfs = None          # runtime/procfs.py's server, if any

    # ---------------------------------------------------------- state map
    def _state(self):
        if self._state_table is None:
            try:
                self._state_table = self.bpf[self.program.state_map.encode()]
            except Exception:
                self._state_table = False
        return self._state_table or None

    def set_slot(self, slot: str, value: int) -> None:
        t = self._state()
        if t is None or slot not in self.slots:
            return
        try:
            t[t.Key(self.slots[slot])] = t.Leaf(value)
        except Exception:
            pass

    def get_slot(self, slot: str) -> int:
        t = self._state()
        if t is None:
            return 0
        try:
            v = t[t.Key(self.slots[slot])]
            return int(getattr(v, "value", v))
        except Exception:
            return 0

    # ---------------------------------------------------------- probes
    def _probes_of(self, family: str):
        out = []
        for cp in self.program.probes:
            rp = getattr(cp.probe, "resolved", None) or cp.resolved
            if getattr(rp, "family", None) == family:
                out.append((getattr(rp, "priority", 0) or 0, cp.index, cp.probe))
        out.sort(key=lambda t: (t[0], t[1]))
        return [p for _, _, p in out]

    def user_context(self, probe):
        """begin/end/error run in pytap's own process, as stap's run in its
        runtime's context."""
        pid = os.getpid()
        return make_context(pid=pid, tid=pid, ppid=os.getppid(), uid=os.getuid(),
                            gid=os.getgid(), euid=os.geteuid(), cpu=_cpu(),
                            execname=_comm(), pp=probe_point_text(probe),
                            probefunc="", target=self.target_pid)

    def trigger_context(self, probe, rec: dict):
        return make_context(pid=rec["pid"], tid=rec["tid"], ppid=rec["ppid"],
                            uid=rec["uid"], gid=rec["gid"], euid=rec["euid"],
                            cpu=rec["cpu"], execname=rec["execname"],
                            pp=probe_point_text(probe), probefunc=_probefunc(probe),
                            target=self.target_pid, ktime_ns=rec.get("ktime_ns", 0),
                            target_values=rec.get("target_values") or {})

    def run_user_probe(self, probe, ctx) -> None:
        """Run one handler; exit()/errors become the session's stop reason."""
        from .errors import ExitRequested, ScriptRuntimeError
        try:
            self._run_probe(probe, ctx)
        except ExitRequested:
            self.request_stop("exit")
        except ScriptRuntimeError as e:
            self.runtime_error(e)

    def _run_probe(self, probe, ctx) -> None:
        if self.hits is None:
            self.interp.run_probe(probe, ctx)
        else:
            self.hits.timed(probe.index, self.interp.run_probe, probe, ctx)

    def request_stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
            self.set_slot("state", STATE_STOPPING)
        # when the -c command ends or -T expires, the events already in the
        # ring buffer came before the end: their user-space handlers still
        # run (drain), as stap ran them at the event; not after exit(), an
        # error or a signal
        if reason not in ("target", "timeout"):
            self._stop_dispatch()

    def _stop_dispatch(self) -> None:
        """No more user-mode handlers; end the current poll batch now."""
        d = self.dispatcher
        if d is not None:
            d.stopped = True
            if d.budget_end is not None:
                d.budget_end = 0.0

    def runtime_error(self, err) -> None:
        """stap: print the ERROR line at once, stop, run error probes later."""
        self.out.flush()
        warn(err.render())
        if self.error is None:
            self.error = err
        self.exit_status = 1
        self.stop_reason = "error"
        self.set_slot("state", STATE_ERROR)
        self._stop_dispatch()

    # ---------------------------------------------------------- records
    def on_trigger(self, index: int, rec: dict) -> None:
        if self.stop_reason not in (None, "target", "timeout"):
            return
        probe = self._by_index.get(index)
        if probe is None:
            return
        self.run_user_probe(probe, self.trigger_context(probe, rec))

    def on_exit(self) -> None:
        self.request_stop("exit")

    def on_error(self, idx: int, message: str = "") -> None:
        from .errors import ScriptRuntimeError
        errors = self.program.errors
        if 0 <= idx < len(errors):
            site = errors[idx]
            err = ScriptRuntimeError(message or site.message, site.loc, site.tok_desc)
        else:
            err = ScriptRuntimeError(message or f"unknown run-time error #{idx}")
        self.runtime_error(err)

    # ---------------------------------------------------------- signals
    def _on_signal(self, signum, _frame) -> None:
        self.signalled = signum
        self.request_stop("signal")

    def _on_sigchld(self, _signum, _frame) -> None:
        pass  # only to interrupt the poll

    def install_signals(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            old = signal.signal(sig, self._on_signal)
            self._old_handlers.setdefault(sig, old)
        old = signal.signal(signal.SIGCHLD, self._on_sigchld)
        self._old_handlers.setdefault(signal.SIGCHLD, old)

    def restore_signals(self) -> None:
        for sig, h in self._old_handlers.items():
            try:
                signal.signal(sig, h)
            except Exception:
                pass
        self._old_handlers.clear()

    # ---------------------------------------------------------- main line
    def start(self) -> None:
        from .bpfstore import BpfStore
        from .interp import Interpreter
        from .ringbuf import Dispatcher
        self.install_signals()
        self._by_index = {cp.index: cp.probe for cp in self.program.probes}
        self.store = BpfStore(self.bpf, self.program, self.session)
        self.interp = Interpreter(self.session, self.store, self.out.write, self.opts)
        self.dispatcher = Dispatcher(self.program, self.out.write, self.on_trigger,
                                     self.on_exit, self.on_error)
        # records are read in batches straight from the mapped ring buffer
        # (runtime/ringreader.py); libbpf's per-record callback is the
        # fallback (and PYTAP_LIBBPF_RINGBUF=1 forces it, for comparison)
        self.reader = None
        if not os.environ.get("PYTAP_LIBBPF_RINGBUF"):
            from .ringreader import open_reader
            self.reader = open_reader(self.bpf, self.program, self.dispatcher)
        try:
            if self.reader is None:
                self.bpf[self.program.ringbuf_name.encode()].open_ring_buffer(self.dispatcher.callback)
            self.has_ringbuf = True
        except Exception:
            self.has_ringbuf = False   # a program without any record (e.g. begin-only)

        from ..probes.kprobe import missing_kprobes_error
        no_kprobes = missing_kprobes_error(self.program)
        if no_kprobes is not None:       # one error, before begin, not one per point
            self._attach_failed(no_kprobes)
            return
        if self.opts.target_cmd:
            self.target = TargetCommand(self.opts.target_cmd)
            self.target_pid = self.target.pid
        self.set_slot("target", self.target_pid)
        self.set_slot("stp_pid", os.getpid())   # stp_pid(): the tracer's own pid
        # wall-clock time in BPF = bpf_ktime_get_ns() (CLOCK_MONOTONIC) + this
        self.set_slot("realtime", time.clock_gettime_ns(time.CLOCK_REALTIME)
                      - time.clock_gettime_ns(time.CLOCK_MONOTONIC))
        self.set_slot("state", STATE_RUNNING)
        # declared initial values (`global x = 5`) and -G NAME=VALUE: BPF
        # maps start zeroed, so user space writes them before begin
        init = getattr(self.interp, "init_globals", None)
        if init is not None:
            try:
                init()
            except Exception as e:
                from .errors import ScriptRuntimeError
                if not isinstance(e, ScriptRuntimeError):
                    raise
                self.runtime_error(e)
                return
        else:
            _apply_globals_init(self)

        if not self._start_procfs():
            return
        for probe in self._probes_of("begin"):
            if self.stop_reason is not None:
                break
            self.run_user_probe(probe, self.user_context(probe))
        self.out.flush()
        if self.stop_reason is not None or self.signalled:
            return

        from .. import probes as probes_mod
        for fn_name, rp in self.program.attach_groups:
            try:
                det = _attach(probes_mod, self.bpf, fn_name, rp, self.target_pid)
            except StapError as e:
                self._attach_failed(str(e))
                return
            except Exception as e:
                self._attach_failed(f"ERROR: cannot attach {probe_point_text(rp) or fn_name}: {e}")
                return
            if det is not None:
                self.detachers.append(det)
        self._fire_existing_begin()
        if self.stop_reason is not None:
            return
        if self.target is not None:
            self.target.release()

    def _start_procfs(self) -> bool:
        """procfs probes: the files they serve (and the terminal's input
        mode) exist from here on, before begin as stap's module creates
        them at load; handlers run once the main loop runs."""
        if not any(getattr(getattr(cp.probe, "resolved", None), "family", None) == "procfs"
                   for cp in self.program.probes):
            return True
        from . import procfs
        try:
            self.procfs = procfs.start(self)
        except procfs.ProcfsError as e:
            self._attach_failed(str(e))
            return False
        return True

    # ------------------------------------------------- preexisting processes
    def _fire_existing_begin(self) -> None:
        """stapprobes(3stap): process.begin is also "called once from the
        context of each preexisting process, at systemtap script startup".
        The kernel events we attach to only see new processes, so user space
        runs those handlers here, in script order, once probes are armed."""
        for cp in sorted(self.program.probes, key=lambda c: c.index):
            rp = getattr(cp.probe, "resolved", None) or getattr(cp, "resolved", None)
            spec = getattr(rp, "spec", None) or {}
            if getattr(rp, "family", None) != "process" or not spec.get("existing"):
                continue
            for pid in self._existing_pids(spec):
                if self.stop_reason is not None:
                    return
                ctx = self._process_context(cp.probe, pid)
                if ctx is not None:
                    self.run_user_probe(cp.probe, ctx)
        self.out.flush()

    def _existing_pids(self, spec) -> List[int]:
        if spec.get("pid") is not None:
            return [spec["pid"]] if os.path.exists(f"/proc/{spec['pid']}/exe") else []
        if spec.get("path") is None and self.opts.target_cmd:
            # the -c command has not exec'd yet: its process.begin comes
            # from the events (restricted to its hierarchy anyway)
            return []
        if spec.get("path") is None and self.target_pid:
            return [self.target_pid]          # -x PID: only that hierarchy
        want = os.path.realpath(spec["path"]) if spec.get("path") else None
        pids = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                exe = os.readlink(f"/proc/{name}/exe")   # fails for kernel threads
            except OSError:
                continue
            if want is None or exe == want:
                pids.append(int(name))
        return sorted(pids)

    def _process_context(self, probe, pid: int):
        try:
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{pid}/status") as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
            uids = status["Uid"].split()
            gids = status["Gid"].split()
            ppid = int(status["PPid"].split()[0])
        except (OSError, KeyError, ValueError, IndexError):
            return None                      # it exited meanwhile
        return make_context(pid=pid, tid=pid, ppid=ppid, uid=int(uids[0]), gid=int(gids[0]),
                            euid=int(uids[1]), cpu=_cpu(), execname=comm,
                            pp=probe_point_text(probe), probefunc="", target=self.target_pid)

    def _attach_failed(self, text: str) -> None:
        self.out.flush()
        warn(text)
        self.exit_status = 1
        self.stop_reason = "error"
        self.attach_error = True
        self.set_slot("state", STATE_ERROR)

    def loop(self) -> None:
        timeout = getattr(self.opts, "timeout", None)
        deadline = time.monotonic() + timeout if timeout else None
        while self.stop_reason is None:
            if self.has_ringbuf:
                wait = POLL_MS
                if deadline is not None:
                    wait = max(0, min(wait, int((deadline - time.monotonic()) * 1000) + 1))
                self.dispatcher.budget_end = time.monotonic() + POLL_MS / 1000.0
                if self.reader is not None:
                    self.reader.poll(wait)
                else:
                    self.bpf.ring_buffer_poll(wait)
                self._check_pending()
            else:
                time.sleep(POLL_MS / 1000.0)
            self._check_state_slot()
            if self.procfs is not None:
                self.procfs.service()
            self.out.flush()
            if self.out.broken:
                self.request_stop("signal")
            if self.target is not None and self.target.poll():
                self.request_stop("target")
            if deadline is not None and time.monotonic() >= deadline:
                self.request_stop("timeout")

    def _check_state_slot(self) -> None:
        """exit() in a BPF handler first moves the state slot to stopping,
        then sends its record; when the ring buffer is full (a flood of
        events, a slow VM) the record is lost, and every later exit() sees
        the state already moved and sends nothing.  The slot itself is the
        truth: a run whose state left RUNNING stops here even without a
        record (the run used to wait forever, end probes never ran)."""
        if self.stop_reason is not None:
            return
        state = self.get_slot("state")
        if state == STATE_STOPPING:
            self.request_stop("exit")
        elif state == STATE_ERROR:
            # the error's own record may still be queued: drain() reads it
            self.exit_status = 1
            self.request_stop("error")

    def _check_pending(self) -> None:
        """A ring-buffer callback's stashed exception, in session terms
        (user-mode handlers already map exit/errors themselves)."""
        from .errors import ExitRequested, ScriptRuntimeError
        d = self.dispatcher
        e, d.pending = d.pending, None
        if e is None:
            return
        if isinstance(e, ExitRequested):
            self.request_stop("exit")
        elif isinstance(e, ScriptRuntimeError):
            self.runtime_error(e)
        else:
            raise e

    def drain(self) -> None:
        """Everything already in the ring buffer, after detaching."""
        if not getattr(self, "has_ringbuf", False):
            return
        self.dispatcher.budget_end = None
        for _ in range(100000):
            before = self.dispatcher.records
            if self.reader is not None:
                self.reader.consume()
            else:
                self.bpf.ring_buffer_consume()
            pending = self.dispatcher.pending
            self._check_pending()
            if self.dispatcher.records == before and pending is None:
                break
        self.out.flush()

    def detach_all(self) -> None:
        while self.detachers:
            det = self.detachers.pop()
            try:
                det()
            except Exception:
                pass

    def finish(self) -> None:
        """Every way out comes through here."""
        if self.procfs is not None:
            self.procfs.stop()
        if self.stop_reason is None:
            self.request_stop("exit")
        elif self.stop_reason != "error":
            self.set_slot("state", STATE_STOPPING)
        self.detach_all()
        if self.dispatcher is not None:
            try:
                self.drain()
            except Exception:
                pass
        if self.target is not None:
            self.target.finish()
        if self.interp is not None:
            if self.error is None and not getattr(self, "attach_error", False):
                self._run_final("end")
                # stap runs error probes after the end probes whenever the
                # session state is ERROR, so a run-time error inside an end
                # probe (which skips the later end probes) still runs them
                if self.error is not None:
                    self._run_final("error")
            elif self.error is not None:
                self._run_final("error")
        self.out.flush()
        # Our elaborator prints write-only globals itself, through synthetic
        # end probes (as stap's -p2 shows); a session from it (its probes
        # carry `synthetic`) needs nothing more from us.
        synthetic = any(hasattr(p, "synthetic")
                        for p in getattr(self.session, "probes", []) or [])
        if self.store is not None and self.session is not None and not synthetic \
                and self.error is None and not getattr(self, "attach_error", False):
            try:
                from .report import dump_unread_globals
                self.out.write(dump_unread_globals(self.session, self.store))
            except Exception as e:
                if os.environ.get("PYTAP_DEBUG"):
                    raise
                warn(f"WARNING: cannot print globals at exit: {e}")
        self.out.flush()
        if self.hits is not None:
            from .timing import read_bpf, report
            read_bpf(self.bpf, self.hits)
            self.out.write(report(self.program, self.hits, probe_point_text))
            self.out.flush()
        dropped = self.get_slot("dropped")
        if dropped > 0:
            # stap's words (runtime/transport/transport.c); the size is
            # -s's unit: MiB per CPU (our one ring buffer serves them all)
            from ..codegen.generate import _possible_cpus
            per_cpu_mb = (self.program.ringbuf_pages * 4096 // max(_possible_cpus(), 1)) >> 20
            warn(f"WARNING: There were {dropped} transport failures. "
                 f"Try stap -s to increase the buffer size from {per_cpu_mb}.")
        if self.error is not None:
            warn("WARNING: Number of errors: 1, skipped probes: 0")
        if getattr(self, "reader", None) is not None:
            self.reader.close()
        self.restore_signals()

    def _run_final(self, family: str) -> None:
        from .errors import ExitRequested, ScriptRuntimeError
        if family == "end":
            self.set_slot("state", STATE_STOPPING)
        for probe in self._probes_of(family):
            try:
                self._run_probe(probe, self.user_context(probe))
            except ExitRequested:
                pass
            except ScriptRuntimeError as e:
                self.out.flush()
                warn(e.render())
                self.exit_status = 1
                if family == "end":
                    if self.error is None:
                        self.error = e
                    break
            self.out.flush()


def _attach(probes_mod, bpf, fn_name, rp, target_pid):
    """probes.attach, handing over the target pid where it takes one
    (process-restricted perf events and uprobes under -c/-x)."""
    import inspect
    attach = probes_mod.attach
    try:
        takes_target = "target_pid" in inspect.signature(attach).parameters
    except (TypeError, ValueError):
        takes_target = False
    if takes_target:
        return attach(bpf, fn_name, rp, target_pid=target_pid or None)
    return attach(bpf, fn_name, rp)


def _cpu() -> int:
    try:
        return os.sched_getcpu() if hasattr(os, "sched_getcpu") else 0
    except OSError:
        return 0


def _probefunc(probe) -> str:
    rp = getattr(probe, "resolved", None)
    spec = getattr(rp, "spec", None) or {}
    return str(spec.get("symbol") or spec.get("function") or "")


def _apply_globals_init(sess: Session) -> None:
    """-G VAR=VALUE: initial values of globals, before begin probes."""
    inits = getattr(sess.opts, "globals_init", None) or {}
    for name, value in inits.items():
        layout = sess.store.layouts.get(name)
        if layout is None or layout.kind != "scalar":
            continue
        try:
            v = value if layout.value_type == "string" else int(value, 0)
            sess.store.set(name, (), v)
        except (ValueError, Exception):
            pass


def run(program, opts) -> int:
    from . import loader, privileges
    # root first; BCC and kernel headers only matter when loader.load has
    # to compile (a cached object needs neither)
    privileges.check_root(5)
    out = Output(getattr(opts, "output_file", None), getattr(opts, "output_size_mb", 0),
                 getattr(opts, "output_files_max", 0))
    # A signal during the (slow) compile stops it at once (pytap/interrupts.py:
    # the compile runs in a worker thread, nothing is attached yet)
    from ..interrupts import call_interruptibly, set_pass
    try:
        bpf = call_interruptibly(loader.load, program, opts)
    except BaseException:
        out.close()
        raise
    set_pass(5)
    # from here a signal ends the run normally: note it until the session
    # installs its own handlers
    early = []
    saved = {}
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        saved[sig] = signal.signal(sig, lambda signum, _f: early.append(signum))
    sess = Session(program, opts, bpf, out)
    sess._old_handlers.update(saved)
    verbose = getattr(opts, "verbose", 0)
    if verbose:
        clock = loader.PassClock()
        warn("Pass 5: starting run.")
    try:
        try:
            if early:
                sess.signalled = early[0]
                sess.stop_reason = "signal"
            else:
                sess.start()
                if early:
                    sess.request_stop("signal")
                sess.loop()
        except KeyboardInterrupt:
            sess.request_stop("signal")
        finally:
            try:
                sess.finish()
            finally:
                _close_bpf(bpf)
                out.close()
    except KeyboardInterrupt:
        pass
    if verbose:
        warn(f"Pass 5: run completed in {clock}.")
    if out.write_error is not None:
        sess.exit_status = 1
    if sess.exit_status:
        warn(PASS5_FOOTER)
    return sess.exit_status


def _close_bpf(bpf) -> None:
    """Detach whatever BCC still holds (perf events, tracepoints, uprobes)
    and close every fd: no probe outlives pytap."""
    try:
        bpf.cleanup()
    except Exception:
        pass
