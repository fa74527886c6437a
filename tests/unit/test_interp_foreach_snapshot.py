"""foreach reads the values it sorted: BPF handlers keep writing a map
while the interpreter walks it, and stap's array lock means the loop body
sees the iterated values (so a `foreach (k in c-) printf(.., c[k])` report
stays sorted); the body's own writes are still seen."""
from pytap import ast
from pytap.runtime.interp import Interpreter, ProbeContext
from pytap.runtime.store import MemoryStore

from test_interp import G, N, assign, foreach, idx, printf, probe, sym
from types import SimpleNamespace
from pytap.options import Options


class RacingStore(MemoryStore):
    """Every live read of `c` finds the map grown meanwhile (as when a
    kernel event bumps counters between the sort and the body)."""

    def get(self, name, key=()):
        if name == "c" and key:
            for k, v in list(self.items("c")):
                MemoryStore.set(self, "c", k, v + 100 * k[0])
        return MemoryStore.get(self, name, key)


def _run(stmts, globals_, locals_):
    out = []
    opts = Options()
    session = SimpleNamespace(globals=list(globals_), functions=[], probes=[], options=opts)
    store = RacingStore(globals_, maxmapentries=2048)
    it = Interpreter(session, store, out.append, opts)
    it.init_globals()
    it.run_probe(probe(*stmts, locals_=locals_), ProbeContext(pid=1, execname="t"))
    return "".join(out), store


def _setup():
    c = G("c", "long", arity=1, index_types=["long"])
    k = ast.VarDecl("k", type="long")
    ks = ast.Symbol("k", referent=k, type="long")
    fill = [assign(idx(c, N(key)), N(v)) for key, v in [(1, 50), (2, 40), (3, 30)]]
    return c, k, ks, fill


def test_body_reads_the_sorted_values_while_the_map_moves():
    c, k, ks, fill = _setup()
    loop = foreach([ks], sym(c), [printf("%d %d\\n", ks, idx(c, ks))],
                   sort_column=0, sort_direction=-1)
    out, _ = _run(fill + [loop], [c], [k])
    assert out == "1 50\n2 40\n3 30\n"


def test_body_writes_are_seen_and_the_snapshot_ends_with_the_loop():
    c, k, ks, fill = _setup()
    body = [ast.ExprStatement(ast.PostCrement("++", idx(c, ks))),
            printf("%d %d\\n", ks, idx(c, ks))]
    loop = foreach([ks], sym(c), body, sort_column=1, sort_direction=1)
    after = printf("after %d\\n", idx(c, N(1)))
    out, _ = _run(fill + [loop, after], [c], [k])
    lines = out.splitlines()
    # the increment is ours: the value read back is live (not the snapshot)
    assert lines[0].startswith("1 ") and int(lines[0].split()[1]) > 50
    assert int(lines[-1].split()[1]) > 51
