"""Parser: AST shapes and locations, preprocessing, errors, printers."""
import pytest

from pytap import ast
from pytap.diagnostics import PassFailed
from pytap.options import Options
from pytap.parser import parse
from pytap.printer import dump_p1, print_expr, print_stmt, probe_point_text
from pytap import preprocess


def body(src, **kw):
    f = parse("probe begin { " + src + " }", "t.stp", Options(**kw))
    return f.probes[0].body.statements


def expr(src, **kw):
    (s,) = body("x = " + src, **kw)
    return s.value.right


def errors_of(src, **kw):
    with pytest.raises(PassFailed) as ei:
        parse(src, "t.stp", Options(**kw))
    return ei.value


def test_file_shape_and_locations():
    f = parse('global g = 1\nprobe begin, timer.s(2)? { g++ }\nfunction f:long (a:long, b) { return a }\n'
              'probe al = begin { }\n', "t.stp")
    assert [type(i).__name__ for i in f.items] == ["VarDecl", "Probe", "FunctionDecl", "ProbeAlias"]
    g, = f.globals
    assert (g.name, g.init.value, str(g.loc)) == ("g", 1, "t.stp:1:8")
    p, = f.probes
    assert str(p.loc) == "t.stp:2:1"
    assert [probe_point_text(pt) for pt in p.locations] == ["begin", "timer.s(2)?"]
    assert p.locations[1].optional and p.locations[1].components[1].arg.value == 2
    fn, = f.functions
    assert (fn.name, fn.type, [a.name for a in fn.formal_args], [a.type for a in fn.formal_args]) \
        == ("f", "long", ["a", "b"], ["long", None])
    assert str(fn.loc) == "t.stp:3:10"
    al, = f.aliases
    assert not al.epilogue and probe_point_text(al.alias_names[0]) == "al"


def test_operator_nodes_carry_operator_location():
    e = expr("1 +\n 2")
    assert isinstance(e, ast.Binary) and e.op == "+" and str(e.loc) == "t.stp:1:21"
    assert e.tok_desc == "operator '+'"


def test_precedence_matches_stap():
    assert print_expr(expr("a . b + c << d")) == "((a) . ((b) + (c))) << (d)"
    assert print_expr(expr("!a in b")) == "[!(a)] in b"
    assert print_expr(expr("a ? b : c ? d : e")) == "(a)?(b):((c)?(d):(e))"
    assert print_expr(expr("-a++")) == "-((a)++)"
    assert isinstance(expr("a = b = c"), ast.Assignment)


def test_numbers_wrap_to_signed_64():
    assert expr("0xffffffffffffffff").value == -1
    assert expr("010").value == 8
    assert expr("9223372036854775808").value == -(1 << 63)


def test_array_forms():
    e = expr("[1, *] in a")
    assert isinstance(e, ast.ArrayIn) and e.operand.indexes[1] is None
    e = expr("a[1, 2]")
    assert isinstance(e, ast.ArrayIndex) and e.base.name == "a" and len(e.indexes) == 2


def test_foreach_fields():
    (s,) = body("foreach (v = [k1, k2-] in arr[1, *] limit 5) print(v)")
    assert isinstance(s, ast.ForeachLoop)
    assert (s.value.name, [k.name for k in s.indexes], s.sort_column, s.sort_direction) == \
        ("v", ["k1", "k2"], 2, -1)
    assert s.limit.value == 5 and s.array_slice[1] is None
    (s,) = body("foreach (k in st @sum+) print(k)")
    assert (s.sort_column, s.sort_direction, s.sort_aggr) == (0, 1, "sum")


def test_print_format_nodes():
    (a, b, c) = body('printf("%d\\n", 1) printd(",", 1, 2) print(@hist_log(s))')
    assert isinstance(a.value, ast.PrintFormat) and a.value.fmt == "%d\\n" and len(a.value.args) == 1
    assert b.value.delimiter == "," and b.value.is_delim
    assert isinstance(c.value.hist, ast.HistOp) and c.value.args == []


def test_target_and_cast_nodes():
    e = expr("$var->f[1]->g$")
    assert isinstance(e, ast.TargetSymbol) and e.name == "$var"
    assert [(c.kind, c.name) for c in e.components] == [
        ("member", "f"), ("index", ""), ("member", "g"), ("pretty", "$")]
    e = expr('&@cast(p, "struct s", "kernel")->a')
    assert isinstance(e, ast.CastOp) and e.addressof and e.module == "kernel"
    e = expr("(p)->a")
    assert isinstance(e, ast.AutoCastOp)


def test_statements_and_while_as_for():
    (s,) = body("while (i < 3) i++")
    assert isinstance(s, ast.ForLoop) and s.init is None and s.incr is None
    (t,) = body("try { x = 1 } catch (m) { }")
    assert isinstance(t, ast.TryBlock) and t.catch_var.name == "m"


