"""pytap/elaborate: alias expansion, symbols, types, optimizer, dump."""
from __future__ import annotations

import pytest

from pytap import ast
from pytap.diagnostics import PassFailed
from pytap.elaborate import elaborate, elaborate_source
from pytap.elaborate.aliases import AliasTable, Deriver, similar_names
from pytap.options import Options


@pytest.fixture(autouse=True)
def private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("PYTAP_TAPSET", raising=False)


def el(text, **kw):
    return elaborate_source(text, **kw)


def pp(dp):
    return dp.point.text()


# ------------------------------------------------------ hand-built ASTs

def comp(f, arg=None):
    return ast.ProbePointComponent(f, arg)


def point(*comps, **kw):
    return ast.ProbePoint(list(comps), **kw)


def say(s):
    return ast.ExprStatement(ast.PrintFormat("printf", [], fmt=s))


def test_alias_engine_on_hand_built_ast():
    alias_eq = ast.ProbeAlias([point(comp("ta"))], [point(comp("timer"), comp("s", ast.Number(3, "3")))],
                              ast.Block([say("enter")]))
    alias_pe = ast.ProbeAlias([point(comp("ta"))], [point(comp("timer"), comp("s", ast.Number(3, "3")))],
                              ast.Block([say("leave")]), epilogue=True)
    use = ast.Probe([point(comp("ta"))], ast.Block([say("in")]))
    f = ast.StapFile("<x>", probes=[use], aliases=[alias_eq, alias_pe])
    table = AliasTable(None)
    table.add_file(f)
    errors = []
    dps = Deriver(table, errors).derive(use)
    assert not errors
    assert [pp(d) for d in dps] == ["timer.s(3)", "timer.s(3)"]

    def fmts(block):
        out = []
        for s in block.statements:
            if isinstance(s, ast.Block):
                out += fmts(s)
            else:
                out.append(s.value.fmt)
        return out

    assert fmts(dps[0].body) == ["enter", "in"]
    assert fmts(dps[1].body) == ["in", "leave"]
    assert dps[0].derivation == [alias_eq, use]
    # bodies are private copies
    assert dps[0].body.statements[1] is not use.body


# ------------------------------------------------------ library API

TIMER_ALIAS = '''probe timer_alias = timer.s(3) {printf("Entering timer\\n")}
probe timer_alias += timer.s(3) {printf("Leaving timer\\n")}
probe timer_alias {printf("In timer \\n")}
'''


def test_timer_alias_dump():
    s = el(TIMER_ALIAS)
    assert s.dump() == ("# probes\n"
                        "timer.s(3) /* <- timer_alias = timer.s(3) <- timer_alias */\n"
                        "timer.s(3) /* <- timer_alias += timer.s(3) <- timer_alias */\n")
    assert s.dump(verbose=1).count('printf("In timer \\\\n");') == 2
    assert [p.resolved.family for p in s.probes] == ["timer", "timer"]
    assert [p.index for p in s.probes] == [0, 1]


def test_suffix_through_alias_chain_and_tcp_tapset():
    s = el('probe sendrecv = tcp.sendmsg, tcp.recvmsg { x = 1 }\n'
           'probe sendrecv.return { println(x, size) }\n')
    lines = s.dump().splitlines()
    assert lines[1] == ('kprobe.function("tcp_sendmsg").return /*  name = tcp_sendmsg*/ /* <- '
                        'tcp.sendmsg.return = kprobe.function("tcp_sendmsg").return <- '
                        'sendrecv = tcp.sendmsg, tcp.recvmsg <- sendrecv.return */')
    assert lines[5].startswith('kprobe.function("tcp_recvmsg").return')
    assert [p.resolved.spec.get("return") for p in s.probes] == [True, True]
    assert [v.name for v in s.probes[0].locals] == ["size", "x"]


def test_suffix_appended_to_every_location():
    s = el('probe a = kprobe.function("vfs_read"), kprobe.function("vfs_write") { }\n'
           'probe a.return { println(1) }\n')
    assert [pp(p) for p in s.probes] == ['kprobe.function("vfs_read").return',
                                         'kprobe.function("vfs_write").return']


def test_wildcard_alias_names():
    s = el('probe my.x = begin(3) { a = 1 }\nprobe my.y = end { a = 2 }\n'
           'probe my.* { println(a) }\n')
    assert [pp(p) for p in s.probes] == ["begin(3)", "end"]
    assert [p.priority for p in s.probes] == [3, 0]


def test_optional_and_sufficient():
    s = el('probe s1 = nosuch !, begin(2), end { x = 1 }\n'
           'probe s1, nosuch2 ? { println(x) }\n')
    assert [pp(p) for p in s.probes] == ["begin(2)", "end"]
    s = el('probe s2 = begin(5) !, end { x = 2 }\nprobe s2 { println(x) }\n')
    assert [pp(p) for p in s.probes] == ["begin(5)"]


def test_condition_guard_and_locals_shared():
    s = el('global on\nprobe c1 = timer.s(1) if (on > 0) { y = 2 }\n'
           'probe c1 if (on < 5) { on++; println(y) }\nprobe begin { on = 1 }\n')
    p = s.probes[0]
    assert isinstance(p.condition, ast.LogicalAnd)
    guard = p.body.statements[0]
    assert isinstance(guard, ast.IfStatement) and isinstance(guard.then, ast.NextStatement)
    assert [v.name for v in p.locals] == ["y"]
    # one synthetic begin for the condition state
    assert s.probes[-1].synthetic and pp(s.probes[-1]) == "begin"


