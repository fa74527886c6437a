"""Lowering of the print family (ring-buffer records) and sprintf (formatted
in BPF into the frame's scratch buffer) (a Lowerer mixin)."""
from __future__ import annotations

import re

from .. import ast
from ..diagnostics import StapError
from .cutil import c_long, c_string, printf_escape, round8, unescape
from .layout import (LOG_BUCKETS, STABLE_STRING_CALLS, key_struct_name, linear_buckets, linear_pow2,
                     string_size, value_c_type)
from .lower_common import Unsupported, _tok, is_native, native_code, native_kind


class PrintMixin:
    # --- sprintf family, formatted in BPF
    _CONV = re.compile(r"%([-+ #0]*)(\d+|\*)?(?:\.(\d+|\*))?([hlLqjzt]*)([a-zA-Z%])")

    def sprint(self, e) -> str:
        if e.hist is not None:
            raise Unsupported("histogram", e)
        fmt, parts = self.print_format(e)
        args = [self.expr(a) for a, _t in parts]
        types = [t for _a, t in parts]
        out = self.slot()
        self.emit("{")
        self.ind += 1
        self.emit("char *fb = F->fmt; u32 fp = 0;")
        i = 0
        pos = 0
        for m in self._CONV.finditer(fmt):
            lit = fmt[pos:m.start()]
            pos = m.end()
            if lit:
                self.fmt_literal(lit)
            flags_s, width, prec, _len, conv = m.groups()
            if conv == "%":
                self.fmt_literal("%")
                continue
            if width == "*" or prec == "*" or i >= len(args):
                raise Unsupported("sprintf format", e)
            a, t = args[i], types[i]
            i += 1
            w = int(width) if width else 0
            pr = int(prec) if prec is not None else -1
            fl = 0
            for ch, bit in (("-", 1), ("0", 2), ("+", 4), (" ", 8), ("#", 64)):
                if ch in flags_s:
                    fl |= bit
            if conv == "s":
                if t != "string":
                    raise Unsupported("sprintf %s of a number", e)
                self.emit(f"fp = pytap_fmt_str(fb, fp, {a}, {w}, {pr}, {fl});")
            elif conv in "diuxXo":
                if t != "long":
                    raise Unsupported("sprintf number of a string", e)
                base = {"x": 16, "X": 16, "o": 8}.get(conv, 10)
                if conv in "uxXo":
                    fl |= 32
                if conv == "X":
                    fl |= 16
                self.emit(f"fp = pytap_fmt_num(fb, fp, {a}, {base}, {w}, {fl});")
            elif conv == "c":
                if t != "long":
                    raise Unsupported("sprintf %c of a string", e)
                if w > 1 and not fl & 1:
                    self.emit(f"fp = pytap_fmt_pad(fb, fp, ' ', {w - 1});")
                self.emit(f"fp = pytap_fmt_char(fb, fp, (char){a});")
                if w > 1 and fl & 1:
                    self.emit(f"fp = pytap_fmt_pad(fb, fp, ' ', {w - 1});")
            else:
                raise Unsupported(f"sprintf conversion %{conv}", e)
        if fmt[pos:]:
            self.fmt_literal(fmt[pos:])
        self.emit("fb[pytap_bound(fp)] = 0;")
        self.emit(f"pytap_strcpy({out}, PYTAP_MSL, fb);")
        self.ind -= 1
        self.emit("}")
        return out

    def fmt_literal(self, text: str):
        b = text.encode("latin-1", "replace")
        for i in range(0, len(b), 32):
            chunk = b[i:i + 32].decode("latin-1")
            n = len(chunk)
            # write only when the whole chunk fits; else char by char
            self.emit(f"if (fp + {n} <= PYTAP_FMT_CAP) {{ __builtin_memcpy(fb + pytap_bound(fp), "
                      f"{c_string(chunk)}, {n}); fp += {n}; }} else {{")
            for ch in chunk:
                self.emit(f"\tfp = pytap_fmt_char(fb, fp, {ord(ch)});")
            self.emit("}")

    def print_format(self, e):
        """-> (printf format, [(arg expr, type)]) for any print-family call."""
        args = list(e.args)
        if e.is_format:
            return unescape(e.fmt or ""), [(a, self.etype(a)) for a in args]
        delim = unescape(e.delimiter or "") if e.is_delim else ""
        fmt_parts = []
        parts = []
        for i, a in enumerate(args):
            if i and delim:
                fmt_parts.append(printf_escape(delim))
            if isinstance(a, ast.String):
                fmt_parts.append(printf_escape(unescape(a.value)))
            elif isinstance(a, ast.Number):
                fmt_parts.append(str(a.value))
            else:
                t = self.etype(a)
                fmt_parts.append("%s" if t == "string" else "%d")
                parts.append((a, t))
        if e.newline:
            fmt_parts.append("\n")
        return "".join(fmt_parts), parts

    # --- printing
    def e_PrintFormat(self, e, want=True):
        self.mark(e)
        if not e.to_stream:
            return self.sprint(e)
        if e.hist is not None:
            raise Unsupported("printing a histogram", e)
        args = list(e.args)
        for a in args:
            if self.etype(a) == "stats" or isinstance(a, (ast.HistOp,)):
                raise Unsupported("printing an aggregate", e)
        fmt, parts = self.print_format(e)
        # evaluate in order; pure native string calls write straight into the record
        vals = []
        sizes = [string_size(a, self.gen.msl) for a, t in parts if t == "string"]
        ssize = round8(max(sizes)) if sizes else round8(self.gen.msl)
        for a, t in parts:
            if isinstance(a, ast.Symbol) and a.referent is not None and id(a.referent) in STABLE_STRING_CALLS:
                a = STABLE_STRING_CALLS[id(a.referent)]
            if t == "string" and isinstance(a, ast.FunctionCall) and a.referents \
                    and is_native(a.referents[0]) and native_kind(a.referents[0]) == "bpf" \
                    and "STAP_ERROR" not in native_code(a.referents[0]) and not a.args:
                vals.append(("direct", a))
            elif t == "string" and isinstance(a, ast.String):
                vals.append(("lit", a))
            else:
                vals.append(("val", self.expr(a)))
        fmt_rec = self.gen.add_format(e.print_name, fmt, [t for _, t in parts], ssize)
        r = f"r{fmt_rec.id}_{self.nlabels + 1}"
        self.nlabels += 1
        self.emit("{")
        self.ind += 1
        self.emit(f"struct pytap_rec_{fmt_rec.id} *{r} = {self.gen.ringbuf}.ringbuf_reserve(sizeof(struct pytap_rec_{fmt_rec.id}));")
        self.emit(f"if ({r}) {{")
        self.ind += 1
        self.emit(f"{r}->kind = {fmt_rec.id}; {r}->cpu = bpf_get_smp_processor_id();")
        for i, ((how, v), (a, t)) in enumerate(zip(vals, parts)):
            if how == "direct":
                self.str_into(v, f"{r}->a{i}", str(ssize))
            elif how == "lit":
                text = self.lit_text(v)[: ssize - 1]
                self.emit(f"PYTAP_LIT({r}->a{i}, {c_string(text)});")
            elif t == "string":
                self.emit(f"pytap_strcpy({r}->a{i}, {ssize}, {v});")
            else:
                self.emit(f"{r}->a{i} = {v};")
        self.emit(f"{self.gen.ringbuf}.ringbuf_submit({r}, 0);")
        self.ind -= 1
        self.emit("} else {")
        self.emit("\tpytap_dropped();")
        self.emit("}")
        self.ind -= 1
        self.emit("}")
        return "0"
