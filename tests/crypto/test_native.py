"""
The C extension (``bitcoinzk.crypto._native``) against the pure-Python reference.

Every native entry point is compared with the gmpy2 code it replaces, on random and
edge-case inputs (hypothesis), and the public functions are compared with the native
back end switched off (``NATIVE = None``), which is exactly what
``BITCOINZK_PURE_PYTHON=1`` selects at import.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import cast
from unittest.mock import patch

import gmpy2
import light_poseidon_python
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bitcoinzk.crypto import babyjub as bj
from bitcoinzk.crypto import eddsa as ed
from bitcoinzk.crypto._native_api import NativeModule
from tests.crypto.helpers import order8_point

P_MOD = importlib.import_module("bitcoinzk.crypto.poseidon")
NATIVE = cast(NativeModule, P_MOD.NATIVE)
R = P_MOD.FIELD_MODULUS
PURE_ENV = os.environ.get("BITCOINZK_PURE_PYTHON", "") not in ("", "0")

pytestmark = pytest.mark.skipif(PURE_ENV, reason="BITCOINZK_PURE_PYTHON is set")

SETTINGS = settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])


@contextmanager
def pure() -> Iterator[None]:
    """Run the public functions on the pure-Python back end."""
    with (
        patch.object(P_MOD, "NATIVE", None),
        patch.object(bj, "NATIVE", None),
        patch.object(ed, "NATIVE", None),
    ):
        yield


def test_native_is_loaded():
    """A missing/failed build must not silently fall back to the 30x slower path."""
    assert NATIVE is not None, "run `pip install -e .` to build bitcoinzk/crypto/_native.c"
    assert NATIVE.FIELD_MODULUS == R
    assert NATIVE.ABI_VERSION == P_MOD.NATIVE_ABI_VERSION


def test_assembly_multiplication_matches_portable_c():
    """x86-64: the mulq/adc Montgomery product equals the portable C one (both compiled in)."""
    assert NATIVE.ASM in (0, 1)
    for seed in (1, 2, 0xDEADBEEF, 2**64 - 1):
        assert NATIVE.selftest(50_000, seed)


# --- strategies ------------------------------------------------------------------------

EDGE_FIELD = [0, 1, 2, 3, R - 1, R - 2, (R - 1) // 2, (R + 1) // 2, 2**128, 2**253, R - 2**64]
field = st.one_of(st.sampled_from(EDGE_FIELD), st.integers(0, R - 1))
EDGE_SCALARS = [0, 1, 2, 15, 16, 17, bj.L - 1, bj.L, bj.L + 1, bj.ORDER, R - 1, R, 2**256 - 1]
scalars = st.one_of(st.sampled_from(EDGE_SCALARS), st.integers(0, 2**256 - 1))


TORSION = [bj.mul(order8_point(), i) for i in range(8)]
"""Points of order 1, 2, 4, 8 (the cofactor subgroup)."""


@st.composite
def curve_points(draw: st.DrawFn) -> tuple[int, int]:
    """Subgroup points, points with a torsion component, and small-order points."""
    k = draw(st.integers(0, bj.L - 1))
    t = draw(st.sampled_from(TORSION))
    with pure():
        base = bj.to_affine(bj.base8_mul_ext(k))
    kind = draw(st.sampled_from(["subgroup", "mixed", "torsion"]))
    if kind == "subgroup":
        return base
    if kind == "torsion":
        return t
    return bj.add(base, t)


any_points = st.one_of(curve_points(), st.tuples(field, field))


# --- field / Poseidon --------------------------------------------------------------------


@settings(SETTINGS, max_examples=300)
@given(st.integers(1, 16).flatmap(lambda n: st.lists(field, min_size=n, max_size=n)))
def test_poseidon_matches_reference(xs):
    assert P_MOD.poseidon(xs) == P_MOD.poseidon_gmpy(xs)
    assert P_MOD.poseidon(tuple(xs)) == P_MOD.poseidon_gmpy(xs)


@pytest.mark.parametrize("n", range(1, 17))
def test_poseidon_every_arity_edges(n):
    for xs in ([0] * n, [R - 1] * n, list(range(n)), [R - 1 - i for i in range(n)]):
        assert P_MOD.poseidon(xs) == P_MOD.poseidon_gmpy(xs)
        assert NATIVE.poseidon(xs) == P_MOD.poseidon_gmpy(xs)


def test_poseidon_two_matches_light_poseidon():
    """An independent implementation (Rust) agrees with both back ends."""
    hasher = light_poseidon_python.Hasher(2)
    for xs in ([0, 0], [R - 1, R - 1], [1, 2], [R - 1, 0]):
        assert int(hasher.hash(xs)) == P_MOD.poseidon_gmpy(xs) == NATIVE.poseidon(xs)


def test_poseidon_input_validation_unchanged():
    """The native fast path must raise exactly what the Python checks raise."""
    for bad in (R, -1, 2**256, 2**300, -(2**300), True, 1.0, "1", None):
        for n in (1, 2, 5):
            xs = [1] * (n - 1) + [bad]
            with pytest.raises(P_MOD.NotAFieldElementError):
                P_MOD.poseidon(xs)
    with pytest.raises(P_MOD.InvalidArityError):
        P_MOD.poseidon([])
    with pytest.raises(P_MOD.InvalidArityError):
        P_MOD.poseidon(list(range(17)))
    with pytest.raises(TypeError):
        P_MOD.poseidon(iter([1, 2]))
    # gmpy2 integers and int subclasses are accepted as before.
    assert P_MOD.poseidon([gmpy2.mpz(5), 7]) == P_MOD.poseidon_gmpy([5, 7])

    class MyInt(int):
        pass

    assert P_MOD.poseidon([MyInt(5), 7]) == P_MOD.poseidon_gmpy([5, 7])
    # Other sequence types go through the checks, then natively.
    assert P_MOD.poseidon(range(1, 5)) == P_MOD.poseidon_gmpy([1, 2, 3, 4])


def test_poseidon_native_raw_errors():
    with pytest.raises(ValueError):
        NATIVE.poseidon([])
    with pytest.raises(ValueError):
        NATIVE.poseidon([R])
    with pytest.raises(ValueError):
        NATIVE.poseidon([-1])
    with pytest.raises(TypeError):
        NATIVE.poseidon([True])
    with pytest.raises(TypeError):
        NATIVE.poseidon({1, 2})  # type: ignore[arg-type]
    # Re-installing constants is a no-op.
    P_MOD.native_install(3)
    assert NATIVE.poseidon_init(3, 57, [], [], [], []) is False


def test_poseidon_init_validates():
    """Malformed constants are refused (checked on a width not yet installed in a child)."""
    code = """
