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

    def member_chain(self, e, tv):
        """$var->a->b[i]: follow the kernel's struct layouts from BTF."""
        tok = _tok(e, f"identifier '{e.name}'")
        m = re.match(r"\s*(?:const\s+|volatile\s+)*(struct|union)\s+(\w+)\s*(\*?)", tv.c_type or "")
        if m is None or not m.group(3):
            raise StapError(f"cannot follow members of '{e.name}' (type {tv.c_type or '?'})", e.loc, tok)
        saved_type, e.type = e.type, "long"
        try:
            val = self.read_target(e, tv)
        finally:
            e.type = saved_type
        return self.follow(e, val, m.group(2), e.components, tok, addressof=bool(e.addressof))

    def e_CastOp(self, e):
        """@cast(ptr, "struct name")->a->b: the same walk from a pointer."""
        tok = _tok(e, "operator '@cast'")
        name = re.sub(r"^\s*(struct|union)\s+", "", e.type_name or "").strip()
        val = self.expr(e.operand)
        if not e.components:
            return val      # the struct itself (`&@cast(p, "T")` is p too)
        # `&@cast(p, "T")->m` is p + offsetof(T, m): the library's
        # @offsetof/@container_of/@cast_sizeof macros are built on it
        return self.follow(e, val, name, e.components, tok, addressof=bool(e.addressof))

    def follow(self, e, val, struct_name, components, tok, addressof=False):
        from .btf_offsets import (KIND_ARRAY, KIND_ENUM, KIND_ENUM64, KIND_INT, KIND_PTR,
                                  KIND_STRUCT, KIND_UNION, kernel_types, types_with_struct)
        if kernel_types() is None:
            raise StapError("this kernel has no BTF to resolve struct members", e.loc, tok)
        bt, tid = types_with_struct(struct_name)      # vmlinux, else a loaded module's
        if tid is None:
            raise StapError(f"unknown type 'struct {struct_name}' in this kernel's BTF", e.loc, tok)
        user = self.rp is not None and self.rp.family == "uprobe"
        reader = "bpf_probe_read_user" if user else "bpf_probe_read_kernel"
        state = ("ptr", val, tid)

        def settle(addr, t):
            t = bt.strip(t)
            k = bt.kind(t)
            if k in (KIND_STRUCT, KIND_UNION, KIND_ARRAY):
                return ("obj", addr, t)
            size = bt.size(t) if k in (KIND_INT, KIND_ENUM, KIND_ENUM64) else 8
            size = size if size in (1, 2, 4, 8) else 8
            signed = bt.signed(t) if k != KIND_PTR else False
            ctype = f"{'s' if signed else 'u'}{size * 8}"
            tmp = self.tmp()
            self.emit(f"{{ {ctype} rv = 0; {reader}(&rv, {size}, (void *)({addr})); {tmp} = (s64)rv; }}")
            if k == KIND_PTR:
                return ("ptr", tmp, bt.strip(bt.target(t)))
            return ("scalar", tmp, t)

        for n, comp in enumerate(components):
            kind, expr, t = state
            if addressof and n == len(components) - 1:
                settle = lambda addr, t: ("addr", addr, t)      # noqa: E731 (no read at the end)
            if comp.kind == "member":
                if kind not in ("ptr", "obj") or bt.kind(t) not in (KIND_STRUCT, KIND_UNION):
                    raise StapError(f"'{comp.name}' is not a member of a struct here", comp.loc or e.loc, tok)
                r = bt.member(t, comp.name)
                if r is None:
                    raise StapError(f"unable to find member '{comp.name}'", comp.loc or e.loc, tok)
                off, mt = r
                state = settle(f"(u64){expr} + {off}", mt)
            elif comp.kind == "index":
                if comp.index is not None and isinstance(comp.index, ast.Expr):
                    idx = self.expr(comp.index)
                else:
                    idx = c_long(int(comp.name or 0))
                if kind == "ptr":
                    elem = t
                elif kind == "obj" and bt.kind(t) == KIND_ARRAY:
                    elem = bt.strip(bt.target(t))
                else:
                    raise StapError("cannot index this target value", comp.loc or e.loc, tok)
                state = settle(f"(u64){expr} + (u64)({idx}) * {bt.size(elem)}", elem)
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
        if src == "tp_arg" and self.rp.spec.get("raw"):
            # raw tracepoint: ctx->args[] are the TP_PROTO arguments
            raw = f"((struct bpf_raw_tracepoint_args *)ctx)->args[{tv.arg_index}]"
            if want_string:
                s = self.slot()
                self.emit(f"{s}[0] = 0; bpf_probe_read_kernel_str({s}, PYTAP_MSL, (void *){raw});")
                return s
            t = self.tmp()
            self.emit(f"{t} = {self._cast(tv)}{raw};")
            return t
        if src == "tp_arg":
            raise StapError(f"target variable '{e.name}' (a tracepoint argument) cannot be used "
                            "in a handler that also reads record fields", e.loc,
                            _tok(e, f"identifier '{e.name}'"))
        raise Unsupported(f"target variable source {src}", e)
