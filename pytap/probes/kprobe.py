"""kprobe.function("f")[.call|.return[.maxactive(N)]],
kprobe.module("m").function("f")[...], kernel.function("f")[.call|.return],
module("m").function("f")[.call|.return].

Matching uses kernel text symbols (Platform.kernel_functions(), i.e.
/proc/kallsyms t/T minus the kprobe blacklist) with fnmatch wildcards,
sorted by name as stap lists them.  kprobe.function matches vmlinux
symbols; module("m") symbols tagged [m].  kprobe.module("m").function("f") is not checked
(stap defers it to the kernel; printed as written).  kernel.function and
module("m").function are stap's DWARF probes; without debuginfo we resolve them from the same
symbols (no "@file:line" in the printed point).

spec (family "kprobe"): {"symbol": name, "module": m or None,
"return": bool, "maxactive": N (0: kernel default), "call": bool}
variables(): the function's parameters from BTF, by name ($count in
vfs_read -> PT_REGS_PARM3), and $return (BTF return type) on .return.

Attach: BCC attach_kprobe / attach_kretprobe, program type "kprobe" /
"kretprobe".  A kernel without CONFIG_KPROBES cannot attach: we say so.
"""
from __future__ import annotations

import fnmatch

from ..diagnostics import StapError
from .core import ResolvedPoint, TargetVar, has_glob, make_point

MAX_REG_ARGS = 6


def _matching(platform, pattern, module_pattern, want_module):
    syms = platform.kernel_functions()
    if not has_glob(pattern) and not (want_module and has_glob(module_pattern or "")):
        # A literal name: one lookup instead of a scan of every kernel symbol
        # (kallsyms holds ~10^5 of them; this is most of -p2's time otherwise).
        if pattern not in syms:
            return []
        mod = syms[pattern]
        if want_module:
            return [(pattern, mod)] if mod == module_pattern else []
        return [(pattern, mod)] if mod is None else []
    name_glob = has_glob(pattern)
    mod_glob = want_module and has_glob(module_pattern)
    names = []
    for name, mod in syms.items():
        if want_module:
            if mod is None or not (fnmatch.fnmatchcase(mod, module_pattern) if mod_glob
                                   else mod == module_pattern):
                continue
        elif mod is not None:
            continue
        if name_glob:
            if fnmatch.fnmatchcase(name, pattern):
                names.append((name, mod))
        elif name == pattern:
            names.append((name, mod))
    return sorted(names)


def _build(concrete, point, platform):
    functors = [f for f, _v in concrete]
    want_module = "module" in functors
    fidx = functors.index("function")
    pattern = concrete[fidx][1]
    if functors[0] != "kprobe":
        # DWARF spelling "f@file.c[:line]": without debuginfo only f counts
        if "@" in pattern:
            _check_file_pattern(pattern)
        pattern = pattern.split("@", 1)[0]
    module_pattern = concrete[functors.index("module")][1] if want_module else None
    is_return = "return" in functors
    maxactive = concrete[-1][1] if functors[-1] == "maxactive" else 0
    is_kprobe = functors[0] == "kprobe"
    if is_kprobe and want_module:
        return _module_passthrough(concrete, point, platform, pattern, module_pattern,
                                   is_return, maxactive)
    out = []
    for name, mod in _matching(platform, pattern, module_pattern, want_module):
        comps = list(concrete)
        comps[fidx] = ("function", name)
        if want_module:
            comps[functors.index("module")] = ("module", mod)
        spec = {"symbol": name, "module": mod, "return": is_return,
                "maxactive": maxactive, "call": "call" in functors}
        annotation = f" /*  name = {mod + ':' if mod else ''}{name}*/" if is_kprobe else ""
        rp = ResolvedPoint("kprobe", make_point(point, comps), spec, annotation=annotation)
        rp._vars = _variables_fn(platform, name, is_return, rp)
        if not is_kprobe:
            rp.derivation_point = rp.point      # DWARF-style: each function its own location
        out.append(rp)
    return out


