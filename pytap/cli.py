"""Command line: stap-compatible options, then the pass pipeline.

`main()` never lets a Python traceback reach the user for bad input: every
pass raises `PassFailed` (already carrying stap-style messages) and this
module prints them and returns the exit status.
"""
from __future__ import annotations

import getopt
import os
import re
import sys
from typing import List, Optional

from . import __version__
from .diagnostics import PassFailed, StapError
from .options import Options

USAGE = """\
pytap {version}: run SystemTap scripts on eBPF

Usage: pytap [options] FILE [ARGS...]     Run script in file.
   or: pytap [options] -                  Run script on stdin.
   or: pytap [options] -e SCRIPT [ARGS...]
   or: pytap [options] -l PROBE           List matching probes.
   or: pytap [options] -L PROBE           List matching probes and local variables.
   or: pytap [options] --dump-probe-aliases | --dump-functions

Options:
   -h --help   show help
   -V --version
   -p NUM      stop after pass NUM 1-5 (parse, elaborate, translate to BPF C,
               load into the verifier, run)
   -v          add verbosity to all passes
   -e SCRIPT   run given script
   -E SCRIPT   run SCRIPT in addition to the main script
   -I DIR      look in DIR for additional .stp tapset files
   -D NM=VAL   set a limit (MAXSTRINGLEN, MAXACTION, MAXMAPENTRIES, ...)
   -G VAR=VAL  set global variable to value
   -g          guru mode (embedded C)
   -w          suppress warnings
   -W          turn warnings into errors
   -u          unoptimized translation
   -o FILE     send script output to FILE
   -S SIZE[,N] with -o: switch to FILE.N+1 every SIZE MB, keep the last N files
   -c CMD      start the probes, run CMD, and exit when it finishes
   -x PID      sets target() to PID
   -T SECONDS  terminate the script after SECONDS
   -t          collect probe timing information (hits, time in handler)
   -s NUM      use NUM megabyte buffers for kernel-to-user data transfer
   -m MODULE   name of the session: procfs probes serve their files in
               /var/tmp/systemtap-USER/MODULE (default: the script's name)
   --runtime=MODE   value of the `runtime` preprocessor macro (default bpf)
   --bpf            shorthand for --runtime=bpf
   --compatible=V   systemtap_v for the preprocessor (default 4.8)
   --all-modules, --skip-badvars, --suppress-time-limits
                    accepted as stap does; they change nothing here

Environment:
   PYTAP_TAPSET   replaces the default tapset directory
"""

_SHORT = "hVp:ve:E:I:D:G:gwWuo:S:c:x:T:l:L:d:m:ts:"
_LONG = ["help", "version", "runtime=", "bpf", "compatible=",
         "dump-probe-aliases", "dump-functions", "dump-probe-types"]
# stap options accepted for compatibility that change nothing here:
# --all-modules (kernel symbols come from /proc/kallsyms, modules
# included), --skip-badvars, --suppress-time-limits; --ldd (user stacks
# resolve every mapped library anyway).
_NOOP_LONG = ["all-modules", "skip-badvars", "suppress-time-limits", "ldd"]


