"""BabyJubJub arithmetic and circomlib's point packing."""

import random

import pytest

from bitcoinzk.crypto import babyjub as bj


def test_base8_in_subgroup():
    assert bj.is_on_curve(bj.B8)
    assert bj.mul(bj.B8, bj.L) == bj.IDENTITY
    assert bj.in_subgroup(bj.B8)
    assert bj.ORDER == 8 * bj.L


def test_group_law():
    p = bj.base8_mul(12345)
    q = bj.base8_mul(999)
    assert bj.add(p, q) == bj.base8_mul(12345 + 999)
    assert bj.double(p) == bj.base8_mul(2 * 12345)
    assert bj.mul(p, 7) == bj.base8_mul(7 * 12345)
    assert bj.add(p, bj.IDENTITY) == p
    assert bj.mul(p, 0) == bj.IDENTITY


def test_pack_unpack_roundtrip():
    rng = random.Random(1)
    for _ in range(30):
        p = bj.base8_mul(rng.randrange(1, bj.L))
        data = bj.pack(p)
        assert len(data) == 32
        assert bj.unpack(data) == p
        neg = ((-p[0]) % bj.P, p[1])
        assert bj.unpack(bj.pack(neg)) == neg


def test_pack_matches_circomlibjs_vector():
    # circomlibjs test/eddsa.js: packSignature's first 32 bytes are packPoint(R8).
    r8 = (
        11384336176656855268977457483345535180380036354188103142384839473266348197733,
        15383486972088797283337779941324724402501462225528836549661220478783371668959,
    )
    assert bj.pack(r8).hex() == "dfedb4315d3f2eb4de2d3c510d7a987dcab67089c8ace06308827bf5bcbe02a2"


def test_unpack_rejects_garbage():
    with pytest.raises(bj.InvalidEncodingError):
        bj.unpack(b"\x00" * 31)
    with pytest.raises(bj.InvalidEncodingError):
        bj.unpack((bj.P).to_bytes(32, "little"))  # y = r
    bad = 0
    for y in range(2, 200):  # find a y with no x on the curve
        try:
            bj.unpack(y.to_bytes(32, "little"))
        except bj.InvalidEncodingError:
            bad += 1
    assert bad > 0
    # (0, 1) with the sign bit set is a non-canonical encoding of the identity.
    with pytest.raises(bj.InvalidEncodingError):
        bj.unpack(bytes(bytearray((1).to_bytes(32, "little"))[:31]) + b"\x80")


def test_off_curve_point_rejected():
    assert not bj.is_on_curve((1, 2))
    assert not bj.is_on_curve((bj.B8[0] + bj.P, bj.B8[1]))
    with pytest.raises(bj.NotOnCurveError):
        bj.Point(1, 2)
