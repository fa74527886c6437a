"""What every provider shares: ResolvedPoint, TargetVar, point building,
and stap's "similar: ..." suggestions."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from .. import ast


@dataclass
class TargetVar:
    """One `$name` available at a probe point and how BPF reads it.

    source:
      "arg"     kprobe/uprobe function argument: PT_REGS_PARM<arg_index>(ctx)
                (1-based; only 1..6 are reachable through registers)
      "return"  $return: PT_REGS_RC(ctx) in a .return probe
      "field"   tracepoint record field at `offset` (size bytes) of the
                context record; `data_loc` strings keep a u32 whose low 16 bits
                are the string's offset in the record (high 16: its length)
      "tp_arg"  a tracepoint's TP_PROTO argument (what stap calls $prev,
                $next in sched_switch): ((u64 *)ctx)[arg_index] of a RAW
                tracepoint program (bpf_raw_tracepoint_args.args[arg_index],
                0-based); only readable with spec["raw"] = True, so a handler
                cannot mix "field" and "tp_arg" variables
    at_entry: an "arg" read in a .return probe means the value at entry
              (stap semantics); codegen saves it at entry (like @entry).
    string_space: where a string's bytes live, for is_string vars:
              "kernel" (bpf_probe_read_kernel_str), "user" (…_user_str),
              "record" (inside the tracepoint record: char[N] / __data_loc).
    """
    name: str                    # without the "$"
    c_type: str
    size: int
    signed: bool
    is_pointer: bool = False
    is_string: bool = False
    source: str = "arg"
    arg_index: int = 0
    offset: int = 0
    data_loc: bool = False
    array_len: int = 0
    string_space: Optional[str] = None
    at_entry: bool = False
    # a user program's DWARF variable: source "frame" (a stack slot at
    # pt_regs->`reg` + offset) or "reg" (pt_regs->`reg` itself); type_ref
    # is its platform.dwarf.DType, for ->member / [i] walks
    reg: str = ""
    type_ref: object = None

    # ------------------------------------------------ C for codegen (BCC)
    def c_value(self, ctx: str = "ctx") -> str:
        """A C expression of type s64 with the variable's value, sign- or
        zero-extended from its size.  Pointers (and char* strings) give the
        address; char[N] / __data_loc strings give the address of the bytes
        in the tracepoint record.  Needs <uapi/linux/ptrace.h> for
        PT_REGS_* (kprobe/uprobe programs)."""
        if self.source == "arg":
            raw = f"PT_REGS_PARM{self.arg_index}({ctx})"
        elif self.source == "return":
            raw = f"PT_REGS_RC({ctx})"
        elif self.source == "tp_arg":
            raw = f"((struct bpf_raw_tracepoint_args *){ctx})->args[{self.arg_index}]"
        elif self.source == "field":
            base = f"((char *){ctx} + {self.offset})"
            if self.data_loc:
                return f"(s64)((char *){ctx} + (*(u32 *){base} & 0xFFFF))"
            if self.array_len or self.size not in (1, 2, 4, 8):
                return f"(s64){base}"
            return f"(s64)*({_int_type(self.size, self.signed)} *){base}"
        else:
            raise ValueError(f"unknown TargetVar source {self.source!r}")
        if self.is_pointer or self.size >= 8:
            return f"(s64){raw}"
        return f"(s64)({_int_type(self.size, self.signed)}){raw}"

    def c_string(self, ctx: str = "ctx"):
        """(address expression, BPF helper that copies a NUL-terminated
        string from it) for is_string variables, e.g.
        ("(void *)PT_REGS_PARM2(ctx)", "bpf_probe_read_user_str")."""
        helper = "bpf_probe_read_user_str" if self.string_space == "user" else "bpf_probe_read_kernel_str"
        return f"(void *){self.c_value(ctx)}", helper


def _int_type(size: int, signed: bool) -> str:
    return f"{'s' if signed else 'u'}{size * 8}"


@dataclass(eq=False)
class ResolvedPoint:
    """One concrete probe point a provider matched.

    family:   "begin" "end" "error" "never" "timer" "perf" "kprobe"
              "tracepoint" "uprobe" "process"
    point:    the concrete point as stap prints it in -p2 (wildcards expanded)
    spec:     what attach() and codegen need (documented per family module)
    priority: N of begin(N)/end(N)/error(N), else 0
    annotation: text stap prints right after the point in -p2, e.g.
              ' /*  name = vfs_read*/' (kprobe) or ' /* pc=.dynamic+0x1139 */'
              (uprobe); "" for most families
    context:  family data behind variables() (tracepoint fields, BTF proto)
    derivation_point: when not None, the point stap shows as the LAST link
              of the -p2 derivation comment instead of the point as written:
              the concrete point for DWARF-style function probes
              (process().function("f*") -> each function), or what stap's
              own tapset alias expands to (perf.sw.cpu_clock ->
              perf.type(1).config(0); timer.profile ->
              perf.type(1).config(0).sample(1000000))
    """
    family: str
    point: ast.ProbePoint
    spec: dict = field(default_factory=dict)
    priority: int = 0
    annotation: str = ""
    context: object = None
    derivation_point: Optional[ast.ProbePoint] = None
    _vars: Optional[Callable[[], List[TargetVar]]] = field(default=None, repr=False)
    _listing: Optional[Callable[[], List[TargetVar]]] = field(default=None, repr=False)

    def variables(self) -> List[TargetVar]:
        """$vars available here, in declaration order ([] if none/unknown)."""
        return list(self._vars()) if self._vars is not None else []

    def listing_variables(self) -> List[TargetVar]:
        """The $vars `stap -L` prints for this point, as stap spells them
        (`$prev:struct task_struct*` is TargetVar("prev", "struct
        task_struct*", ...)): tracepoints' TP_PROTO arguments, the utrace
        $syscall/$argN of process.* points; [] where stap lists none (e.g.
        dwarfless kprobes, even though variables() offers BTF arguments)."""
        return list(self._listing()) if self._listing is not None else []

    def variable(self, name: str) -> Optional[TargetVar]:
        name = name.lstrip("$")
        for v in self.variables():
            if v.name == name:
                return v
        return None

    def text(self) -> str:
        from .. import printer  # the parser helper's; may be missing early on
        return printer.probe_point_text(self.point, with_flags=False)


def stap_type_spelling(c_type: str) -> str:
    """stap -L writes pointers without the space ("struct file*") and a
    qualifier after what it qualifies, as DWARF nests it: "const char *"
    is "char const*"."""
    t = c_type.replace(" *", "*")
    for q in ("const", "volatile"):
        if t.startswith(q + " "):
            rest = t[len(q) + 1:]
            star = rest.find("*")
            t = f"{rest} {q}" if star < 0 else f"{rest[:star]} {q}{rest[star:]}"
    return t


def has_glob(s: str) -> bool:
    return any(ch in s for ch in "*?[")


def arg_value(a):
    """Literal value of a probe point argument (int, str, or None)."""
    if a is None:
        return None
    if isinstance(a, ast.Number):
        return a.value
    if isinstance(a, ast.String):
        return a.value
    if isinstance(a, ast.Unary) and a.op == "-" and isinstance(a.operand, ast.Number):
        return -a.operand.value
    return a


def arg_kind(a) -> Optional[str]:
    v = arg_value(a)
    if v is None:
        return None
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return "number"
    if isinstance(v, str):
        return "string"
    return "?"


def make_point(template: ast.ProbePoint, comps: Sequence[Tuple[str, object]]) -> ast.ProbePoint:
    """A new ProbePoint with these (functor, value) components; locations
    (and ?/!/condition) come from `template`."""
    out = []
    tc = template.components
    for i, (functor, value) in enumerate(comps):
        loc = tc[i].loc if i < len(tc) else (tc[-1].loc if tc else ast.NOLOC)
        arg = None
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, int):
            arg = ast.Number(value, str(value), loc=loc)
        elif isinstance(value, str):
            arg = ast.String(value, loc=loc)
        c = ast.ProbePointComponent(functor, arg, loc=loc)
        if i < len(tc):
            c.tok_desc = tc[i].tok_desc
        out.append(c)
    return ast.ProbePoint(out, optional=template.optional, sufficient=template.sufficient,
                          condition=template.condition, loc=template.loc, tok_desc=template.tok_desc)


def levenshtein(a: str, b: str, limit: Optional[int] = None) -> int:
    """Edit distance; with `limit`, gives up (returning limit + 1) as soon
    as a whole row exceeds it."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        if limit is not None and min(cur) > limit:
            return limit + 1
        prev = cur
    return prev[-1]


def _distance_from(target: str) -> Callable[[str], int]:
    """levenshtein(target, name) for many names: Myers' / Hyyro's
    bit-parallel algorithm, one pass of integer operations per character
    of the name (the row-by-row table took minutes over 120k kernel
    symbols in a slow VM)."""
    m = len(target)
    if m == 0:
        return len
    peq: Dict[str, int] = {}
    for i, c in enumerate(target):
        peq[c] = peq.get(c, 0) | (1 << i)
    mask = (1 << m) - 1
    last = 1 << (m - 1)

    def distance(name: str) -> int:
        pv, mv, score = mask, 0, m
        for c in name:
            eq = peq.get(c, 0)
            xv = eq | mv
            xh = (((eq & pv) + pv) ^ pv) | eq
            ph = mv | (~(xh | pv) & mask)
            mh = pv & xh
            if ph & last:
                score += 1
            elif mh & last:
                score -= 1
            ph = ((ph << 1) | 1) & mask
            mh = (mh << 1) & mask
            pv = mh | (~(xv | ph) & mask)
            mv = ph & xv
        return score
    return distance


def similar(target: str, names, limit: int = 5) -> List[str]:
    """stap's suggestion list: the `limit` names closest to `target` by edit
    distance, ties in name order.  Names are visited by growing length
    difference so a large set (120k kernel symbols) stays quick."""
    uniq = sorted(set(n for n in names if n))
    by_gap: Dict[int, List[str]] = {}
    for n in uniq:
        by_gap.setdefault(abs(len(n) - len(target)), []).append(n)
    best: List[Tuple[int, str]] = []
    distance = _distance_from(target)
    for gap in sorted(by_gap):
        if len(best) >= limit and gap > best[-1][0]:
            break
        for n in by_gap[gap]:
            full = len(best) >= limit
            if full and gap > best[-1][0]:
                break
            d = distance(n)
            if full and (d, n) >= best[-1]:
                continue
            best.append((d, n))
            best.sort()
            del best[limit:]
    return [n for _, n in best]


def comp_desc(c: ast.ProbePointComponent) -> str:
    """stap's token description of a component (for error carets): its
    functor is an identifier, or one of stap's keywords."""
    if c.functor in ("function", "probe", "global", "if", "else", "for", "foreach",
                     "in", "limit", "return", "delete", "while", "break", "continue",
                     "next", "string", "long", "try", "catch", "private"):
        return "keyword"
    return f"identifier '{c.functor}'"


def arg_desc(c: ast.ProbePointComponent) -> str:
    a = c.arg
    if a is not None and a.tok_desc:
        return a.tok_desc
    v = arg_value(a)
    if isinstance(v, int):
        return f"number '{getattr(a, 'text', '') or v}'"
    return f"string '\"{v}\"'"


def point_from_text(text: str, file: str = "<point>") -> ast.ProbePoint:
    """Build a ProbePoint from simple text such as 'timer.ms(100)' or
    'kernel.trace("sched:*")' (no escapes, no conditions): for tests and
    tools that hold a point as text.  Columns are real, line 1."""
    comps = []
    i, n = 0, len(text)
    while i < n:
        start = i
        while i < n and text[i] not in ".(":
            i += 1
        functor = text[start:i]
        arg = None
        loc = ast.Loc(file, 1, start + 1)
        if i < n and text[i] == "(":
            j = i + 1
            if j < n and text[j] == '"':
                k = text.index('"', j + 1)
                arg = ast.String(text[j + 1:k], loc=ast.Loc(file, 1, j + 1))
                i = k + 1
            else:
                k = text.index(")", j)
                raw = text[j:k].strip()
                v = int(raw, 0)
                arg = ast.Number(v, raw, loc=ast.Loc(file, 1, j + 1))
                i = k
            if text[i] != ")":
                raise ValueError(f"bad probe point text: {text}")
            i += 1
        comps.append(ast.ProbePointComponent(functor, arg, loc=loc))
        if i < n:
            if text[i] != ".":
                raise ValueError(f"bad probe point text: {text}")
            i += 1
    return ast.ProbePoint(comps, loc=comps[0].loc if comps else ast.NOLOC)


def point_to_text(point: ast.ProbePoint) -> str:
    """stap's spelling of a concrete point (no ?/!/condition)."""
    parts = []
    for c in point.components:
        v = arg_value(c.arg)
        if v is None:
            parts.append(c.functor)
        elif isinstance(v, int):
            parts.append(f"{c.functor}({v})")
        else:
            parts.append(f'{c.functor}("{v}")')
    return ".".join(parts)
