"""Token-level preprocessing, run between the lexer and the grammar.

In stap's order:
  1. script arguments `$1 @1 $# @#` are replaced by their values;
  2. macros: `@define NAME[(params)] %( body %)` definitions are collected
     and removed, `@NAME[(args)]` invocations expanded (file-local macros
     plus the public ones from the tapset directories' `.stpm` files);
  3. conditionals `%( COND %? A %: B %)` keep A or B.

Facts the conditions ask about (kernel version, arch, CONFIG_*) come from
`Facts`, which tests can replace.
"""
from __future__ import annotations

import fnmatch
import functools
import gzip
import os
import platform as _platform
import re
from typing import Dict, List, Optional, Tuple

from .ast import Loc
from .diagnostics import StapError
from .lexer import Token, tokenize

# Builtin @-operators the grammar knows; anything else is a macro (or an
# "unknown operator" parse error).
BUILTIN_AT = {
    "@cast": "AT_CAST", "@defined": "AT_DEFINED", "@entry": "AT_ENTRY",
    "@var": "AT_VAR", "@const": "AT_CONST", "@perf": "AT_PERF",
    "@count": "AT_STAT", "@sum": "AT_STAT", "@min": "AT_STAT", "@max": "AT_STAT",
    "@avg": "AT_STAT", "@variance": "AT_STAT",
    "@hist_log": "AT_HIST", "@hist_linear": "AT_HIST",
    "@probewrite": "AT_PROBEWRITE", "@kregister": "AT_KREGISTER",
    "@uregister": "AT_UREGISTER",
    "@kderef": "AT_KDEREF", "@uderef": "AT_UDEREF",
}


def perr(msg: str, tok: Token, label: str = "saw") -> StapError:
    e = StapError(msg, tok.loc, tok_desc=tok.desc(), kind="parse", label=label)
    # "in expansion of macro" lines, innermost first
    exp = []
    inv = getattr(tok, "expanded_from", None)
    while inv is not None:
        exp.append((inv.desc(), inv.loc))
        inv = inv.expanded_from
    if exp:
        e.expansions = exp
    return e


def _pp_err(msg: str, tok: Token, label: str = "saw") -> StapError:
    """A preprocessor error: stap prints every one (no "similar error"
    suppression)."""
    e = perr(msg, tok, label)
    e.no_suppress = True
    return e


def _define_error(msg: str, tok: Token, consumed: Optional[Token] = None) -> StapError:
    """A malformed @define.  stap reports it where its parser asks for a
    token and scans on after the last token the definition consumed
    (`consumed`, default the blamed one); at end of file it names no token.
    (no_count: the .stpm reader gives such a file up.)"""
    if tok.type == "EOF":
        e = StapError(msg, None, tok_desc=f"{tok.file} EOF", kind="parse", label="saw")
        e.no_suppress = True
    else:
        e = _pp_err(msg, tok, label="at")
    e.no_count = True
    e.consumed = consumed if consumed is not None else tok
    return e


# --------------------------------------------------------------- facts

class _DefineAbandoned(Exception):
    """A @define stap reports as an ordinary parse error and scans past."""

    def __init__(self, err: StapError, resume: int):
        super().__init__(err.message)
        self.err, self.resume = err, resume


def _read_kernel_config() -> Dict[str, str]:
    """CONFIG_* values: the build tree's .config first (stap reads that one:
    it is what the probes are compiled against, and matching stap's -p1
    needs it), else /proc/config.gz, else /boot/config-$(uname -r)."""
    rel = os.uname().release
    cands = [f"/lib/modules/{rel}/build/.config", "/proc/config.gz", f"/boot/config-{rel}"]
    for path in cands:
        try:
            if path.endswith(".gz"):
                with gzip.open(path, "rt", errors="replace") as f:
                    text = f.read()
            else:
                with open(path, errors="replace") as f:
                    text = f.read()
        except OSError:
            continue
        cfg = {}
        for line in text.splitlines():
            if line.startswith("CONFIG_") and "=" in line:
                k, _, v = line.partition("=")
                if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
                    v = v[1:-1]
                cfg[k] = v
        return cfg
    return {}


