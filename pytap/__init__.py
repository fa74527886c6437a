"""pytap: run SystemTap scripts on eBPF through BCC.

Library entry points (see README "Library"):
    parse(text, filename=...)       -> ast.StapFile      (pass 1)
    parse_file(path)                -> ast.StapFile
    elaborate(source, tapset_dirs=...) -> elaborate.Session (pass 2)
"""
from pathlib import Path

__version__ = "0.1.0"

# Our own tapset library; PYTAP_TAPSET replaces it, -I adds to it.
DEFAULT_TAPSET_DIR = Path(__file__).resolve().parent.parent / "tapsets"


def parse(text, filename="<input>", options=None):
    from .parser import parse as _parse
    return _parse(text, filename, options)


def parse_file(path, options=None):
    from .parser import parse_file as _parse_file
    return _parse_file(path, options)


def elaborate(source, tapset_dirs=None, options=None, filename="<input>"):
    from .elaborate import elaborate_source
    return elaborate_source(source, tapset_dirs=tapset_dirs, options=options, filename=filename)