def _check_file_pattern(pattern: str) -> None:
    """"*@fs/proc*.c" selects functions by source file, which only DWARF
    knows (kallsyms and BTF carry no file or line).  Matching the name
    part alone would select every kernel function (~10^5 probes, minutes
    and gigabytes); say so at once instead, and how to write the probe."""
    name, _, where = pattern.partition("@")
    if name.strip("*?") and set(name) != {"*"}:
        return          # a name (pattern) of its own: matched by name only
    src = where.split(":", 1)[0]
    stem = src.rsplit("/", 1)[-1].split(".", 1)[0].strip("*?[]") or "name"
    raise StapError(
        f"cannot select kernel functions by source file '{src}': without kernel "
        f"debuginfo there is no file or line information (kallsyms and BTF have "
        f"none) [man warning::debuginfo]; name the functions instead, e.g. "
        f"kernel.function(\"{stem}*\") (pytap -l 'kernel.function(\"{stem}*\")' "
        f"lists them), or use a tracepoint")


def _module_passthrough(concrete, point, platform, name, mod, is_return, maxactive):
    """stap does not check kprobe.module("m").function("f") in pass 2 (the
    kernel resolves "m:f" when the kprobe is registered), and prints it as
    written, wildcards included.  We do the same; attach() uses the plain
    symbol when kallsyms has it (built-in or loaded module), else "m:f"."""
    functors = [f for f, _v in concrete]
    ksyms = platform.kernel_functions()
    plain = name in ksyms and ksyms[name] in (None, mod)
    spec = {"symbol": name if plain else f"{mod}:{name}", "module": mod, "return": is_return,
            "maxactive": maxactive, "call": "call" in functors}
    rp = ResolvedPoint("kprobe", make_point(point, concrete), spec,
                       annotation=f" /*  name = {mod}:{name}*/")
    rp._vars = _variables_fn(platform, name, is_return, rp)
    return [rp]


def _variables_fn(platform, name, is_return, rp):
    def variables():
        proto = platform.btf_function(name)
        rp.context = proto
        out = []
        if proto is not None:
            reg = 0
            for pname, ct in proto.params:
                # x86-64 SysV: scalars take one register, structs of 9..16
                # bytes two, larger structs go on the stack (no register)
                nregs = 1 if ct.size <= 8 else (2 if ct.size <= 16 else 0)
                if nregs == 0:
                    continue
                first = reg + 1
                reg += nregs
                if reg > MAX_REG_ARGS:
                    break
                if not pname or nregs != 1:
                    continue
                out.append(TargetVar(pname, ct.text, ct.size, ct.signed, ct.is_pointer, ct.is_string,
                                     source="arg", arg_index=first,
                                     string_space="kernel" if ct.is_string else None,
                                     at_entry=is_return))
        if is_return:
            ret = proto.ret if proto is not None else None
            if ret is not None:
                out.append(TargetVar("return", ret.text, ret.size, ret.signed, ret.is_pointer,
                                     ret.is_string, source="return",
                                     string_space="kernel" if ret.is_string else None))
            elif proto is None:
                out.append(TargetVar("return", "long", 8, True, source="return"))
        return out
    return variables


def no_match_message(point, platform) -> str:
    fn = [c for c in point.components if c.functor == "function"]
    target = str(fn[0].arg.value) if fn and fn[0].arg is not None else ""
    target = target.replace("*", "").replace("?", "")
    from .core import similar
    sim = similar(target, platform.kernel_functions().keys())
    return "no match" + (f" (similar functions: {', '.join(sim)})" if sim else "")