class Facts:
    """What `%( ... %)` conditions compare against."""

    def __init__(self, options=None):
        rel = os.uname().release
        self.kernel_vr = rel
        self.kernel_v = re.match(r"[0-9.]*", rel).group().rstrip(".") or rel
        m = _platform.machine()
        self.arch = {"aarch64": "arm64", "armv7l": "arm", "i686": "i386", "ppc64le": "powerpc",
                     "ppc64": "powerpc"}.get(m, m)
        self.runtime = getattr(options, "runtime", "bpf") or "bpf"
        self.systemtap_v = getattr(options, "compatible", "4.8") or "4.8"
        self.guru = bool(getattr(options, "guru", False))
        self.privilege = "stapdev"
        self.nargs = len(getattr(options, "args", []) or [])
        self._config = None

    def config(self, name: str) -> str:
        if self._config is None:
            self._config = config_reader()
        return self._config.get(name, "")


# Replaceable by tests: returns the CONFIG_* dictionary.
config_reader = functools.lru_cache(maxsize=1)(_read_kernel_config)


def strverscmp(a: str, b: str) -> int:
    """glibc strverscmp for the version strings stap compares (digit runs
    compare numerically, leading zeros as fractions)."""
    ra = re.findall(r"\d+|\D+", a)
    rb = re.findall(r"\d+|\D+", b)
    for x, y in zip(ra, rb):
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            if x.startswith("0") or y.startswith("0"):
                # fractional parts: compare as strings of digits
                return -1 if x < y else 1
            return (int(x) > int(y)) - (int(x) < int(y))
        return -1 if x < y else 1
    return (len(ra) > len(rb)) - (len(ra) < len(rb))


_CMP = {
    "EQ": lambda c: c == 0, "NE": lambda c: c != 0, "LT": lambda c: c < 0,
    "LE": lambda c: c <= 0, "GT": lambda c: c > 0, "GE": lambda c: c >= 0,
}


# --------------------------------------------------------------- driver

