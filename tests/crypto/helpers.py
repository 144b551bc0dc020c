"""Points the curve tests attack with."""

from __future__ import annotations

from bitcoinzk.crypto import babyjub as bj


def order8_point() -> tuple[int, int]:
    """A point of order 8 (it generates the cofactor subgroup), found deterministically
    from small y values."""
    for y in range(2, 1000):
        try:
            p = bj.unpack(y.to_bytes(32, "little"))
        except bj.InvalidEncodingError:
            continue
        t = bj.mul(p, bj.L)
        if bj.mul(t, 4) != bj.IDENTITY:
            return t
    raise AssertionError("no order-8 point found")  # pragma: no cover