def parse_args(argv: List[str]) -> Options:
    """stap's option syntax: FILE (unless -e/-l/-L), then script
    arguments; options may come anywhere before `--`, as GNU getopt
    (which stap uses) permutes them: `stap x.stp -T 1` sets -T.  Raises
    UsageError on bad options."""
    opts = Options()
    try:
        pairs, rest = getopt.gnu_getopt(argv, _SHORT, _LONG + _NOOP_LONG)
    except getopt.GetoptError as e:
        raise UsageError(str(e))
    for flag, val in pairs:
        if flag in ("-h", "--help"):
            raise ShowHelp()
        elif flag in ("-V", "--version"):
            raise ShowVersion()
        elif flag == "-p":
            if val not in ("1", "2", "3", "4", "5"):
                raise UsageError("Invalid pass number (should be 1-5).")
            opts.last_pass = int(val)
        elif flag == "-v":
            opts.verbose += 1
        elif flag == "-e":
            opts.script_text = val
        elif flag == "-E":
            opts.extra_scripts.append(val)
        elif flag == "-I":
            opts.include_dirs.append(val)
        elif flag == "-D":
            name, _, value = val.partition("=")
            opts.defines[name] = value
        elif flag == "-G":
            name, _, value = val.partition("=")
            opts.globals_init[name] = value
        elif flag == "-g":
            opts.guru = True
        elif flag == "-w":
            opts.suppress_warnings = True
        elif flag == "-W":
            opts.warnings_as_errors = True
        elif flag == "-u":
            opts.unoptimized = True
        elif flag == "-o":
            opts.output_file = val
        elif flag == "-S":
            m = re.match(r"^([0-9]+)(?:,([0-9]+))?$", val)
            if not m:
                raise UsageError(f"Safety pattern mismatch for -S parameter ('{val}' vs. "
                                 "'^[0-9]+(,[0-9]+)?$')")
            opts.output_size_mb = int(m.group(1))
            opts.output_files_max = int(m.group(2) or 0)
        elif flag == "-c":
            opts.target_cmd = val
        elif flag == "-d":
            # stap's symbol-table option: candidates for user stacks of
            # processes that exited before their report (runtime/symbols.py)
            opts.symbol_files.append(val)
        elif flag == "--ldd":
            pass    # every mapped library is read at run time anyway
        elif flag == "-x":
            try:
                opts.target_pid = int(val)
            except ValueError:
                raise UsageError(f"Invalid target process ID number: {val}")
        elif flag == "-T":
            try:
                opts.timeout = float(val)
            except ValueError:
                raise UsageError(f"Invalid timeout: {val}")
        elif flag == "-t":
            opts.timing = True
        elif flag == "-s":
            try:
                opts.buffer_mb = int(val)
            except ValueError:
                opts.buffer_mb = 0
            if not 1 <= opts.buffer_mb <= 4095:
                raise UsageError("Invalid buffer size (should be 1-4095).")
        elif flag == "-m":
            if not re.fullmatch(r"[a-z0-9_]+", val):
                raise UsageError(f"Safety pattern mismatch for -m parameter "
                                 f"('{val}' vs. '^[a-z0-9_]+$')")
            opts.module_name = val
        elif flag == "-l":
            opts.list_probes = val
        elif flag == "-L":
            opts.list_probes_vars = val
        elif flag == "--runtime":
            opts.runtime = val
        elif flag == "--bpf":
            opts.runtime = "bpf"
        elif flag == "--compatible":
            opts.compatible = val
        elif flag == "--dump-probe-aliases":
            opts.dump_probe_aliases = True
        elif flag == "--dump-functions":
            opts.dump_functions = True
        elif flag == "--dump-probe-types":
            opts.dump_probe_types = True
    listing = (opts.list_probes or opts.list_probes_vars or opts.dump_probe_aliases
               or opts.dump_functions or opts.dump_probe_types)
    if opts.script_text is None and not listing:
        if not rest:
            raise UsageError("A script must be specified.")
        opts.script_file = rest.pop(0)
    opts.args = rest
    return opts


class UsageError(Exception):
    pass


class ShowHelp(Exception):
    pass


class ShowVersion(Exception):
    pass


def read_script(opts: Options):
    """Return (text, filename) of the user script, as stap names it."""
    if opts.script_text is not None:
        return opts.script_text, "<input>"
    if opts.script_file == "-":
        return sys.stdin.read(), "<input>"
    try:
        with open(opts.script_file, encoding="utf-8", errors="surrogateescape") as f:
            return f.read(), opts.script_file
    except OSError as e:
        raise PassFailed(f"Input file '{opts.script_file}' is missing.\n"
                         f"Pass 1: parse failed.  [man error::pass1]") from e


def run(opts: Options) -> int:
    from . import pipeline
    return pipeline.run(opts)


def _interrupted(e) -> int:
    """A signal stopped a pass before the run (nothing is attached yet)."""
    from . import interrupts
    try:
        sys.stdout.flush()
    except Exception:
        pass
    try:
        sys.stderr.flush()
    except Exception:
        pass
    interrupts.report(interrupts.message(e.signum) + "\n")
    if interrupts.worker_busy():
        # BCC is still compiling in C: nothing of it is worth waiting for
        os._exit(1)
    return 1


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        opts = parse_args(argv)
    except ShowHelp:
        sys.stdout.write(USAGE.format(version=__version__))
        return 0
    except ShowVersion:
        sys.stdout.write(f"pytap {__version__} (SystemTap 4.8 language, eBPF via BCC)\n")
        return 0
    except UsageError as e:
        sys.stderr.write(f"pytap: {e}\nTry 'pytap --help' for more information.\n")
        return 1
    from . import interrupts
    saved = interrupts.install()
    try:
        return _run(opts)
    except interrupts.Interrupted as e:
        return _interrupted(e)
    finally:
        interrupts.restore(saved)


def _run(opts) -> int:
    try:
        return run(opts)
    except PassFailed as e:
        if e.diagnostics is not None:
            e.diagnostics.print(sys.stderr)
        if e.footer:
            sys.stderr.write(e.footer if e.footer.endswith("\n") else e.footer + "\n")
        return e.exit_code
    except StapError as e:
        sys.stderr.write(str(e))
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # an internal bug: say so plainly, keep details opt-in
        if os.environ.get("PYTAP_DEBUG"):
            raise
        sys.stderr.write(f"pytap: internal error: {type(e).__name__}: {e}\n"
                         f"(set PYTAP_DEBUG=1 for a traceback)\n")
        return 2