class Preprocessor:
    def __init__(self, options=None, errors: Optional[list] = None,
                 library_macros: Optional[dict] = None, privileged: bool = False):
        self.options = options
        self.errors = errors if errors is not None else []
        self.facts = Facts(options)
        self.library_macros = library_macros if library_macros is not None else {}
        self.privileged = privileged
        self._stream = False       # run(): macros handled during the scan
        self._table: dict = {}

    # ---- 1. script arguments
    def substitute_args(self, toks: List[Token]) -> List[Token]:
        args = list(getattr(self.options, "args", []) or [])
        out = []
        for t in toks:
            if t.type != "ARGREF":
                out.append(t)
                continue
            sigil, what = t.value[0], t.value[1:]
            if what == "#":
                val = str(len(args))
                if sigil == "$":
                    out.append(_retok(t, "NUMBER", val))
                else:
                    out.append(_retok(t, "STRING", val, '"' + val + '"'))
                continue
            i = int(what)
            if not (1 <= i <= len(args)):
                # like a lexical error: reported when the parser reaches it
                err = StapError(f"command line argument out of range [1-{len(args)}]", t.loc,
                                tok_desc="junk ''", kind="parse", label="at")
                bad = _retok(t, "ARGERR", "", t.value)
                bad.value = err
                out.append(bad)
                continue
            a = args[i - 1]
            if sigil == "@":
                esc = a.replace("\\", "\\\\").replace('"', '\\"')
                out.append(_retok(t, "STRING", esc, '"' + esc + '"'))
            else:
                sub = tokenize(a, t.file)[:-1]
                for k, s in enumerate(sub):
                    s.lineno, s.col, s.file = t.lineno, t.col, t.file
                    if isinstance(s.value, StapError):
                        # a lexical error in the pasted text: at the $N
                        s.value.loc = t.loc
                    if s.type == "ARGREF":
                        # stap pastes argument text into its input and
                        # refuses $N/@N/$#/@# inside it
                        err = StapError("invalid nested substitution of command line arguments",
                                        t.loc, tok_desc="junk ''", kind="parse", label="at")
                        bad = _retok(t, "ARGERR", "", s.text)
                        bad.value = err
                        sub[k] = bad
                if sub:
                    sub[0].ws_before = t.ws_before
                out.extend(sub)
        return out

    # ---- 2. macros
    def collect_defines(self, toks: List[Token], table: dict) -> List[Token]:
        """Remove `@define` constructs from toks, recording them in table."""
        out = []
        i = 0
        n = len(toks)
        while i < n:
            t = toks[i]
            if t.type == "ATWORD" and t.value == "@define":
                try:
                    i = self._parse_define(toks, i, table)
                except _DefineAbandoned as a:
                    out.append(_pp_error_token(a.err))
                    i = a.resume
                except StapError as e:
                    if not getattr(e, "no_count", False):
                        raise
                    # reported; the rest of the file is given up
                    self.errors.append(e)
                    if getattr(e, "follow", None) is not None:
                        self.errors.append(e.follow)
                    out.append(toks[-1])
                    return out
                continue
            out.append(t)
            i += 1
        return out

    def _parse_define(self, toks, i, table) -> int:
        start = toks[i]
        i += 1
        name_tok = toks[i]
        if name_tok.type != "IDENT":
            raise _define_error("expected identifier", name_tok)
        name = name_tok.value
        if name in table and table[name][2] is not None and table[name][3]:
            # checked as soon as the name is read
            first = table[name][3]
            e1 = _define_error(f"attempt to redefine macro '@{name}' in the same file", name_tok)
            e2 = _define_error(f"macro '@{name}' first defined here", first)
            e1.follow = e2
            raise e1
        if name == "define":
            # stap reports it and scans on right after the name (the rest of
            # the would-be definition then cascades into further errors)
            e = _cond_err("attempt to redefine '@define'", name_tok, "define-define")
            raise _DefineAbandoned(e, i + 1)
        i += 1
        params: List[str] = []
        if toks[i].type == "LPAREN" and not toks[i].ws_before or toks[i].type == "LPAREN":
            i += 1
            while True:
                t = toks[i]
                if t.type == "IDENT":
                    params.append(t.value)
                    i += 1
                    if toks[i].type == "COMMA":
                        i += 1
                        continue
                    if toks[i].type == "RPAREN":
                        i += 1
                        break
                    raise _define_error("expected ',' or ')'", toks[i])
                raise _define_error("expected identifier", t)
        if toks[i].type != "PP_OPEN":
            raise _define_error("expected '%('" if params else "expected '%(' or '('", toks[i])
        i += 1
        depth = 1
        body = []
        while True:
            t = toks[i]
            if t.type == "EOF":
                raise _define_error("incomplete macro definition - missing '%)'", name_tok, t)
            if t.type == "PP_OPEN":
                depth += 1
            elif t.type == "PP_CLOSE":
                depth -= 1
                if depth == 0:
                    i += 1
                    break
            body.append(t)
            i += 1
        if "@" + name in BUILTIN_AT and not getattr(self.options, "suppress_warnings", False):
            import sys
            from .diagnostics import _caret_block
            sys.stderr.write(f"WARNING: macro redefines built-in operator '@{name}': "
                             f"{name_tok.desc()} at {name_tok.loc}\n"
                             + _caret_block("source", 8, name_tok.loc))
        table[name] = (params, body, start, name_tok)
        return i

    def expand(self, toks: List[Token], table: dict, depth: int = 0,
               bindings: Optional[dict] = None) -> List[Token]:
        out = []
        i = 0
        n = len(toks)
        while i < n:
            t = toks[i]
            if t.type != "ATWORD":
                out.append(t)
                i += 1
                continue
            name = t.value[1:]
            if bindings is not None and name in bindings:
                rep = [x.copy() for x in bindings[name]]
                if rep:
                    rep[0].ws_before = t.ws_before
                out.extend(rep)
                i += 1
                continue
            # a macro wins over a built-in @operator of the same name (stap
            # warns when it is defined)
            m = table.get(name) or self.library_macros.get(name)
            if m is None and t.value in BUILTIN_AT:
                out.append(_retok(t, BUILTIN_AT[t.value], t.value))
                i += 1
                continue
            if m is None:
                out.append(t)
                i += 1
                continue
            params, body = m[0], m[1]
            i += 1
            args: List[List[Token]] = []
            if params:
                args, i = _macro_args(toks, i, name, params, t)
                # arguments are expanded in the caller's context first
                args = [self.expand(a, table, depth + 1, bindings) for a in args]
            if depth > 50:
                raise _pp_err("maximum macro expansion depth exceeded", t)
            new_b = dict(zip(params, args))
            body_toks = []
            for b in body:
                c = b.copy()
                c.expanded_from = t
                body_toks.append(c)
            if body_toks:
                body_toks[0].ws_before = t.ws_before
            out.extend(self.expand(body_toks, table, depth + 1, new_b))
        return out

    # ---- 3. conditionals
    def conditionals(self, toks: List[Token]) -> List[Token]:
        out: List[Token] = []
        self._cond_scan(toks, 0, out, top=True)
        return out

    def _cond_scan(self, toks, i, out, top=False, stop=()):
        """Copy tokens to out until a token whose type is in stop (returned
        index points at it) or EOF.  In stream mode (run) macros are
        defined and expanded here, as the scan meets them: only in the
        branches taken, and only after their definition (stap 4.8)."""
        while i < len(toks):
            n = len(toks)
            t = toks[i]
            if t.type in stop:
                return i
            if t.type == "PP_OPEN":
                i = self._conditional(toks, i, out)
                continue
            if self._stream and t.type == "PARAMREF":
                self._splice_macro(toks, i)
                continue
            if self._stream and t.type == "ARGREF":
                # stap's lexer pastes $N's text into its input: the pasted
                # tokens meet macros, conditionals and @operators (`$3(x)`
                # with $3 = @sum) like the script's own
                toks[i:i + 1] = self.substitute_args([t])
                continue
            if self._stream and t.type == "ATWORD":
                if t.value == "@define":
                    i = self._define_in_stream(toks, i, out)
                    continue
                if self._splice_macro(toks, i):
                    continue            # toks[i] is now the expansion's first token
                if t.value in BUILTIN_AT:
                    out.append(_retok(t, BUILTIN_AT[t.value], t.value))
                    i += 1
                    continue
            if t.type == "ATWORD" and t.value == "@define":
                # a definition's body is not a conditional: copy it verbatim
                j = i + 1
                while j < n and toks[j].type not in ("PP_OPEN", "EOF"):
                    j += 1
                depth = 0
                while j < n and toks[j].type != "EOF":
                    if toks[j].type == "PP_OPEN":
                        depth += 1
                    elif toks[j].type == "PP_CLOSE":
                        depth -= 1
                        if depth == 0:
                            j += 1
                            break
                    j += 1
                out.extend(toks[i:j])
                i = j
                continue
            if t.type == "PP_THEN" or top and t.type in ("PP_ELSE", "PP_CLOSE"):
                # stap reports each stray marker where its parser meets it
                # and goes on in the same state
                out.append(_pp_error_token(_cond_err("incomplete conditional - missing '%('",
                                                     t, "then" if t.type == "PP_THEN" else t.type)))
                i += 1
                continue
            if t.type == "EOF":
                out.append(t)
                return i + 1
            out.append(t)
            i += 1
        return i

    def _conditional(self, toks, i, out):
        """One `%( COND %? THEN %: ELSE %)`, read as stap's scan_pp reads it.
        COND is `L OP R` triples joined by && / ||.  An error in it is
        reported where the parser meets it (a PPERR token) and scanning goes
        on after the tokens consumed so far, outside this conditional.  Only
        the branch taken is preprocessed (conditions evaluated, $N
        substituted); the other is skipped by nesting alone, as stap's
        skip_pp does, so `%( $# >= 3 %? %( $2 ... %) %: ... %)` never looks
        at $2 without arguments."""
        open_tok = toks[i]
        rd = _ArgReader(self, toks, i + 1)
        result, and_result = False, True
        while True:
            trip = [rd.next() for _ in range(3)]
            if any(t is None for t in trip):
                out.append(_pp_error_token(_cond_err("incomplete condition after '%('",
                                                     open_tok, "incomplete")))
                return rd.i
            try:
                and_result = self._eval_triple(*trip) and and_result
            except StapError as e:
                out.append(_pp_error_token(e))
                return rd.i
            n = rd.next()
            if n is not None and n.type == "ANDAND":
                continue
            result = result or and_result
            and_result = True
            if not (n is not None and n.type == "OROR"):
                break
        if n is None or n.type != "PP_THEN":
            out.append(_pp_error_token(_cond_err("expected '%?' marker for conditional",
                                                 open_tok, "marker")))
            return rd.i
        value = result
        i = rd.i
        if value:
            i = self._cond_scan(toks, i, out, stop=_BRANCH_END)
        else:
            i = _skip_branch(toks, i, out)
        t = toks[i]
        if t.type == "PP_ELSE":
            if value:
                i = _skip_branch(toks, i + 1, out)
            else:
                i = self._cond_scan(toks, i + 1, out, stop=_BRANCH_END)
            t = toks[i]
            while t.type == "PP_ELSE":
                # stap reports it and stays in the else branch
                out.append(_pp_error_token(_cond_err("invalid conditional - duplicate '%:'",
                                                     t, "dup-else")))
                if value:
                    i = _skip_branch(toks, i + 1, out)
                else:
                    i = self._cond_scan(toks, i + 1, out, stop=_BRANCH_END)
                t = toks[i]
        if t.type != "PP_CLOSE":
            # EOF inside the conditional (each open one is reported)
            out.append(_pp_error_token(_cond_err("incomplete conditional at end of file",
                                                 open_tok, "eof")))
            return i
        return i + 1

    def _eval_triple(self, l: Token, op: Token, r: Token) -> bool:
        """stap's eval_pp_conditional, rule for rule (same messages, same
        blamed token)."""
        f = self.facts
        lname = l.value if l.type == "IDENT" else None
        family = lname if lname in ("kernel_v", "kernel_vr", "systemtap_v") else \
            ("CONFIG" if lname and lname.startswith("CONFIG_") else (lname or l.type))
        if family in ("kernel_vr", "systemtap_v"):
            family = "kernel_v"          # one rule in stap for the three

        def err(msg, tok):
            if tok.type == "ARGERR":
                # an out-of-range $N/@N: its own message wins (as a lexer
                # error does in stap)
                return tok.value
            return _cond_err(msg, tok, f"{family}:{msg}")

        def eq_ne(matched: bool) -> bool:
            if op.type == "EQ":
                return matched
            if op.type == "NE":
                return not matched
            raise err("expected '==' or '!='", op)

        def compare(a, b) -> bool:
            if op.type not in _CMP:          # (one throw in stap for all)
                raise _cond_err("expected comparison operator", op, "compare")
            return _CMP[op.type]((a > b) - (a < b))

        if lname in ("kernel_v", "kernel_vr", "systemtap_v"):
            if r.type != "STRING":
                raise err("expected string literal", r)
            if op.type not in _CMP:
                raise err("expected comparison operator", op)
            mine, pat = getattr(f, lname), r.value
            if any(ch in pat for ch in "*?["):
                if op.type not in ("EQ", "NE"):
                    raise err("wildcard not allowed with order comparison operators", op)
                return eq_ne(fnmatch.fnmatchcase(mine, pat))
            return _CMP[op.type](strverscmp(mine, pat))
        if lname in ("systemtap_privilege", "arch", "runtime"):
            if r.type != "STRING":
                raise err("expected string literal", r)
            mine = {"systemtap_privilege": f.privilege, "arch": f.arch,
                    "runtime": f.runtime}[lname]
            if lname == "systemtap_privilege":
                return eq_ne(mine == r.value)
            return eq_ne(fnmatch.fnmatchcase(mine, r.value))
        if lname == "guru_mode":
            if r.type != "NUMBER":
                raise err("expected number", r)
            want = _lex_cast(r)
            if want not in (0, 1):
                raise err("expected 0 or 1", op)
            return eq_ne(int(f.guru) == want)
        if lname is not None and lname.startswith("CONFIG_"):
            mine = f.config(lname)
            if r.type == "STRING":
                return eq_ne(fnmatch.fnmatchcase(mine, r.value))
            if r.type == "NUMBER":
                a = _config_number(mine)
                if a is None:
                    raise err("Config option value not a number", l)
                return compare(a, _lex_cast(r))
            if r.type == "IDENT" and r.value.startswith("CONFIG_"):
                other = f.config(r.value)
                a, b = _config_number(mine), _config_number(other)
                if a is not None and b is not None:
                    return compare(a, b)
                return compare(mine, other)
            raise err("expected string, number literal or other CONFIG_... as right side operand", r)
        if l.type == "STRING" and r.type == "STRING":
            return compare(l.value, r.value)
        if l.type == "NUMBER" and r.type == "NUMBER":
            return compare(_lex_cast(l), _lex_cast(r))
        if l.type == "STRING" and r.type == "NUMBER" and _is_operator(op):
            raise err("expected string literal as right value", r)
        if l.type == "NUMBER" and r.type == "STRING" and _is_operator(op):
            raise err("expected number literal as right value", r)
        raise err(_COND_EXPECTED, l)

    # ---- macros, as the stream meets them
    def _define_in_stream(self, toks: List[Token], i: int, out: List[Token]) -> int:
        t = toks[i]
        if t.macro_depth > 0 or t.expanded_from is not None:
            # reported where the parser meets it; the rest of the body is
            # scanned on (and usually cascades, as in stap)
            out.append(_pp_error_token(_cond_err("'@define' forbidden inside macro body",
                                                 t, "define-in-macro")))
            return i + 1
        try:
            return self._parse_define(toks, i, self._table)
        except _DefineAbandoned as a:
            out.append(_pp_error_token(a.err))
            return a.resume
        except StapError as e:
            bad = getattr(e, "consumed", None)
            if bad is None:
                raise
            # reported where met (and counted); scanning goes on after what
            # was consumed
            out.append(_pp_error_token(e))
            e.no_count = False
            if getattr(e, "follow", None) is not None:
                e.follow.no_count = False
                out.append(_pp_error_token(e.follow))
            k = next((k for k in range(i, len(toks)) if toks[k] is bad), len(toks) - 1)
            return k if toks[k].type == "EOF" else k + 1

    def _splice_macro(self, toks: List[Token], i: int) -> bool:
        """If toks[i] invokes a macro (file-local, else public), replace the
        invocation in place by the body, parameters substituted, and say so.
        Macros in the body expand when the scan reaches them."""
        t = toks[i]
        if t.type == "PARAMREF":
            new = []
            for x in t.value[1]:
                c = x.copy()
                c.expanded_from = t
                new.append(c)
            if new:
                new[0].ws_before = t.ws_before
            toks[i:i + 1] = new
            return True
        name = t.value[1:]
        m = self._table.get(name) or self.library_macros.get(name)
        if m is None:
            return False
        params, body = m[0], m[1]
        j = i + 1
        args: List[List[Token]] = []
        if params:
            args, j = _macro_args(toks, j, name, params, t)
        if t.macro_depth > 50:
            raise _pp_err("maximum macro expansion depth exceeded", t)
        bind = dict(zip(params, args))
        new: List[Token] = []
        for b in body:
            if b.type == "ATWORD" and b.value[1:] in bind:
                # a parameter stays a reference until the scan reaches it
                # (stap's closures): its tokens then expand "in expansion
                # of" this @name, which may by then sit in another macro
                ref = b.copy()
                ref.type = "PARAMREF"
                ref.value = (b.value, bind[b.value[1:]])
                ref.expanded_from = t
                ref.macro_depth = t.macro_depth + 1
                new.append(ref)
                continue
            c = b.copy()
            c.expanded_from = t
            c.macro_depth = t.macro_depth + 1
            new.append(c)
        if new:
            new[0].ws_before = t.ws_before
        toks[i:j] = new
        return True

    # ---- all of it
    def run(self, toks: List[Token], file_macros: Optional[dict] = None) -> List[Token]:
        """Macros and conditionals in one scan, as stap's scan_pp does,
        then $N/@N: after conditionals `%( $# > 0 %? $1 %: ... %)` must not
        fail."""
        self._table = {} if file_macros is None else file_macros
        self._stream = True
        out: List[Token] = []
        try:
            self._cond_scan(list(toks), 0, out, top=True)
        finally:
            self._stream = False
        return self.substitute_args(out)


