"""Python twins of the networking tapsets' native functions (tapsets/inet.stp)."""
from __future__ import annotations

from ..builtins import builtin


@builtin()
def ip_ntop(ctx, addr):
    """An IPv4 address in network byte order (as read from memory on a
    little-endian machine) as "a.b.c.d"."""
    return ".".join(str((int(addr) >> (8 * i)) & 0xFF) for i in range(4))