def _build_absolute(concrete, point, platform):
    """kprobe.statement(ADDR).absolute: guru mode only (stap -g)."""
    if not getattr(platform, "guru", False):
        raise StapError("absolute statement probe in unprivileged script; need stap -g")
    addr = concrete[1][1]
    spec = {"symbol": None, "address": addr, "module": None, "return": False, "maxactive": 0,
            "call": False}
    return [ResolvedPoint("kprobe", make_point(point, concrete), spec,
                          annotation=f" /*  name = 0x{addr:x}*/")]


_TAILS = ["", ".call", ".return"]
PATTERNS = []
for _head in ("kprobe.function(string)", "kprobe.module(string).function(string)"):
    PATTERNS += [(_head + t, _build) for t in _TAILS + [".return.maxactive(number)"]]
PATTERNS.append(("kprobe.statement(number).absolute", _build_absolute))
for _head in ("kernel.function(string)", "module(string).function(string)"):
    PATTERNS += [(_head + t, _build) for t in _TAILS]


def program_type(rp):
    return "kretprobe" if rp.spec.get("return") else "kprobe"


NO_KPROBES = ("ERROR: cannot attach {what}: this kernel has no kprobes (it was built without "
              "CONFIG_KPROBES), so kprobe.function/kernel.function probes cannot run here. "
              "Use kernel.trace(\"...\") tracepoints instead, or run on a kernel with "
              "CONFIG_KPROBES=y.")


NO_KPROBES_FOR = ("ERROR: cannot run {names}: {them} kprobes, and this kernel has none (it was "
                  "built without CONFIG_KPROBES). Run on a kernel with CONFIG_KPROBES=y.")


def _probe_name(probe) -> str:
    """What the user wrote for a derived probe: the outermost tapset alias
    it came through (vfs.read), else its own point (kprobe.function("f"))."""
    from .. import ast
    from ..printer import probe_point_text
    aliases = [d for d in getattr(probe, "derivation", []) if isinstance(d, ast.ProbeAlias)]
    point = aliases[-1].alias_names[0] if aliases else getattr(probe, "point", None)
    if point is None:
        return "?"
    try:
        return probe_point_text(point, with_flags=False)
    except Exception:
        return str(point)


def missing_kprobes_error(program, platform=None):
    """One error for the whole script when some of its probes need kprobes
    and the kernel has none (checked before begin runs, so nothing half
    starts), naming each alias or point once; None when all is well."""
    from .. import platform as pplat
    plat = platform or pplat.current()
    names = []
    for cp in sorted(getattr(program, "probes", []), key=lambda c: c.index):
        rp = getattr(cp.probe, "resolved", None) or getattr(cp, "resolved", None)
        if getattr(rp, "family", None) != "kprobe":
            continue
        name = _probe_name(cp.probe)
        if name not in names:
            names.append(name)
    if not names or plat.has_kprobes():
        return None
    them = "it needs" if len(names) == 1 else "they need"
    return NO_KPROBES_FOR.format(names=", ".join(names), them=them)


def attach(bpf, fn_name, rp, platform=None):
    from .. import platform as pplat
    plat = platform or pplat.current()
    sym = rp.spec["symbol"]
    if sym is None:
        sym = "0x%x" % rp.spec["address"]
    what = f'kprobe.function("{sym}")' + (".return" if rp.spec.get("return") else "")
    if not plat.has_kprobes():
        raise StapError(NO_KPROBES.format(what=what), kind="")
    fn = fn_name.encode() if isinstance(fn_name, str) else fn_name
    try:
        if rp.spec.get("return"):
            bpf.attach_kretprobe(event=sym.encode(), fn_name=fn, maxactive=rp.spec.get("maxactive", 0))
        else:
            bpf.attach_kprobe(event=sym.encode(), fn_name=fn)
    except Exception as e:
        raise StapError(f"ERROR: cannot attach {what}: {e}", kind="")

    def detach():
        try:
            if rp.spec.get("return"):
                bpf.detach_kretprobe(event=sym.encode(), fn_name=fn)
            else:
                bpf.detach_kprobe(event=sym.encode(), fn_name=fn)
        except Exception:
            pass
    return detach