_STRING_FACTS = {"arch", "runtime", "kernel_v", "kernel_vr", "systemtap_v", "systemtap_privilege"}
_COND_EXPECTED = ("expected 'arch', 'kernel_v', 'kernel_vr', 'systemtap_v',\n"
                  "             'runtime', 'systemtap_privilege', 'CONFIG_...', or\n"
                  "             comparison between strings or integers")


_BRANCH_END = ("PP_ELSE", "PP_CLOSE", "EOF")


def _skip_branch(toks: List[Token], i: int, out: List[Token]) -> int:
    """Index of the %: or %) (or EOF) ending a branch not taken; nested
    conditionals are skipped whole and nothing is evaluated (stap's
    skip_pp).  A %? of this level is still an error, and skipping goes on."""
    depth = 0
    while True:
        t = toks[i]
        if t.type == "EOF":
            return i
        if t.type == "PP_OPEN":
            depth += 1
        elif depth and t.type == "PP_CLOSE":
            depth -= 1
        elif not depth and t.type in ("PP_ELSE", "PP_CLOSE"):
            return i
        elif not depth and t.type == "PP_THEN":
            out.append(_pp_error_token(_cond_err("incomplete conditional - missing '%('",
                                                 t, "then")))
        i += 1


def _cond_err(msg: str, tok: Token, site: str) -> StapError:
    """A conditional-preprocessing error.  stap holds back an error thrown
    from the same line of its scanner as one already shown (unless -v):
    `site` names that line."""
    e = perr(msg, tok, label="at")
    e.site = "pp:" + site
    return e


