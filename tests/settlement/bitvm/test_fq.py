"""BN254 Fq arithmetic in tapscript, every verdict libbitcoinkernel's.

All honest cases run as inputs of one block; each wrong result then gets a block
of its own, which the kernel must refuse (the tip does not move)."""

from __future__ import annotations

import random

import pytest

from bitcoinzk.bitcoin.opcodes import Op, Script
from bitcoinzk.bitcoin.script import script_num
from bitcoinzk.settlement.bitvm import fq
from bitcoinzk.settlement.bitvm.execute import Spend, run_all, run_spends

P = fq.P
RNG = random.Random(15)
VALUES = [0, 1, P - 1, P - 2, 2**253, *(RNG.randrange(P) for _ in range(3))]


def w(*xs: int) -> tuple[bytes, ...]:
    return tuple(item for x in xs for item in fq.witness_items(x))


def wq(q: int, *xs: int) -> tuple[bytes, ...]:
    """A quotient hint (9 items) and its operands."""
    return (*fq.quotient_items(q), *w(*xs))


def expect(body: Script, result: int) -> bytes:
    """`body`, then the result must equal `result`, then nothing may remain."""
    return bytes(body + fq.push_script(result) + fq.equalverify_script() + Script(Op.OP_1))


def cases(a: int, b: int) -> dict[str, tuple[Script, int, tuple[bytes, ...]]]:
    """name -> (script, honest result, witness)."""
    inv, q_inv = fq.inv_hints(a) if a else fq.inv_hints(1)
    return {
        "add": (fq.add_script(), (a + b) % P, w(a, b)),
        "sub": (fq.sub_script(), (a - b) % P, w(a, b)),
        "double": (fq.double_script(), 2 * a % P, w(a)),
        "neg": (fq.neg_script(), -a % P, w(a)),
        "mul": (fq.mul_script(), a * b % P, wq(fq.mul_hint(a, b), a, b)),
        "mul_horner": (fq.mul_horner_script(), a * b % P, w(fq.mul_hint(a, b), a, b)),
        "mul_plain": (fq.mul_plain_script(), a * b % P, w(a, b)),
        "lc2": (
            fq.lc_script(2),
            (a * b + b * b) % P,
            wq(fq.lc_hint((a, b), (b, b)), a, b, b, b),
        ),
        "inv": (fq.inv_script(), inv, (*w(inv), *wq(q_inv, a if a else 1))),
        "canonical": (fq.is_canonical_script(), a, w(a)),
    }


def test_limbs_round_trip():
    for x in VALUES:
        assert fq.from_limbs(fq.to_limbs(x)) == x
        assert all(0 <= v < fq.BASE for v in fq.to_limbs(x))
    with pytest.raises(ValueError):
        fq.to_limbs(1 << 261)
    q = fq.lc_hint((P - 1, P - 1), (P - 1, P - 1))
    assert q == 2 * P - 4 and q < 1 << fq.Q_BITS
    with pytest.raises(ValueError):
        fq.quotient_items(1 << fq.Q_BITS)


def test_fq_primitives_in_the_kernel(funded):
    node, wallet = funded
    spends = []
    pairs = [(a, b) for a in VALUES for b in VALUES[::3]]
    for a, b in pairs:
        for _name, (script, result, wit) in cases(a, b).items():
            spends.append(Spend(expect(script, result), wit))
    assert run_all(node, wallet, spends) >= 1  # raises if the kernel refuses a block

    a, b = VALUES[5], VALUES[6]
    for name, (script, result, wit) in cases(a, b).items():
        assert not run_spends(node, wallet, [Spend(expect(script, (result + 1) % P), wit)]), name


