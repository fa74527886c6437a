"""Everything the command line (or a library caller) can set, in one place.

Passes read what they need from an `Options`; nothing else carries global
state.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional


@dataclass
class Options:
    last_pass: int = 5                      # -p N
    verbose: int = 0                        # -v (repeatable)
    script_file: Optional[str] = None       # FILE, or "-" for stdin
    script_text: Optional[str] = None       # -e SCRIPT
    extra_scripts: List[str] = field(default_factory=list)  # -E SCRIPT
    args: List[str] = field(default_factory=list)           # $1.. / @1..
    include_dirs: List[str] = field(default_factory=list)   # -I DIR
    tapset_dir: Optional[str] = None        # PYTAP_TAPSET, else our tapsets/
    guru: bool = False                      # -g
    runtime: str = "bpf"                    # --runtime=NAME / --bpf
    compatible: str = "4.8"                 # --compatible=V
    defines: Dict[str, str] = field(default_factory=dict)   # -D NAME=VALUE
    globals_init: Dict[str, str] = field(default_factory=dict)  # -G VAR=VAL
    suppress_warnings: bool = False         # -w
    warnings_as_errors: bool = False        # -W
    unoptimized: bool = False               # -u
    output_file: Optional[str] = None       # -o FILE
    output_size_mb: int = 0                 # -S SIZE[,N]: new file every SIZE MB
    output_files_max: int = 0               # ... keeping the last N (0: all)
    target_cmd: Optional[str] = None        # -c CMD
    symbol_files: List[str] = field(default_factory=list)   # -d FILE: user symbols for stacks
    target_pid: int = 0                     # -x PID
    timeout: Optional[float] = None         # -T SECONDS
    timing: bool = False                    # -t: probe hit report at exit
    buffer_mb: Optional[int] = None         # -s NUM: ring buffer MiB per CPU
    module_name: Optional[str] = None       # -m NAME (procfs files' directory)
    list_probes: Optional[str] = None       # -l PATTERN
    list_probes_vars: Optional[str] = None  # -L PATTERN
    dump_probe_aliases: bool = False
    dump_functions: bool = False
    dump_probe_types: bool = False
    use_cache: bool = True                  # tapset parse cache

    def tapset_dirs(self) -> List[str]:
        """Search path, in stap's order: -I dirs, then the main tapset dir."""
        main = self.tapset_dir or os.environ.get("PYTAP_TAPSET")
        if not main:
            from . import DEFAULT_TAPSET_DIR
            main = str(DEFAULT_TAPSET_DIR)
        return list(self.include_dirs) + [main]

    def define_int(self, name: str, default: int) -> int:
        """A -D NAME=VALUE limit (MAXSTRINGLEN, MAXACTION, MAXMAPENTRIES...)."""
        try:
            return int(self.defines.get(name, default), 0)
        except (TypeError, ValueError):
            return default

    @property
    def cache_dir(self) -> Path:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return Path(base) / "pytap"