def _pp_error_token(err: StapError) -> Token:
    """A preprocessor error as a token: the parser reports it where it
    meets it (stap throws it from its token scanner), and also while
    skipping to the next declaration after an earlier error."""
    at = err.loc
    t = Token("PPERR", "", at.line if at else 0, at.col if at else 0,
              at.file if at else "", 0, False)
    t.value = err
    return t


def _lex_cast(t: Token) -> int:
    """A number in a condition, as stap's lex_cast<int64_t> reads it:
    decimal only (010 is ten); anything else (0x10, past int64) makes stap
    stop with "bad lexical cast"."""
    v = t.value
    if re.fullmatch(r"[0-9]+", v) and int(v) < 1 << 63:
        return int(v)
    from .diagnostics import PassFailed
    raise PassFailed("bad lexical cast")


def _is_operator(t: Token) -> bool:
    return t.desc().startswith("operator")


def _config_number(v: str) -> Optional[int]:
    """strtoll(v, &end, 0) with nothing left over (empty: 0), else None."""
    v = v.strip() if v else ""
    if not v:
        return 0
    try:
        return int(v, 0) if not re.match(r"-?0[0-7]+$", v) else int(v, 8)
    except ValueError:
        return None


class _ArgReader:
    """Tokens of a condition, $N/@N/$#/@# substituted as they are read
    (stap's lexer pastes argument text in place); None at EOF."""

    def __init__(self, pp: "Preprocessor", toks: List[Token], i: int):
        self.pp, self.toks, self.i, self.buf = pp, toks, i, []

    def next(self) -> Optional[Token]:
        while True:
            if self.buf:
                return self.buf.pop(0)
            t = self.toks[self.i]
            if t.type == "EOF":
                return None
            if t.type in ("ATWORD", "PARAMREF") and self.pp._stream and \
                    self.pp._splice_macro(self.toks, self.i):
                continue            # a macro in the condition: read its expansion
            self.i += 1
            if t.type != "ARGREF":
                return t
            self.buf = self.pp.substitute_args([t])


