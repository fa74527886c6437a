"""BpfStore behaviour the interpreter relies on, over a fake BCC table:
stap's element order (insertion order, ties of sorted walks, reordering by
a sorted foreach) and stap's integer @variance when the stats leaf carries
the per-CPU Welford state."""
import ctypes as ct
from types import SimpleNamespace

from pytap.runtime import bpfstore
from pytap.runtime.bpfstore import BpfStore
from pytap.runtime.stats import Stat


class FakeTable:
    """The part of a BCC hash table BpfStore uses; iterates in an order
    unrelated to insertion, like a real hash."""

    class Key(ct.Structure):
        _fields_ = [("k0", ct.c_longlong)]

    Leaf = ct.c_longlong

    def __init__(self):
        self.d = {}

    def __getitem__(self, k):
        return self.Leaf(self.d[k.k0])

    def __setitem__(self, k, v):
        self.d[k.k0] = v.value

    def __delitem__(self, k):
        del self.d[k.k0]

    def keys(self):
        return [self.Key(k) for k in sorted(self.d, key=lambda k: -k)]

    def items(self):
        return [(self.Key(k), self.Leaf(self.d[k])) for k in sorted(self.d, key=lambda k: -k)]


def _store():
    t = FakeTable()
    layout = SimpleNamespace(name="a", map_name="g_a", kind="array", value_type="long")
    program = SimpleNamespace(globals=[layout])
    return BpfStore({b"g_a": t}, program), t


def test_items_follow_insertion_order_not_hash_order():
    st, _ = _store()
    for k in (3, 1, 2):
        st.set("a", (k,), 5)
    assert [k for k, _ in st.items("a")] == [(3,), (1,), (2,)]
    st.delete("a", (1,))
    st.set("a", (1,), 5)
    assert [k for k, _ in st.items("a")] == [(3,), (2,), (1,)]


def test_keys_bpf_inserted_come_first_and_reorder_sticks():
    st, t = _store()
    t.d[9] = 1                      # a BPF handler inserted it
    st.set("a", (4,), 1)
    st.set("a", (9,), 2)            # met now, but older than 4
    assert [k for k, _ in st.items("a")] == [(9,), (4,)]
    st.reorder("a", [(4,), (9,)])
    assert [k for k, _ in st.items("a")] == [(4,), (9,)]
    st.delete("a")
    assert st.items("a") == []


class WelfordLeaf(ct.Structure):
    _fields_ = [("count", ct.c_longlong), ("sum", ct.c_longlong), ("min", ct.c_longlong),
                ("max", ct.c_longlong), ("sumsq", ct.c_longlong), ("avg_s", ct.c_longlong),
                ("m2", ct.c_longlong), ("variance_s", ct.c_longlong),
                ("log", ct.c_longlong * 128)]


def test_variance_is_stap_integer_welford_when_the_leaf_keeps_it():
    layout = SimpleNamespace(hist=None)
    leaf = WelfordLeaf()
    mem = Stat()
    for i in range(1, 11):
        bpfstore._add_to_leaf(Stat, layout, leaf, 3 * i)
        mem.add(3 * i)
    got = bpfstore._stat_from_leaf(Stat, layout, leaf)
    assert (got.count, got.sum, got.min, got.max) == (10, 165, 3, 30)
    assert got.variance() == mem.variance() == 153     # stap's, not the exact 82
