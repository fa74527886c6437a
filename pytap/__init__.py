"""pytap: run SystemTap scripts on eBPF through BCC.

Library entry points (see README "Library"):
    parse(text, filename=...)       -> ast.StapFile      (pass 1)
    parse_file(path)                -> ast.StapFile
    elaborate(source, tapset_dirs=...) -> elaborate.Session (pass 2)
"""
from pathlib import Path

__version__ = "0.1.0"



def _default_tapset_dir() -> Path:
    """Our own tapset library, from the installed package only: a built
    install carries it as pytap/_tapsets (setup.py copies it there); a
    source checkout (editable install: pyproject.toml beside the package)
    uses its tapsets/.  Never a "tapsets" that merely sits next to the
    package (site-packages/tapsets belongs to nobody we know)."""
    pkg = Path(__file__).resolve().parent
    shipped = pkg / "_tapsets"
    if shipped.is_dir():
        return shipped
    checkout = pkg.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "tapsets").is_dir():
        return checkout / "tapsets"
    return shipped


# Our own tapset library; PYTAP_TAPSET replaces it, -I adds to it.
DEFAULT_TAPSET_DIR = _default_tapset_dir()


def parse(text, filename="<input>", options=None):
    from .parser import parse as _parse
    return _parse(text, filename, options)


def parse_file(path, options=None):
    from .parser import parse_file as _parse_file
    return _parse_file(path, options)


def elaborate(source, tapset_dirs=None, options=None, filename="<input>"):
    from .elaborate import elaborate_source
    return elaborate_source(source, tapset_dirs=tapset_dirs, options=options, filename=filename)
