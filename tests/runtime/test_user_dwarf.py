"""User programs' own DWARF (gcc -g): process("a.out").function("f") with
$params (int, long, char *, struct pointer with ->members), .return with
$return and @entry, sign extension through user_*_error, @var of a
global, at -O0 (frame slots after the prologue) and -O2 (registers at the
entry), and -L against stap -L."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SRC = HERE / "dwarf" / "dwarf_target.c"

pytest.importorskip("elftools", reason="pyelftools is not installed (pip install pyelftools)")


def _build(tmp_path_factory, opt):
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed: cannot build the DWARF target")
    out = tmp_path_factory.mktemp("dwarf") / f"dwarf_target{opt}"
    subprocess.run(["gcc", "-g", opt, "-fno-omit-frame-pointer", "-o", str(out), str(SRC)], check=True)
    return str(out)


@pytest.fixture(scope="module", params=["-O0", "-O2"])
def target(request, tmp_path_factory):
    return request.param, _build(tmp_path_factory, request.param)


def _pytap(args, timeout=90):
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(REPO))
    return subprocess.run([sys.executable, "-m", "pytap"] + args, capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.mark.root
def test_arguments_members_return_entry_and_globals(target, tmp_path):
    opt, path = target
    script = tmp_path / "t.stp"
    script.write_text(f'''
probe process("{path}").function("visit") {{
  printf("visit n=%d scale=%d label=%s r->id=%d r->tag=%s next->id=%d next->tag[1]=%c\\n",
         $n, $scale, user_string($label), $r->id, user_string($r->tag), $r->next->id, $r->next->tag[1])
  printf("delta=%d mark=%d via=%d counter=%d\\n", $r->delta, $r->mark,
         user_int(&$r->next->id), @var("counter"))
}}
probe process("{path}").function("visit").return {{
  printf("visit returned %d for n=%d (entry %d)\\n", $return, $n, @entry($n))
}}
probe process("{path}").function("shrink").return {{
  printf("shrink(%d, %d) = %d\\n", $v, $c, $return)
}}
''')
    r = _pytap(["-c", path, str(script)])
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "visit n=3 scale=100 label=lbl1 r->id=1 r->tag=one next->id=2 next->tag[1]=w",
        "delta=-300 mark=-5 via=2 counter=42",
        "visit returned 215 for n=3 (entry 3)",
        "shrink(-21, -1) = -43"]


def test_listing(target):
    opt, path = target
    r = _pytap(["-L", f'process("{path}").function("visit")'])
    assert r.returncode == 0, r.stderr
    # an optimised build has no home for `doubled` at the entry: not listed (as stap)
    assert r.stdout.strip() == (f'process("{path}").function("visit@{SRC}:10") $n:int $scale:long int '
                                '$label:char const* $r:struct rec*' + (" $doubled:int" if opt == "-O0" else ""))
    r = _pytap(["-L", f'process("{path}").function("shrink").return'])
    assert r.stdout.strip() == (f'process("{path}").function("shrink@{SRC}:16").return '
                                '$return:short int $v:short int $c:signed char')


@pytest.mark.oracle
@pytest.mark.skipif(shutil.which("stap") is None, reason="SystemTap (stap) is not installed")
def test_listing_same_as_stap(target):
    _opt, path = target
    for point in (f'process("{path}").function("visit")', f'process("{path}").function("shrink").return',
                  f'process("{path}").function("main")'):
        theirs = subprocess.run(["stap", "-L", point], capture_output=True, text=True, timeout=120).stdout
        assert _pytap(["-L", point]).stdout == theirs


@pytest.mark.oracle
@pytest.mark.skipif(shutil.which("stap") is None, reason="SystemTap (stap) is not installed")
def test_probe_address_same_as_stap(target):
    _opt, path = target
    text = f'probe process("{path}").function("visit") {{ println(1) }}'
    theirs = subprocess.run(["stap", "-p2", "-e", text], capture_output=True, text=True, timeout=120)
    ours = _pytap(["-p2", "-e", text])
    line = [x for x in theirs.stdout.splitlines() if x.startswith("process(")]
    assert line and line[0] in ours.stdout


@pytest.mark.root
def test_statement_and_pretty_vars(target, tmp_path):
    opt, path = target
    if opt != "-O0":
        pytest.skip("locals at a line of an optimised build may have no home")
    script = tmp_path / "t.stp"
    script.write_text(f'''
probe process("{path}").statement("visit@dwarf_target.c:12") {{ printf("line 12: doubled=%d\\n", $doubled) }}
probe process("{path}").function("shrink") {{ println($$parms) }}
probe process("{path}").function("shrink").return {{ println($$return) }}
''')
    r = _pytap(["-c", path, str(script)])
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["line 12: doubled=6", "v=0xffffffffffffffeb c=0xffffffffffffffff",
                                     "return=0xffffffffffffffd5"]


def test_statement_listing_and_errors(target):
    _opt, path = target
    r = _pytap(["-L", f'process("{path}").statement("shrink@dwarf_target.c:*")'])
    assert r.stdout.strip() == f'process("{path}").statement("shrink@{SRC}:16") $v:short int $c:signed char'
    r = _pytap(["-p2", "-e", f'probe process("{path}").statement("visit@dwarf_target.c:3") {{ }}'])
    assert r.returncode == 1
    assert f"no line records for {SRC}:3 [man error::dwarf] (try :" in r.stderr


def test_no_debuginfo_error(tmp_path):
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    out = tmp_path / "nodwarf"
    subprocess.run(["gcc", "-O0", "-o", str(out), str(SRC)], check=True)
    r = _pytap(["-p2", "-e", f'probe process("{out}").function("visit") {{ println($n) }}'])
    assert r.returncode == 1
    assert (f"semantic error: debuginfo scope not found for module '{out}', cannot resolve context "
            "variable [man error::dwarf]: identifier '$n'") in r.stderr


@pytest.mark.root
def test_cast_to_program_types(target, tmp_path):
    _opt, path = target
    script = tmp_path / "t.stp"
    script.write_text(f'''
probe process("{path}").function("visit") {{
  printf("%d %s %d %d\\n", @cast($r, "struct rec")->id, user_string(@cast($r, "rec", "{path}")->next->tag),
         @cast($r, "struct rec")[0]->total, @cast(&$r->delta, "short int"))
}}
''')
    r = _pytap(["-c", path, str(script)])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "1 two 10 -300\n"
