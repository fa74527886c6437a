"""The pass pipeline, as `stap -pN` runs it.

  1 parse        pytap.parser.parse            -> ast.StapFile   (-p1: printer.dump_p1)
  2 elaborate    pytap.elaborate.elaborate     -> Session        (-p2: session.dump)
  3 translate    pytap.codegen.generate        -> Program        (-p3: program.c_source)
  4 load         pytap.runtime.loader.load     (verifier, no attach)
  5 run          pytap.runtime.lifecycle.run   -> exit status

Each pass raises diagnostics.PassFailed with stap's footer on failure.
"""
from __future__ import annotations

import os
import sys

from .options import Options


def emit(text: str) -> None:
    """Pass output (-p1..-p3, listings) to stdout.  A write error (full
    disk, I/O error) ends the run as pass 5's does: stap-style ERROR line,
    exit 1, no traceback; a closed pipe stays the caller's quiet case."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as e:
        try:                 # Python's own flush at exit must not fail again
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass
        from .diagnostics import PassFailed
        raise PassFailed(f"ERROR: Couldn't write to output: {e.strerror or e}") from None


def run(opts: Options) -> int:
    from . import cachefs
    cachefs.verbose = opts.verbose          # -v notes about ignored caches
    # -g / -c / -x reach probe matching (process.function/.mark without a
    # path mean the -c command's program)
    from .platform import apply_options
    apply_options(opts)
    if opts.list_probes or opts.list_probes_vars or opts.dump_probe_aliases \
            or opts.dump_functions or opts.dump_probe_types:
        from .elaborate.listing import run_listing
        return run_listing(opts)

    from .cli import read_script
    from .interrupts import set_pass
    from .parser import parse
    set_pass(1)
    text, filename = read_script(opts)
    script = parse(text, filename, opts)
    if opts.last_pass == 1:
        from .printer import dump_p1
        emit(dump_p1(script))
        return 0

    from .elaborate import elaborate
    set_pass(2)
    session = elaborate(script, opts)
    if opts.last_pass == 2:
        emit(session.dump(verbose=opts.verbose))
        return 0

    from .codegen import generate
    set_pass(3)
    program = generate(session, opts)
    if opts.verbose and opts.last_pass in (3, 4):
        import sys
        for line in program.plan:
            sys.stderr.write(f"Pass 3: plan: {line}\n")
    if opts.last_pass == 3:
        emit(program.c_source)
        return 0

    set_pass(4)
    if opts.last_pass == 4:
        from .runtime.loader import load_only
        return load_only(program, opts)

    from .runtime.lifecycle import run as run_program
    return run_program(program, opts)