def test_symbols_and_types():
    s = el('global cnt, arr, st\nfunction f(x) { return x + 1 }\n'
           'function g:string (a:string) { return a . "x" }\n'
           'probe begin { a = 1; b = "s"; cnt++; arr[b, a] = f(a); st <<< 3; println(g(b)) }\n'
           'probe end { foreach ([k, v] in arr) println(k, v, @count(st)) }\n')
    g = {v.name: v for v in s.globals}
    assert (g["cnt"].type, g["cnt"].arity) == ("long", 0)
    assert (g["arr"].type, g["arr"].arity, g["arr"].index_types) == ("long", 2, ["string", "long"])
    assert g["st"].type == "stats"
    f = {fn.name: fn for fn in s.functions}
    assert f["f"].type == "long" and f["f"].formal_args[0].type == "long"
    assert f["g"].type == "string"
    body = s.probes[0].body
    # every expression typed, symbols resolved
    missing = []

    class V(ast.Visitor):
        def generic_visit(self, n):
            if isinstance(n, ast.Expr) and n.type is None:
                missing.append(n)
            if isinstance(n, ast.Symbol):
                assert n.referent is not None
            if isinstance(n, ast.FunctionCall):
                assert n.referents
            super().generic_visit(n)

    V().visit(body)
    assert not missing


def test_type_inference_reaches_fixpoint_across_bodies():
    s = el('global m\nfunction h(p) { return m[p] }\nprobe begin { println(h("k")) }\n'
           'probe end { m["k"] = 3 }\n')
    h = s.functions[0]
    assert h.type == "long" and h.formal_args[0].type == "string"
    assert s.globals[0].index_types == ["string"]


def test_overloads_numbered():
    s = el('function f(x) { return 1 }\nfunction f(x, y) { return 2 }\n'
           'probe begin { println(f(1), f(1, 2)) }\n')
    assert "__global_f__overload_0(1), __global_f__overload_1(1, 2)" in s.dump(1)


def test_optimizer_elides_with_warnings(capsys):
    s = el('probe begin { 1; println(2); x = 5; y = x; }\n')
    err = capsys.readouterr().err
    assert "WARNING: Eliding assignment to 'y': operator '=' at <input>:1:39" in err
    assert "Eliding side-effect-free expression : number '1'" in err
    assert "Number of similar warning messages suppressed: 1." in err
    assert s.probes[0].locals == []
    assert s.dump(1).endswith("{ println(2) }\n")


def test_unused_functions_and_globals_pruned():
    s = el('global g, h\nfunction unused() { return 1 }\nprobe begin { println(2) }\n')
    assert s.functions == [] and s.globals == []


def test_write_only_globals_get_exit_printers():
    s = el('global a, b\nprobe begin { a[1, "x"] = 1; b = "x" }\n')
    syn = [p for p in s.probes if p.synthetic]
    assert [pp(p) for p in syn] == ["end", "end"]
    assert [v.name for v in syn[0].locals] == ["__idx0", "__idx1", "__val"]


def _fail(text):
    with pytest.raises(PassFailed) as ei:
        el(text)
    e = ei.value
    return e.diagnostics.render(), e.footer


def test_no_probes_found():
    for text in ("global x\n", "probe foo = begin { println(1) }\n"):
        msg, footer = _fail(text)
        assert msg == "semantic error: no probes found\n\n"
        assert footer == "Pass 2: analysis failed.  [man error::pass2]"


def test_unknown_probe_point_message():
    msg, _ = _fail("probe foo { println(1) }\n")
    assert msg.startswith("semantic error: while resolving probe point: identifier 'foo' at <input>:1:7\n"
                          "        source: probe foo { println(1) }\n"
                          "                      ^\n\n"
                          "semantic error: probe point mismatch")


def test_type_mismatch_message():
    msg, _ = _fail('probe begin { x = 1; x = "a"; println(x) }\n')
    assert msg.startswith("semantic error: type mismatch (string): identifier 'x' at <input>:1:22\n")
    assert "semantic error: type was first inferred here (long): identifier 'x' at :1:15\n" in msg


def test_unresolved_function_message():
    msg, _ = _fail("probe begin { println(nosuch(1)) }\n")
    assert msg.startswith("semantic error: unresolved function nosuch")


def test_similar_names():
    assert similar_names("tim", ["timer", "tcp", "zzzzzzzzzz"])[0] == "tcp" or \
        "timer" in similar_names("tim", ["timer", "tcp"])


def test_elaborate_takes_parsed_file():
    from pytap.parser import parse
    f = parse("probe begin { println(1) }\n", "<input>", Options())
    s = elaborate(f, Options())
    assert s.script is f and len(s.probes) == 1


def test_bit_parallel_distance_equals_levenshtein():
    import random
    from pytap.probes.core import _distance_from, levenshtein
    rnd = random.Random(7)
    for _ in range(2000):
        a = "".join(rnd.choice("ab_cd") for _ in range(rnd.randint(0, 14)))
        b = "".join(rnd.choice("ab_cd") for _ in range(rnd.randint(0, 14)))
        assert _distance_from(a)(b) == levenshtein(a, b), (a, b)
    long = "autofs4_expire_indirect_with_a_name_longer_than_sixty_four_characters_x"
    assert _distance_from(long)(long[::-1]) == levenshtein(long, long[::-1])
