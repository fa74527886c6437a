"""SIGINT / SIGTERM / SIGHUP before the run starts.

From the command line on, such a signal stops whatever pass is running
within a moment: Python code is interrupted where it stands (the handler
raises `Interrupted`), and calls that stay in C for long (BCC's compile)
run in a worker thread while the main thread waits where signals reach it.
Nothing is attached before pass 5 starts its probes, and loaded programs
go with the process, so stopping leaves nothing behind.  `cli.main` prints

    Pass N: <pass> interrupted by SIGINT.

and exits with status 1 (stap also ends an interrupted pass with 1).
Pass 5 installs its own handlers (runtime/lifecycle.py): there a signal
ends the run normally, end probes included.
"""
from __future__ import annotations

import os
import signal
import threading
from typing import Callable

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PASS_NAMES = {1: "parse", 2: "analysis", 3: "translation", 4: "compilation", 5: "run"}

_state = {"pass": 1, "worker": None, "stderr": None}


class Interrupted(BaseException):
    """Not an Exception: `except Exception` handlers must not swallow it."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise(signum, _frame):
    raise Interrupted(signum)


def install() -> dict:
    """Returns the handlers replaced, for `restore`."""
    # the compile captures fd 2 while it runs (loader.FdCapture): keep the
    # real stderr to say we stopped
    if _state["stderr"] is None:
        try:
            _state["stderr"] = os.dup(2)
            os.set_inheritable(_state["stderr"], False)
        except OSError:
            pass
    old = {}
    for sig in SIGNALS:
        try:
            old[sig] = signal.signal(sig, _raise)
        except (ValueError, OSError):     # not the main thread (library use)
            break
    return old


def restore(old: dict) -> None:
    for sig, h in old.items():
        try:
            signal.signal(sig, h)
        except (ValueError, OSError, TypeError):
            pass


def set_pass(n: int) -> None:
    _state["pass"] = n


def message(signum: int) -> str:
    n = _state["pass"]
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    return f"Pass {n}: {PASS_NAMES.get(n, 'run')} interrupted by {name}."


def report(text: str) -> None:
    """Write to the real stderr, even while fd 2 is captured."""
    fd = _state["stderr"]
    if fd is None:
        fd = 2
    try:
        os.write(fd, text.encode())
    except OSError:
        pass


def worker_busy() -> bool:
    """A blocking call abandoned by an interrupt is still running."""
    done = _state["worker"]
    return done is not None and not done.is_set()


def call_interruptibly(fn: Callable, *args, **kwargs):
    """fn(*args, **kwargs) in a worker thread; the main thread waits where
    a signal handler can run (and raise).  Returns fn's result or raises
    its exception."""
    if threading.current_thread() is not threading.main_thread():
        return fn(*args, **kwargs)
    box = {}
    # an Event, not Thread.join: an exception raised inside join() marks
    # the thread stopped although it still runs (bpo-45274)
    done = threading.Event()

    def work():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as e:      # handed to the main thread
            box["error"] = e
        finally:
            done.set()

    _state["worker"] = done
    threading.Thread(target=work, name="pytap-blocking", daemon=True).start()
    while not done.wait(0.05):
        pass
    _state["worker"] = None
    if "error" in box:
        raise box["error"]
    return box.get("value")