def _kw_names():
    from .lexer import KEYWORDS
    return KEYWORDS


def _num(t: Token) -> int:
    try:
        return int(t.value, 0) if not re.match(r"0[0-7]+$", t.value) else int(t.value, 8)
    except ValueError:
        return 0


def _split(toks: List[Token], typ: str) -> List[List[Token]]:
    parts = [[]]
    for t in toks:
        if t.type == typ:
            parts.append([])
        else:
            parts[-1].append(t)
    return parts


def _retok(t: Token, typ: str, val: str, text: Optional[str] = None) -> Token:
    n = t.copy()
    n.type = typ
    n.value = val
    n.text = val if text is None else text
    return n


# --------------------------------------------------------------- library macros

def tapset_search_dirs(options=None) -> List[str]:
    """Directories holding tapsets for this runtime/arch, in stap's order
    (the one rule lives in tapsets.search_dirs)."""
    from .tapsets import search_dirs
    base_dirs = options.tapset_dirs() if options is not None and hasattr(options, "tapset_dirs") \
        else [os.environ.get("PYTAP_TAPSET", "")]
    return search_dirs(base_dirs, options)


_LIB_CACHE: Dict[Tuple, dict] = {}


def library_macros(options=None) -> dict:
    """Public macros from every .stpm file on the tapset search path."""
    dirs = tuple(tapset_search_dirs(options))
    key = (dirs, getattr(options, "runtime", "bpf"), getattr(options, "guru", False))
    if key in _LIB_CACHE:
        return _LIB_CACHE[key]
    table: dict = {}
    for d in dirs:
        try:
            names = sorted(os.listdir(d))
        except OSError:
            continue
        for fn in names:
            if not fn.endswith(".stpm"):
                continue
            path = os.path.join(d, fn)
            try:
                with open(path, encoding="utf-8", errors="surrogateescape") as f:
                    text = f.read()
            except OSError:
                continue
            try:
                pp = Preprocessor(options, privileged=True)
                toks = tokenize(text, path)
                # .stpm: conditionals may wrap definitions, so evaluate them first
                toks = pp.conditionals(toks)
                mine: dict = {}
                pp.collect_defines(toks, mine)
                table.update(mine)
            except StapError:
                continue
    _LIB_CACHE[key] = table
    return table


