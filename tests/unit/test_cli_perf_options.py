"""-t and -s NUM, as stap parses them."""
import pytest

from pytap.cli import UsageError, parse_args
from pytap.options import Options


def test_t_and_s():
    o = parse_args(["-t", "-s", "4", "x.stp"])
    assert o.timing and o.buffer_mb == 4
    o = parse_args(["x.stp"])
    assert not o.timing and o.buffer_mb is None


@pytest.mark.parametrize("bad", ["0", "4096", "x", "-1"])
def test_bad_buffer_size_is_stap_s_message(bad):
    with pytest.raises(UsageError, match=r"^Invalid buffer size \(should be 1-4095\)\.$"):
        parse_args(["-s", bad, "x.stp"])


def test_ring_buffer_pages():
    # imported here: importing the submodule at collection time would shadow
    # pytap.codegen.generate (the function other test modules import)
    from pytap.codegen.generate import DEFAULT_RINGBUF_PAGES, _possible_cpus, ringbuf_pages
    assert ringbuf_pages(Options()) == DEFAULT_RINGBUF_PAGES
    pages = ringbuf_pages(Options(buffer_mb=3))
    assert pages & (pages - 1) == 0                       # a power of two, as BPF wants
    assert pages * 4096 >= 3 * (1 << 20) * _possible_cpus()   # NUM MiB per CPU at least
    assert pages // 2 * 4096 < 3 * (1 << 20) * _possible_cpus()