import pytest
from bitcoinzk.crypto import _native as N
for args in [(1, 56, [], [], [], []), (18, 56, [], [], [], []), (2, 56, [1], [], [], [])]:
    with pytest.raises(ValueError):
        N.poseidon_init(*args)
t, nrp = 2, 56
ok = dict(c=[1] * (t * 8 + nrp), s=[1] * (nrp * (2 * t - 1)), m=[1] * 4, p=[1] * 4)
with pytest.raises(ValueError):
    N.poseidon_init(t, nrp, ok["c"], ok["s"], ok["m"], [N.FIELD_MODULUS] * 4)
with pytest.raises(LookupError):
    N.poseidon([1])
print("ok")
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "ok"


# --- Merkle paths ------------------------------------------------------------------------


def merkle_loop(index: int, leaf: int, siblings: list[int]) -> list[int]:
    """The 8-ary path computed from poseidon_gmpy directly: at level k, insert the node
    at child position (index >> 3k) & 7 among siblings[7k : 7k + 7]."""
    node, out = leaf, [leaf]
    for level in range(len(siblings) // 7):
        children = list(siblings[7 * level : 7 * level + 7])
        children.insert((index >> (3 * level)) & 7, node)
        node = P_MOD.poseidon_gmpy(children)
        out.append(node)
    return out


def test_merkle_path_vectors():
    """Hand-placed children: position p_k of each level holds the node below."""
    z1 = P_MOD.poseidon_gmpy([0] * 8)
    assert P_MOD.merkle_path(0, 0, [0] * 7) == [0, z1]
    sibs = list(range(1, 8))
    assert P_MOD.merkle_path(0, 9, sibs)[1] == P_MOD.poseidon_gmpy([9, 1, 2, 3, 4, 5, 6, 7])
    assert P_MOD.merkle_path(7, 9, sibs)[1] == P_MOD.poseidon_gmpy([1, 2, 3, 4, 5, 6, 7, 9])
    assert P_MOD.merkle_path(3, 9, sibs)[1] == P_MOD.poseidon_gmpy([1, 2, 3, 9, 4, 5, 6, 7])
    # index 0o52 = 42: position 2 at level 0, position 5 at level 1
    n1 = P_MOD.poseidon_gmpy([1, 2, 9, 3, 4, 5, 6, 7])
    n2 = P_MOD.poseidon_gmpy([11, 12, 13, 14, 15, n1, 16, 17])
    path = [9, n1, n2]
    assert P_MOD.merkle_path(0o52, 9, [*sibs, *range(11, 18)]) == path
    assert P_MOD.merkle_path_python(0o52, 9, [*sibs, *range(11, 18)]) == path
    with pure():
        assert P_MOD.merkle_path(0o52, 9, [*sibs, *range(11, 18)]) == path


def _flat_siblings(levels: int) -> st.SearchStrategy[list[int]]:
    return st.lists(field, min_size=7 * levels, max_size=7 * levels)


@SETTINGS
@example(index=0, leaf=0, siblings=[])
@example(index=2**24 - 1, leaf=R - 1, siblings=[R - 1] * 56)
@example(index=-1, leaf=1, siblings=list(range(2, 16)))
@example(index=2**200 + 5, leaf=1, siblings=list(range(2, 23)))
@given(
    index=st.one_of(st.integers(0, 2**24 - 1), st.integers(-(2**70), 2**70)),
    leaf=field,
    siblings=st.integers(0, 8).flatmap(_flat_siblings),
)
def test_merkle_path_matches_python_loop(index, leaf, siblings):
    P_MOD.native_install(9)  # the raw native call does not install constants itself
    expected = merkle_loop(index, leaf, siblings)
    assert NATIVE.merkle_path(index, leaf, siblings) == expected
    assert NATIVE.merkle_path(index, leaf, tuple(siblings)) == expected
    assert P_MOD.merkle_path(index, leaf, siblings) == expected
    assert P_MOD.merkle_path_python(index, leaf, siblings) == expected
    with pure():
        assert P_MOD.merkle_path(index, leaf, siblings) == expected


def test_merkle_path_installs_constants_on_first_use():
    code = (
        "from bitcoinzk.crypto.poseidon import merkle_path, poseidon_gmpy\n"
        "s = list(range(3, 10))\n"
        "assert merkle_path(1, 2, s) == [2, poseidon_gmpy([3, 2, *range(4, 10)])]\n"
        "assert merkle_path(0, 2, []) == [2]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_merkle_path_input_validation():
    """Native and pure-Python paths raise what poseidon() raises for the same input."""
    P_MOD.native_install(9)
    six = [1, 2, 3, 4, 5, 6]
    for bad in (R, -1, 2**256, -(2**300), True, 1.0, "1", None):
        for args in ((5, bad, [1] * 7), (5, 1, [*six, bad]), (5, 1, (bad, *six))):
            for ctx in (pure, nullcontext):
                with ctx(), pytest.raises(P_MOD.NotAFieldElementError):
                    P_MOD.merkle_path(*args)
            raw_error = TypeError if bad is True or not isinstance(bad, int) else ValueError
            with pytest.raises(raw_error):
                NATIVE.merkle_path(*args)
    for ctx in (pure, nullcontext):
        for n in (1, 6, 8, 13, 57, 63):  # not 7 per level, or more than 8 levels
            with ctx(), pytest.raises(P_MOD.PoseidonError):
                P_MOD.merkle_path(0, 1, [0] * n)
        with ctx(), pytest.raises(TypeError):
            P_MOD.merkle_path(1.0, 1, [2] * 7)
        # gmpy2 integers, int subclasses and other sequences are accepted, as by poseidon().
        assert P_MOD.merkle_path(gmpy2.mpz(1), gmpy2.mpz(5), [gmpy2.mpz(7)] * 7) == merkle_loop(
            1, 5, [7] * 7
        )
        assert P_MOD.merkle_path(2, 5, range(14)) == merkle_loop(2, 5, list(range(14)))

    class MyInt(int):
        pass

    out = NATIVE.merkle_path(MyInt(1), MyInt(5), [MyInt(7)] * 7)
    assert out == merkle_loop(1, 5, [7] * 7) and type(out[0]) is int
    for n in (1, 6, 8, 57, 63):
        with pytest.raises(ValueError):
            NATIVE.merkle_path(0, 1, [0] * n)
    with pytest.raises(TypeError):
        NATIVE.merkle_path(0, 1, iter([2] * 7))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        NATIVE.merkle_path(1.0, 1, [2] * 7)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        NATIVE.merkle_path(0, 1)  # type: ignore[call-arg]


# --- BabyJubJub ----------------------------------------------------------------------------


def _ref_mul(pt: tuple[int, int], k: int) -> tuple[int, int] | str:
    try:
        return bj.to_affine(bj.ext_mul(bj.to_ext(pt), k))
    except ZeroDivisionError:
        return "ZeroDivisionError"


def _native_mul(pt: tuple[int, int], k: int) -> tuple[int, int] | str:
    try:
        return NATIVE.scalar_mul(pt[0], pt[1], k)
    except ZeroDivisionError:
        return "ZeroDivisionError"


@SETTINGS
@given(any_points, scalars)
@example(bj.B8, 0)
@example(bj.IDENTITY, 2**256 - 1)
@example((0, 0), 5)
@example((1, 2), bj.L)
def test_scalar_mul_matches_reference(pt, k):
    """Same algorithm, so equal results even for points off the curve."""
    assert _native_mul(pt, k) == _ref_mul(pt, k)
    if bj.is_on_curve(pt):
        assert bj.mul(pt, k) == _ref_mul(pt, k)


def test_scalar_mul_off_curve_degenerate_parity():
    """Off-curve points whose doublings pass through Z = 0 (on the curve Z is never 0)."""
    root = bj._sqrt(2)
    assert root is not None
    sqrt2 = int(root)  # (0, sqrt 2): a*0 + 2 = 2*Z^2, so its double has Z = 0
    pts = [(x, y) for x in range(4) for y in range(4)] + [(0, sqrt2), (1, sqrt2), (0, R - sqrt2)]
    for pt in pts:
        for k in (2, 3, 5, 16, 17, 32, 0x1234, 2**255 + 1):
            assert _native_mul(pt, k) == _ref_mul(pt, k), (pt, k)


def test_scalar_mul_argument_errors():
    with pytest.raises(ValueError):
        NATIVE.scalar_mul(R, 1, 1)
    with pytest.raises(ValueError):
        NATIVE.scalar_mul(1, 1, -1)
    with pytest.raises(ValueError):
        NATIVE.scalar_mul(1, 1, 2**256)
    with pytest.raises(TypeError):
        NATIVE.scalar_mul(1.0, 1, 1)  # type: ignore[arg-type]
    # Out-of-native-range arguments still work through the Python path.
    assert bj.mul(bj.B8, 2**256 + 5) == _ref_mul(bj.B8, 2**256 + 5)
    assert bj.mul((bj.B8[0] + R, bj.B8[1]), 7) == _ref_mul(bj.B8, 7)
    with pytest.raises(ValueError):
        bj.mul(bj.B8, -1)


@SETTINGS
@given(st.one_of(scalars, st.integers(-(2**300), 2**300)))
@example(0)
@example(bj.L)
@example(-1)
def test_base8_mul_matches_reference(k):
    with pure():
        ref = bj.base8_mul(k)
    assert bj.base8_mul(k) == ref
    if 0 <= k < 2**256:
        assert NATIVE.base8_mul(k) == ref


@SETTINGS
@given(any_points)
@example((0, 1))
@example((0, R - 1))
@example((R, 1))
@example((-1, 1))
def test_is_on_curve_and_subgroup_match_reference(pt):
    with pure():
        on, sub = bj.is_on_curve(pt), bj.in_subgroup(pt)
    assert bj.is_on_curve(pt) == on
    assert bj.in_subgroup(pt) == sub
    if 0 <= pt[0] < R and 0 <= pt[1] < R:
        assert NATIVE.is_on_curve(*pt) == on


def test_is_on_curve_out_of_range():
    for pt in [(R, 1), (-1, 1), (1, 2**300), (bj.B8[0] + R, bj.B8[1])]:
        assert NATIVE.is_on_curve(*pt) is False
        assert bj.is_on_curve(pt) is False
    assert bj.is_on_curve((gmpy2.mpz(bj.B8[0]), gmpy2.mpz(bj.B8[1])))


@settings(SETTINGS, max_examples=200)
@given(st.one_of(field, field.map(lambda x: x * x % R)))
@example(0)
@example(1)
@example(R - 1)
@example(5)
def test_sqrt_matches_reference(n):
    ref = bj._sqrt_py(gmpy2.mpz(n))
    got = NATIVE.sqrt(n)
    assert got == (None if ref is None else int(ref))
    assert bj._sqrt(gmpy2.mpz(n)) == ref
    if got is not None:
        assert got * got % R == n


def test_sqrt_errors():
    for bad in (R, -1):
        with pytest.raises(ValueError):
            NATIVE.sqrt(bad)
    assert bj._sqrt(gmpy2.mpz(R + 4)) == bj._sqrt_py(gmpy2.mpz(4))


@SETTINGS
@given(st.binary(min_size=32, max_size=32))
@example(b"\x00" * 32)
@example((1).to_bytes(32, "little"))
@example(bytes(31) + b"\x80")
@example(b"\xff" * 32)
def test_unpack_matches_reference(data):
    def run() -> tuple[int, int] | str:
        try:
            return bj.unpack(data)
        except bj.InvalidEncodingError as e:
            return str(e)

    with pure():
        ref = run()
    assert run() == ref


# --- EdDSA ---------------------------------------------------------------------------------


def _both(pub: ed.PublicKey, msg: int, sig: ed.Signature) -> bool:
    fast = ed.verify(pub, msg, sig)
    with pure():
        ref = ed.verify(pub, msg, sig)
    assert fast == ref, (pub, msg, sig)
    return fast


seeds = st.binary(min_size=32, max_size=32)


@SETTINGS
@given(seeds, field)
def test_sign_and_keys_match_reference(seed, msg):
    key = ed.PrivateKey(seed)
    with pure():
        ref_key = ed.PrivateKey(seed)
        ref_pub, ref_sig = ref_key.public_key(), ref_key.sign(msg)
    assert key.public_key() == ref_pub
    assert key.sign(msg) == ref_sig
    assert _both(ref_pub, msg, ref_sig)


TAMPERS = [
    "msg+1",
    "s+1",
    "s+l",
    "s-1",
    "s=2^256",
    "s<0",
    "r8+B8",
    "r8+T",
    "r8 off curve",
    "r8x+r",
    "pub other",
    "pub+T",
    "pub torsion",
    "msg=r",
    "msg<0",
    "msg huge",
    "r8x<0",
]


@SETTINGS
@given(seeds, field, st.sampled_from(TAMPERS), st.sampled_from(TORSION[1:]))
def test_verify_matches_reference_on_tampered(seed, msg, how, t):
    key = ed.PrivateKey(seed)
    pub, sig = key.public_key(), key.sign(msg)
    assert _both(pub, msg, sig)
    r8 = (sig.r8x, sig.r8y)
    s = sig.s
    other = ed.PrivateKey(bytes(32)).public_key()
    cases = {
        "msg+1": (pub, (msg + 1) % R, sig),
        "s+1": (pub, msg, ed.Signature(*r8, (s + 1) % bj.L)),
        "s+l": (pub, msg, ed.Signature(*r8, s + bj.L)),
        "s-1": (pub, msg, ed.Signature(*r8, (s - 1) % bj.L)),
        "s=2^256": (pub, msg, ed.Signature(*r8, 2**256)),
        "s<0": (pub, msg, ed.Signature(*r8, s - bj.L)),
        "r8+B8": (pub, msg, ed.Signature(*bj.add(r8, bj.B8), s)),
        "r8+T": (pub, msg, ed.Signature(*bj.add(r8, t), s)),
        "r8 off curve": (pub, msg, ed.Signature(r8[0], (r8[1] + 1) % R, s)),
        "r8x+r": (pub, msg, ed.Signature(r8[0] + R, r8[1], s)),
        "pub other": (other, msg, sig),
        "pub+T": (ed.PublicKey(*bj.add((pub.x, pub.y), t)), msg, sig),
        "pub torsion": (ed.PublicKey(*t), msg, sig),
        "msg=r": (pub, R, sig),
        "msg<0": (pub, -1, sig),
        "msg huge": (pub, msg + 2**256, sig),
        "r8x<0": (pub, msg, ed.Signature(-r8[0], r8[1], s)),
    }
    assert _both(*cases[how]) is False


def test_verify_small_order_and_torsion_crafted():
    """A key owner's R8 with a torsion component, and keys with 8A == 0 (circuit rejects)."""
    key = ed.PrivateKey(bytes(range(32)))
    pub = key.public_key()
    msg = 77
    for t in TORSION[1:]:
        r = 424242
        r8 = bj.add(bj.base8_mul(r), t)
        hm = P_MOD.poseidon([r8[0], r8[1], pub.x, pub.y, msg])
        assert _both(pub, msg, ed.Signature(*r8, (r + hm * key._s) % bj.L)) is False
        assert _both(ed.PublicKey(*t), msg, ed.Signature(*bj.B8, 1)) is False
        # A key with a torsion component is valid for the circuit (it only uses 8A):
        # sign for A' = A + T by hand.
        a2 = bj.add((pub.x, pub.y), t)
        r8 = bj.base8_mul(r)
        hm = P_MOD.poseidon([r8[0], r8[1], a2[0], a2[1], msg])
        assert _both(ed.PublicKey(*a2), msg, ed.Signature(*r8, (r + hm * key._s) % bj.L))


def test_verify_odd_types_use_reference():
    key = ed.PrivateKey(bytes(32))
    pub, sig = key.public_key(), key.sign(5)
    assert _both(pub, True, sig) is False
    assert _both(pub, "5", sig) is False  # type: ignore[arg-type]
    # The reference refuses non-int msg / S (gmpy2 included); the wrapper defers to it.
    assert _both(pub, gmpy2.mpz(5), sig) is False
    mpz_s = ed.Signature(sig.r8x, sig.r8y, gmpy2.mpz(sig.s))
    assert _both(pub, 5, mpz_s) is False
    mpz_r8 = ed.Signature(gmpy2.mpz(sig.r8x), sig.r8y, sig.s)
    assert _both(pub, 5, mpz_r8) is True

    class MyInt(int):
        pass

    assert _both(pub, MyInt(5), sig) is True
    assert ed.verify(object(), 5, sig) is False  # type: ignore[arg-type]
    assert ed.verify(pub, 5, object()) is False  # type: ignore[arg-type]
    assert NATIVE.eddsa_verify(pub.x, pub.y, 5, sig.r8x, sig.r8y, sig.s) is True
    with pytest.raises(TypeError):
        NATIVE.eddsa_verify(pub.x, pub.y, 5.0, sig.r8x, sig.r8y, sig.s)  # type: ignore[arg-type]


def test_verify_batch_native_equals_single():
    keys = [ed.PrivateKey(bytes([i]) * 32) for i in range(3)]
    items = [(k.public_key(), m, k.sign(m)) for m, k in enumerate(keys * 3)]
    pub, m, s = items[4]
    items[4] = (pub, m + 1, s)
    pub, m, s = items[7]
    items[7] = (pub, m, ed.Signature(s.r8x, s.r8y, s.s + bj.L))
    expected = [ed.verify(*it) for it in items]
    assert expected.count(False) == 2
    assert ed.verify_batch(items) == expected
    with pure():
        assert ed.verify_batch(items) == expected


def test_pure_python_env_var_runs_existing_vectors():
    """BITCOINZK_PURE_PYTHON=1 disables the extension; the published vectors still pass."""
    here = Path(__file__).parent
    env = dict(os.environ, BITCOINZK_PURE_PYTHON="1")
    code = "from bitcoinzk.crypto.poseidon import NATIVE; assert NATIVE is None"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(here / "test_poseidon_blake.py"),
            str(here / "test_babyjub.py"),
            str(here / "test_eddsa.py"),
            "-k",
            "not process_pool",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