def test_brace_alternatives_expand():
    f = parse("probe syscall.{open,close}? { }", "t.stp")
    assert [probe_point_text(p) for p in f.probes[0].locations] == ["syscall.open?", "syscall.close?"]


def test_script_arguments():
    (s,) = body("x = $1 + @2 . $#", args=["7", "s"])
    assert print_expr(s.value.right) == '((7) + ("s")) . (2)'
    err = errors_of("probe begin { x = $3 }", args=["1"])
    assert "command line argument out of range [1-1]" in err.diagnostics.render()


def test_macros_and_conditionals():
    f = parse('@define add(a,b) %( ((@a) + (@b)) %)\nprobe begin { x = @add(1, 2) '
              '%( runtime == "bpf" %? y = 1 %: y = 2 %) }', "t.stp", Options(runtime="bpf"))
    out = dump_p1(f)
    assert "(x) = ((1) + (2));" in out and "(y) = (1);" in out


def test_config_reader_is_replaceable(monkeypatch):
    monkeypatch.setattr(preprocess, "config_reader", lambda: {"CONFIG_FOO": "y"})
    (s,) = body('x = %( CONFIG_FOO == "y" %? 1 %: 2 %)')
    assert s.value.right.value == 1


def test_version_compare():
    assert preprocess.strverscmp("2.6.9", "2.6.10") < 0
    assert preprocess.strverscmp("6.18.44", "6.18") > 0
    assert preprocess.strverscmp("4.8", "4.8") == 0


def test_guru_constructs_need_g():
    err = errors_of("function f() %{ x %}\nprobe begin { y = @const(\"X\") }")
    text = err.diagnostics.render()
    assert "embedded code in unprivileged script; need stap -g" in text
    assert "using @const operator not permitted; need stap -g" in text
    parse("function f() %{ x %}", "t.stp", Options(guru=True))
    parse("function f() %{ x %}", "tapset.stp", privileged=True)


def test_error_text_and_footer():
    err = errors_of("probe begin { x = }")
    assert err.diagnostics.render() == (
        "parse error: expected literal string or number\n"
        "        saw: operator '}' at t.stp:1:19\n"
        "     source: probe begin { x = }\n"
        "                               ^\n\n")
    assert err.footer == "1 parse error.\nPass 1: parse failed.  [man error::pass1]"


def test_several_errors_resync_at_keywords():
    err = errors_of("probe a { x = ) }\nfunction f( { }\nglobal 3")
    assert len(err.diagnostics.errors) == 3
    assert err.footer.startswith("3 parse errors.")


def test_p2_style_printers_are_exported():
    (s,) = body("if (x) print(1 / 0)")
    assert print_stmt(s) == "if (x) print((1) / (0))\n"


@pytest.mark.parametrize("src", [
    "", "probe", "probe begin {", "%(", "%( arch == %?", "@define", "@define x %(", "$", "@",
    "probe a.{", "probe a.{b,", "function f(a:", "global a[", "probe begin { x = @cast(",
    "probe begin { foreach ([a,", "\x00", "probe begin { \"\\", "probe b { x = 1 ? }",
    "probe b { print(@hist_linear(s, 1, 2, 3, 4)) }", "probe b { x = @count(s, 1, 2) }",
    "@define a(x) %( @a(@x) %) probe b { y = @a(1) }",
])
def test_no_traceback_on_garbage(src):
    try:
        parse(src, "t.stp")
    except PassFailed:
        pass


def test_parse_file_and_missing_file(tmp_path):
    from pytap.parser import parse_file
    p = tmp_path / "s.stp"
    p.write_text("probe begin { print(1) }\n")
    f = parse_file(str(p))
    assert f.name == str(p) and len(f.probes) == 1
    with pytest.raises(PassFailed) as ei:
        parse_file(str(tmp_path / "nope.stp"))
    assert "is missing" in ei.value.footer


def test_empty_inputs():
    assert "Input file 't.stp' is empty." in errors_of("# only a comment\n").footer
    assert "empty after preprocessing" in errors_of('%( 1 == 2 %? probe begin {} %)').footer


def test_tables_build_without_a_writable_cache(monkeypatch, tmp_path):
    import pytap.parser as P
    blocker = tmp_path / "file"
    blocker.write_text("")          # a cache dir under a file cannot be made (even by root)
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker / "sub"))
    monkeypatch.setattr(P, "_PARSER", None)
    try:
        f = parse("probe begin { x = 1 }", "t.stp")
        assert len(f.probes) == 1
    finally:
        monkeypatch.setattr(P, "_PARSER", None)
