"""Lowering of $target variables, member chains and @cast (a Lowerer mixin).

Arguments come from registers (PT_REGS_PARMn), tracepoint fields from the
record at their offsets; ->member/[i] walk this kernel's BTF layouts."""
from __future__ import annotations

import re

from .. import ast
from ..diagnostics import StapError
from .cutil import c_long, c_string, printf_escape, round8, unescape
from .layout import (LOG_BUCKETS, STABLE_STRING_CALLS, key_struct_name, linear_buckets, linear_pow2,
                     string_size, value_c_type)
from .lower_common import Unsupported, _tok, is_native, native_code, native_kind


class TargetMixin:
    # --- target variables
    def target_var(self, e):
        rp = self.rp
        if rp is None:
            return None
        try:
            return rp.variable(e.name.lstrip("$"))
        except Exception:
            return None

    def e_TargetSymbol(self, e):
        if self.rp is None:
            raise StapError("target variable used outside a probe handler", e.loc,
                            _tok(e, f"identifier '{e.name}'"))
        if e.addressof and not e.components and not e.name.startswith("$$"):
            tv = self.target_var(e)
            if tv is not None and tv.source == "field":
                # &$field: where it is in the trace record, as a plain
                # number: the empty asm hides that it came from ctx, so the
                # compiler cannot share `ctx + offset` with a direct read of
                # the field (the verifier refuses loads through a moved ctx)
                t = self.tmp()
                self.emit(f"{{ u64 pa = (u64)ctx; asm volatile(\"\" : \"+r\"(pa)); "
                          f"{t} = (s64)(pa + {tv.offset}); }}")
                return t
        if (e.addressof and not e.components) or e.name.startswith("$$") or any(c.kind == "pretty" for c in e.components):
            raise StapError("unsupported target variable access (&, $$vars, pretty printing)", e.loc,
                            _tok(e, f"identifier '{e.name}'"))
        if e.name == "$return":
            tv = self.target_var(e)
            if tv is None and self.rp.spec.get("return"):
                t = self.tmp()
                self.emit(f"{t} = (s64)PT_REGS_RC((struct pt_regs *)ctx);")
                return t
        tv = self.target_var(e)
        if tv is None:
            raise StapError(f"unable to find target variable '{e.name}'", e.loc,
                            _tok(e, f"identifier '{e.name}'"))
        if e.components:
            return self.member_chain(e, tv)
        return self.read_target(e, tv)

    def _types(self, e, tok):
        from .btf_offsets import TypeView, kernel_types
        bt = kernel_types()
        if bt is None:
            raise StapError("this kernel has no BTF to resolve struct members", e.loc, tok)
        return bt, TypeView(bt)

    def member_chain(self, e, tv):
        """$var->a->b[i], $field[i]: follow the kernel's types from BTF
        (tracepoint fields by their format's C type)."""
        from .btf_offsets import KIND_ARRAY, KIND_PTR, KIND_STRUCT, KIND_UNION, parse_type
        tok = _tok(e, f"identifier '{e.name}'")
        if tv.type_ref is not None:         # a user program's DWARF type
            from .btf_offsets import TypeView
            bt, tv_, ref = None, TypeView(None), tv.type_ref
        else:
            bt, tv_ = self._types(e, tok)
            ref = parse_type(bt, re.sub(r"^\s*__data_loc\s+", "", tv.c_type or ""))
        kind = tv_.kind(ref) if ref is not None else None
        if kind in (KIND_ARRAY, KIND_STRUCT, KIND_UNION) and tv.source in ("field", "frame"):
            # the array's bytes in the trace record (a __data_loc one: where
            # its descriptor points): read_target gives that address
            saved_type, e.type = e.type, "long"
            try:
                addr = self.read_target(e, tv)
            finally:
                e.type = saved_type
            return self.follow(e, ("obj", addr, ref), e.components, tok, addressof=bool(e.addressof))
        if kind != KIND_PTR:
            raise StapError(f"cannot follow members of '{e.name}' (type {tv.c_type or '?'})", e.loc, tok)
        saved_type, e.type = e.type, "long"
        try:
            val = self.read_target(e, tv)
        finally:
            e.type = saved_type
        # syscalls:* pointers (char *filename) point into the caller's memory
        return self.follow(e, ("ptr", val, tv_.target(ref)), e.components, tok,
                           addressof=bool(e.addressof), user=tv.string_space == "user")

    def e_CastOp(self, e):
        """@cast(p, "TYPE"[, "MODULE"])->a[i]: p taken as a TYPE *, TYPE
        any type of this kernel's BTF (struct, union, enum, typedef, base
        type, pointer).  The module string ("kernel", "kernel<linux/types.h>")
        names where stap would find the type; BTF has them all."""
        from .btf_offsets import KIND_ARRAY, KIND_STRUCT, KIND_UNION, TypeView, parse_type
        tok = _tok(e, "operator '@cast'")
        dw = self._cast_program(e, tok)
        if dw is not None:
            # a user program's type: its module named, or (as stap) the
            # probe's own program when no module is given
            ref = dw.parse_type(e.type_name or "")
            if ref is None and e.module:
                raise StapError(f"unknown type '{e.type_name}' in {dw.path}'s debuginfo", e.loc, tok)
        else:
            ref = None
        if ref is not None:
            tv_ = TypeView(None)
        else:
            bt, tv_ = self._types(e, tok)
            ref = parse_type(bt, e.type_name or "")
        if ref is None:
            raise StapError(f"unknown type '{e.type_name}' in this kernel's BTF", e.loc, tok)
        val = self.expr(e.operand)
        if not e.components and (e.addressof or tv_.kind(ref) in (KIND_STRUCT, KIND_UNION, KIND_ARRAY)):
            return val      # the object itself is its address (`&@cast(p, "T")` is p too)
        # `&@cast(p, "T")->m` is p + offsetof(T, m): the library's
        # @offsetof/@container_of/@cast_sizeof macros are built on it
        return self.follow(e, ("ptr", val, ref), e.components, tok, addressof=bool(e.addressof),
                           deref=True, user=dw is not None and not isinstance(ref, (int, tuple)))

    def _cast_program(self, e, tok):
        """The DWARF of the program @cast's module names (a path), or of
        the process probe's program when it names none; None for kernel."""
        from .. import platform as pplat
        mod = (e.module or "").strip()
        if mod.startswith("<") and mod.endswith(">"):
            # "<stdio.h>": a user-space header's types (stap compiles it too)
            from ..platform.dwarf import header_types
            dw = header_types(mod[1:-1])
            if dw is None:
                raise StapError(f"cannot compile the header {mod} to resolve @cast", e.loc, tok)
            return dw
        if mod.startswith("kernel") or (mod and "/" not in mod and not mod.startswith(".")):
            return None
        if mod:
            path = pplat.current().find_executable(mod)
            dw = pplat.current().dwarf_info(path) if path else None
            if dw is None:
                raise StapError(f"no debuginfo for module '{mod}' to resolve @cast", e.loc, tok)
            return dw
        rp = self.rp
        if rp is not None and rp.family == "uprobe" and getattr(rp, "dwarf_func", None) is not None:
            return pplat.current().dwarf_info(rp.spec["path"])
        return None

    def e_AtVarOp(self, e):
        """@var("name") in a process probe: a global of the program's own
        DWARF, at its link address (a PIE's moved by where the probe
        instruction really is: regs->ip at a uprobe is the probed address)."""
        from .btf_offsets import KIND_ARRAY, KIND_STRUCT, KIND_UNION, TypeView
        tok = _tok(e, "operator '@var'")
        rp = self.rp
        name = (e.target_name or "").partition("@")[0]
        dw = None
        if rp is not None and rp.family == "uprobe":
            from .. import platform as pplat
            dw = pplat.current().dwarf_info(rp.spec["path"])
        var = dw.globals.get(name) if dw is not None else None
        if var is None or var.type is None:
            raise StapError(f"unable to find global '{name}' in the program's debuginfo"
                            if rp is not None and rp.family == "uprobe"
                            else "@var is only supported in process probes of programs built with -g",
                            e.loc, tok)
        info = pplat.current().elf_info(rp.spec["path"])
        addr = self.tmp()
        if info is not None and info.is_pie:
            if rp.spec.get("return"):
                raise StapError("@var of a position-independent program is not supported in "
                                ".return probes", e.loc, tok)
            self.emit(f"{addr} = (s64)(PT_REGS_IP((struct pt_regs *)ctx) - {rp.spec['address']}ULL "
                      f"+ {var.location[1]}ULL);")
        else:
            self.emit(f"{addr} = (s64){var.location[1]}ULL;")
        if e.addressof and not e.components:
            return addr
        kind = TypeView(None).kind(var.type)
        state = ("obj", addr, var.type.strip()) if kind in (KIND_ARRAY, KIND_STRUCT, KIND_UNION) \
            else ("ptr", addr, var.type)
        if state[0] == "obj" and not e.components:
            return addr
        return self.follow(e, state, e.components, tok, addressof=bool(e.addressof),
                           deref=True, user=True)

    def follow(self, e, state, components, tok, addressof=False, deref=False, user=False):
        """Walk ->member / [index] components from `state`: ("ptr", C
        expression of a pointer, pointee TypeRef) or ("obj", C expression of
        an address, object TypeRef).  `deref`: with no component left, the
        pointee itself is read (@cast(p, "int"))."""
        from .btf_offsets import (KIND_ARRAY, KIND_ENUM, KIND_ENUM64, KIND_INT, KIND_PTR,
                                  KIND_STRUCT, KIND_UNION)
        from .btf_offsets import TypeView, dwarf_type
        if dwarf_type(state[2]):
            tv_ = TypeView(None)
        else:
            bt, tv_ = self._types(e, tok)
        user = user or (self.rp is not None and self.rp.family == "uprobe")
        reader = "bpf_probe_read_user" if user else "bpf_probe_read_kernel"

        def settle(addr, t):
            named, t = t, tv_.strip(t)
            k = tv_.kind(t)
            if k in (KIND_STRUCT, KIND_UNION, KIND_ARRAY):
                return ("obj", addr, t)
            size = tv_.size(t) if k in (KIND_INT, KIND_ENUM, KIND_ENUM64) else 8
            size = size if size in (1, 2, 4, 8) else 8
            signed = tv_.signed(t) if k != KIND_PTR else False
            ctype = f"{'s' if signed else 'u'}{size * 8}"
            tmp = self.tmp()
            self.emit(f"{{ {ctype} rv = 0; {reader}(&rv, {size}, (void *)({addr})); {tmp} = (s64)rv; }}")
            if k == KIND_PTR:
                return ("ptr", tmp, tv_.target(t))
            return ("scalar", tmp, named)

        if deref and not components:
            kind, expr, t = state
            state = settle(f"(u64){expr}", t)
        for n, comp in enumerate(components):
            kind, expr, t = state
            if addressof and n == len(components) - 1:
                settle = lambda addr, t: ("addr", addr, t)      # noqa: E731 (no read at the end)
            if comp.kind == "member":
                if kind not in ("ptr", "obj") or tv_.kind(t) not in (KIND_STRUCT, KIND_UNION):
                    raise StapError(f"'{comp.name}' is not a member of a struct here", comp.loc or e.loc, tok)
                r = tv_.member(t, comp.name)
                bf = tv_.bitfield(t, comp.name) if r is None else None
                if bf is not None and n == len(components) - 1:
                    if addressof:
                        raise StapError("cannot take address of bit-field", comp.loc or e.loc, tok)
                    return self._read_bitfield(expr, bf, tv_, reader)
                if r is None:
                    raise StapError(tv_.no_member_message(t, comp.name),
                                    comp.loc or e.loc, tok)
                off, mt = r
                state = settle(f"(u64){expr} + {off}", mt)
            elif comp.kind == "index":
                const = None
                if comp.index is not None and isinstance(comp.index, ast.Expr):
                    if isinstance(comp.index, ast.Number):
                        const = comp.index.value
                    idx = self.expr(comp.index)
                else:
                    const = int(comp.name or 0)
                    idx = c_long(const)
                if kind == "ptr":
                    elem = t                       # p[i]: pointer arithmetic
                elif kind == "obj" and tv_.kind(t) == KIND_ARRAY:
                    elem = tv_.target(t)
                    n_el = tv_.array_len(t)
                    if const is not None and n_el and not 0 <= const < n_el:
                        raise StapError(f"index {const} is out of bounds for {tv_.spell(t)}",
                                        comp.loc or e.loc, tok)
                else:
                    raise StapError(f"cannot index a value of type {tv_.spell(t)}", comp.loc or e.loc, tok)
                state = settle(f"(u64){expr} + (u64)({idx}) * {tv_.size(elem)}", elem)
            else:
                raise StapError("unsupported target variable access", comp.loc or e.loc, tok)
        kind, expr, t = state
        if kind == "addr":
            t2 = self.tmp()
            self.emit(f"{t2} = (s64)({expr});")
            return t2
        if (e.type or "long") == "string":
            s = self.slot()
            fn = "bpf_probe_read_user_str" if user else "bpf_probe_read_kernel_str"
            self.emit(f"{s}[0] = 0; {fn}({s}, PYTAP_MSL, (void *)({expr}));")
            return s
        t2 = self.tmp()
        self.emit(f"{t2} = (s64)({expr});")
        return t2

    def _read_bitfield(self, base, bf, tv_, reader):
        """A bit field's value: the bytes that hold it read as one
        little-endian word, shifted down and masked (sign-extended for a
        signed type), as stap's loc2c reads bit fields."""
        bit, nbits, mt = bf
        first, shift = bit // 8, bit % 8
        nbytes = (shift + nbits + 7) // 8
        if nbytes > 8:
            raise StapError("bit field wider than 64 bits", None)
        tmp = self.tmp()
        if tv_.signed(mt):
            val = f"((s64)(rv << {64 - shift - nbits}) >> {64 - nbits})"
        else:
            val = f"((rv >> {shift}) & {(1 << nbits) - 1}ULL)"
        self.emit(f"{{ u64 rv = 0; {reader}(&rv, {nbytes}, (void *)((u64){base} + {first})); "
                  f"{tmp} = (s64){val}; }}")
        return tmp

    def _cast(self, tv) -> str:
        size = tv.size or 8
        if tv.is_pointer:
            return "(s64)(u64)"
        base = {1: "8", 2: "16", 4: "32", 8: "64"}.get(size, "64")
        return f"(s64)({'s' if tv.signed else 'u'}{base})"

    def read_target(self, e, tv):
        want_string = (e.type == "string")
        src = tv.source
        if src in ("arg", "return"):
            if tv.at_entry and src == "arg" and not self.in_entry:
                return self.entry_value(e, e)
            regs = "(struct pt_regs *)ctx"
            if src == "return":
                raw = f"PT_REGS_RC({regs})"
            else:
                if not 1 <= tv.arg_index <= 6:
                    raise StapError(f"target variable '{e.name}' is not in a register", e.loc,
                                    _tok(e, f"identifier '{e.name}'"))
                raw = f"PT_REGS_PARM{tv.arg_index}({regs})"
            if want_string:
                s = self.slot()
                fn = "bpf_probe_read_user_str" if (tv.string_space == "user" or
                                                   self.rp.family == "uprobe") else "bpf_probe_read_kernel_str"
                self.emit(f"{s}[0] = 0; {fn}({s}, PYTAP_MSL, (void *){raw});")
                return s
            t = self.tmp()
            # the empty asm makes ctx opaque, so clang reloads the register
            # from ctx itself instead of keeping ctx+offset around: with many
            # handlers on one function it did, and the verifier refuses a
            # dereference of a modified ctx pointer
            self.emit(f"asm volatile(\"\" : \"+r\"(ctx)); {t} = {self._cast(tv)}{raw};")
            return t
        if src == "field":
            at = f"((char *)ctx + {tv.offset})"
            if want_string:
                s = self.slot()
                if tv.data_loc:
                    self.emit(f"{{ u32 dl = *(u32 *){at}; {s}[0] = 0; "
                              f"bpf_probe_read_kernel_str({s}, PYTAP_MSL, (char *)ctx + (dl & 0xffff)); }}")
                elif tv.array_len:
                    n = min(tv.array_len + 1, self.gen.msl)
                    self.emit(f"{s}[0] = 0; bpf_probe_read_kernel_str({s}, {n}, {at});")
                else:
                    fn = "bpf_probe_read_user_str" if tv.string_space == "user" else "bpf_probe_read_kernel_str"
                    self.emit(f"{s}[0] = 0; {fn}({s}, PYTAP_MSL, *(void **){at});")
                return s
            size = tv.size if tv.size in (1, 2, 4, 8) else 8
            ctype = {1: "8", 2: "16", 4: "32", 8: "64"}[size]
            t = self.tmp()
            if tv.data_loc or tv.array_len:
                # A char array used as a number is its address in the trace
                # record (a __data_loc one: where its descriptor points).
                # The verifier forbids arithmetic on ctx pointers, and a
                # callee like kernel_string() shifts it for messages, so the
                # address is laundered into a plain scalar through a copy.
                addr = f"(char *)ctx + (*(u32 *){at} & 0xffff)" if tv.data_loc else at
                self.emit(f"{{ u64 pa = (u64)({addr}); bpf_probe_read_kernel(&{t}, 8, &pa); }}")
            else:
                self.emit(f"{t} = (s64)*({'s' if tv.signed else 'u'}{ctype} *){at};")
            return t
        if src in ("frame", "reg"):
            # a user program's DWARF variable: a register, or a stack slot
            # at a register + offset (the CFA rule at the probe address)
            regs = f"((struct pt_regs *)ctx)->{tv.reg}"
            size = tv.size if tv.size in (1, 2, 4, 8) else 8
            ctype = f"{'s' if tv.signed and not tv.is_pointer else 'u'}{size * 8}"
            t = self.tmp()
            if src == "reg":
                self.emit(f"{t} = (s64)({ctype}){regs};")
            else:
                s_ = tv.type_ref.strip() if tv.type_ref is not None else None
                if s_ is not None and s_.kind in ("struct", "union", "array"):
                    self.emit(f"{t} = (s64)({regs} + ({tv.offset}));")     # the object: its address
                    return t
                self.emit(f"{{ {ctype} rv = 0; bpf_probe_read_user(&rv, {size}, "
                          f"(void *)({regs} + ({tv.offset}))); {t} = (s64)rv; }}")
            if want_string:
                s = self.slot()
                self.emit(f"{s}[0] = 0; bpf_probe_read_user_str({s}, PYTAP_MSL, (void *){t});")
                return s
            return t
        if src == "sdt":
            # an SDT marker argument (probes/sdt.py): register, memory or constant
            t = self.tmp()
            self.emit(f"{t} = {tv.c_value('ctx')};")
            if want_string:
                s = self.slot()
                self.emit(f"{s}[0] = 0; bpf_probe_read_user_str({s}, PYTAP_MSL, (void *){t});")
                return s
            return t
        if src == "tp_arg":
            if self.rp.spec.get("raw"):
                # raw tracepoint: ctx->args[] are the TP_PROTO arguments
                raw = f"((struct bpf_raw_tracepoint_args *)ctx)->args[{tv.arg_index}]"
            else:
                # a classic tracepoint program (the handler reads record
                # fields too): a hidden raw tracepoint program on the same
                # event saved the TP_PROTO arguments (Generator._tp_arg_saver)
                if tv.arg_index not in self.tp_args_used:
                    self.tp_args_used.add(tv.arg_index)
                    self.decls.append(f"s64 tpa{tv.arg_index} = 0;")
                raw = f"tpa{tv.arg_index}"
            if want_string:
                s = self.slot()
                self.emit(f"{s}[0] = 0; bpf_probe_read_kernel_str({s}, PYTAP_MSL, (void *){raw});")
                return s
            t = self.tmp()
            self.emit(f"{t} = {self._cast(tv)}{raw};")
            return t
        raise Unsupported(f"target variable source {src}", e)