def test_column_multiplication_edges(funded):
    """The column-form check at its edges: operands 0, 1, p - 1 and near p, the largest
    quotients (p - 2 for one product, 2p - 4 for two), products that are multiples of p
    (r = 0), and random sums of two products."""
    node, wallet = funded
    near = [0, 1, 2, P - 1, P - 2, P // 2, (1 << 253) - 1, 1 << 252]
    spends = []
    for a in near:
        for b in near[::2]:
            spends.append(Spend(expect(fq.mul_script(), a * b % P), wq(fq.mul_hint(a, b), a, b)))
    quads = [(P - 1, P - 1, P - 1, P - 1), (P - 1, P - 1, 1, 1), (0, 0, 0, 0), (1, 0, 0, 1)]
    quads += [
        (RNG.randrange(P), RNG.randrange(P), RNG.randrange(P), RNG.randrange(P)) for _ in range(6)
    ]
    for a1, b1, a2, b2 in quads:
        q = fq.lc_hint((a1, b1), (a2, b2))
        spends.append(
            Spend(expect(fq.lc_script(2), (a1 * b1 + a2 * b2) % P), wq(q, a1, b1, a2, b2))
        )
    assert run_all(node, wallet, spends) >= 1


def test_fq_hints_must_be_honest(funded):
    """Hints are the prover's: a wrong quotient (either side, for one and two products),
    a quotient limb out of range, the right quotient value in limbs that are not
    normalised, a packed item out of range (negative, a bit over its share, 5 bytes), a
    non-canonical inverse, an out-of-range limb all fail."""
    node, wallet = funded
    a, b = VALUES[5], VALUES[6]
    q, r = fq.mul_hint(a, b), a * b % P
    inv, q_inv = fq.inv_hints(a)
    items = fq.quotient_items(q)
    # q with limb 0 raised by 2^26 and limb 1 lowered by 1: the same value
    unnormal = list(items)
    low = int.from_bytes(items[-1], "little") + fq.COL_BASE
    unnormal[-1] = script_num(low)
    unnormal[-2] = script_num(int.from_bytes(items[-2], "little") - 1)
    # item 4 carries limb 4 and 4 bits of limb 9: a 5th bit (2^30) is out of range
    item4 = int.from_bytes(items[4], "little")
    over4 = [*items[:4], script_num(item4 | 1 << 30), *items[5:]]
    s2 = (a * b + b * a) % P
    bad = {
        "quotient + 1": Spend(expect(fq.mul_script(), r), wq(q + 1, a, b)),
        "quotient - 1": Spend(expect(fq.mul_script(), r), wq(q - 1, a, b)),
        "quotient + 1, result - p": Spend(expect(fq.mul_script(), (r - P) % P), wq(q + 1, a, b)),
        "quotient 0": Spend(expect(fq.mul_script(), r), wq(0, a, b)),
        "sum of products, quotient + 1": Spend(
            expect(fq.lc_script(2), s2), wq(fq.lc_hint((a, b), (b, a)) + 1, a, b, b, a)
        ),
        "sum of products, quotient - 1": Spend(
            expect(fq.lc_script(2), s2), wq(fq.lc_hint((a, b), (b, a)) - 1, a, b, b, a)
        ),
        "quotient limb not normalised": Spend(expect(fq.mul_script(), r), (*unnormal, *w(a, b))),
        "quotient limb negative": Spend(
            expect(fq.mul_script(), r), (*items[:-1], script_num(-1), *w(a, b))
        ),
        "quotient item 4 over 30 bits": Spend(expect(fq.mul_script(), r), (*over4, *w(a, b))),
        "quotient item 4 negative": Spend(
            expect(fq.mul_script(), r), (*items[:4], script_num(-item4), *items[5:], *w(a, b))
        ),
        "quotient item 8 of 5 bytes": Spend(
            expect(fq.mul_script(), r), (b"\x00\x00\x00\x80\x00", *items[1:], *w(a, b))
        ),
        "29-bit quotient limbs": Spend(expect(fq.mul_script(), r), w(q, a, b)),
        "horner: quotient limb over 29 bits": Spend(
            expect(fq.mul_horner_script(), r),
            (*w(q)[:-2], fq.witness_items(q)[-2], b"\x00\x00\x00\x20", *w(a, b)),
        ),
        "inverse + p": Spend(
            expect(fq.inv_script(), inv + P),
            (*w(inv + P), *wq(fq.mul_hint(a, inv + P), a)),
        ),
        "wrong inverse": Spend(expect(fq.inv_script(), inv + 1), (*w(inv + 1), *wq(q_inv, a))),
        "canonical: p": Spend(expect(fq.is_canonical_script(), 0), w(P)),
    }
    for name, spend in bad.items():
        assert not run_spends(node, wallet, [spend]), name
