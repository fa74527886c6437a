"""Text of the stack/symbol functions (runtime/stacks.py) against stap's
runtime formats (_stp_snprint_addr flags), with a fake kallsyms; SDT
argument parsing (platform/sdt.py)."""
from __future__ import annotations

import pytest

from pytap.platform.sdt import SdtArg, parse_arg
from pytap.runtime import stacks, symbols


@pytest.fixture
def fake_kernel(tmp_path, monkeypatch):
    ks = tmp_path / "kallsyms"
    ks.write_text("ffffffff81000000 T _text\n"
                  "ffffffff81000100 T do_syscall_64\n"
                  "ffffffff81000300 t helper\n"
                  "ffffffffc0001000 t mod_fn\t[mymod]\n"
                  "ffffffffc0001080 t mod_end\t[mymod]\n")
    monkeypatch.setattr(stacks, "KERNEL", symbols.KernelSymbols(str(ks)))
    monkeypatch.setattr(stacks, "MSL", 128)
    return stacks


STK = "0xffffffff81000110 0xffffffff81000305 0xffffffffc0001004 "


def test_print_backtrace_full_lines(fake_kernel):
    assert fake_kernel.format_kind("F", STK) == (
        " 0xffffffff81000110 : do_syscall_64+0x10/0x200 [kernel]\n"
        " 0xffffffff81000305 : helper+0x5/0x0 [kernel]\n"
        " 0xffffffffc0001004 : mod_fn+0x4/0x80 [mymod]\n")


def test_print_stack_is_print_syms(fake_kernel):
    assert fake_kernel.format_kind("S", "0xffffffff81000110 ") == \
        " 0xffffffff81000110 : do_syscall_64+0x10/0x200 [kernel]\n"


def test_sprint_backtrace_simple_and_symbol_functions(fake_kernel):
    assert fake_kernel.format_kind("b", "0xffffffff81000110 0xffffffffc0001004 ") == \
        "do_syscall_64+0x10 [kernel]\nmod_fn+0x4 [mymod]\n"
    assert fake_kernel.format_kind("n", "ffffffff81000110") == "do_syscall_64"
    assert fake_kernel.format_kind("d", "ffffffff81000110") == "do_syscall_64+0x10/0x200 [kernel]"
    assert fake_kernel.format_kind("m", "ffffffffc0001004") == "mymod"
    assert fake_kernel.format_kind("n", "10") == "0x10"            # no symbol: hex
    assert fake_kernel.format_kind("c", "ffffffff81000110") == "do_syscall_64 0xffffffff81000110"


def test_callers_and_sprint_clipping(fake_kernel):
    assert fake_kernel.format_kind("l", "1:" + STK) == "0xffffffff81000110 0xffffffff81000305"
    many = "0xffffffff81000110 " * 10
    text = fake_kernel.format_kind("s", many)
    # whole lines only, within MAXSTRINGLEN (the tapset's sprint_syms)
    assert text == " 0xffffffff81000110 : do_syscall_64+0x10/0x200 [kernel]\n" * 2


def test_folded(fake_kernel):
    assert fake_kernel.folded(STK) == "mod_fn;helper;do_syscall_64"


def test_sdt_argument_operands():
    assert parse_arg("-4@%edi") == SdtArg(4, True, "reg", "di")
    assert parse_arg("8@%r12") == SdtArg(8, False, "reg", "r12")
    assert parse_arg("-4@112(%rsp)") == SdtArg(4, True, "mem", "sp", 112)
    assert parse_arg("-8@-8(%rbp)") == SdtArg(8, True, "mem", "bp", -8)
    assert parse_arg("4@$5") == SdtArg(4, False, "imm", disp=5)
    assert parse_arg("junk") is None