def _macro_args(toks: List[Token], i: int, name: str, params, t: Token):
    """The argument token lists of an invocation of macro `name` whose
    '(' should stand at toks[i], split at top-level commas; returns them
    and the index just past the ')'.  stap's messages for a missing '(',
    end of file, and too many or too few arguments."""
    n = len(toks)
    if i >= n or toks[i].type != "LPAREN":
        raise _pp_err(f"expected '(' in invocation of macro '@{name}' taking "
                      f"{len(params)} parameters", toks[i] if i < n else t, label="at")
    i += 1
    args: List[List[Token]] = []
    cur: List[Token] = []
    pdepth = 0
    while True:
        if i >= n or toks[i].type == "EOF":
            raise _pp_err(f"unexpected end-of-file in macro invocation '@{name}'",
                          toks[i] if i < n else t)
        a = toks[i]
        if a.type in ("LPAREN", "LBRACKET", "LBRACE"):
            pdepth += 1
        elif a.type in ("RPAREN", "RBRACKET", "RBRACE"):
            if pdepth == 0 and a.type == "RPAREN":
                args.append(cur)
                i += 1
                break
            pdepth -= 1
        elif a.type == "COMMA" and pdepth == 0:
            args.append(cur)
            if len(args) >= len(params):
                raise _pp_err(f"too many parameters for macro '@{name}' "
                              f"(expected {len(params)})", a, label="at")
            cur = []
            i += 1
            continue
        cur.append(a)
        i += 1
    if len(args) != len(params):
        raise _pp_err(f"too few parameters for macro '@{name}' "
                      f"(expected {len(params)})", toks[i - 1], label="at")
    return args, i
