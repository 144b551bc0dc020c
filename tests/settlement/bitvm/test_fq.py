"""BN254 Fq arithmetic in tapscript, every verdict libbitcoinkernel's.

All honest cases run as inputs of one block; each wrong result then gets a block
of its own, which the kernel must refuse (the tip does not move)."""

from __future__ import annotations

import random

import pytest

from bitcoinzk.bitcoin.opcodes import Op, Script
from bitcoinzk.settlement.bitvm import fq
from bitcoinzk.settlement.bitvm.execute import Spend, run_all, run_spends

P = fq.P
RNG = random.Random(15)
VALUES = [0, 1, P - 1, P - 2, 2**253, *(RNG.randrange(P) for _ in range(3))]


def w(*xs: int) -> tuple[bytes, ...]:
    return tuple(item for x in xs for item in fq.witness_items(x))


def expect(body: Script, result: int) -> bytes:
    """`body`, then the result must equal `result`, then nothing may remain."""
    return bytes(body + fq.push_script(result) + fq.equalverify_script() + Script(Op.OP_1))


def cases(a: int, b: int) -> dict[str, tuple[Script, int, tuple[bytes, ...]]]:
    """name -> (script, honest result, witness)."""
    q = fq.mul_hint(a, b)
    inv, q_inv = fq.inv_hints(a) if a else fq.inv_hints(1)
    return {
        "add": (fq.add_script(), (a + b) % P, w(a, b)),
        "sub": (fq.sub_script(), (a - b) % P, w(a, b)),
        "double": (fq.double_script(), 2 * a % P, w(a)),
        "neg": (fq.neg_script(), -a % P, w(a)),
        "mul": (fq.mul_script(), a * b % P, w(q, a, b)),
        "mul_w4": (fq.mul_script(4), a * b % P, w(fq.mul_hint(a, b), a, b)),
        "mul_plain": (fq.mul_plain_script(), a * b % P, w(a, b)),
        "lc2": (fq.lc_script(2), (a * b + b * b) % P, w(fq.lc_hint((a, b), (b, b)), a, b, b, b)),
        "inv": (fq.inv_script(), inv, w(inv, q_inv, a if a else 1)),
        "canonical": (fq.is_canonical_script(), a, w(a)),
    }


def test_limbs_round_trip():
    for x in VALUES:
        assert fq.from_limbs(fq.to_limbs(x)) == x
        assert all(0 <= v < fq.BASE for v in fq.to_limbs(x))
    with pytest.raises(ValueError):
        fq.to_limbs(1 << 261)


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


def test_fq_hints_must_be_honest(funded):
    """Hints are the prover's: a wrong quotient, a non-canonical result or inverse, an
    out-of-range limb all fail."""
    node, wallet = funded
    a, b = VALUES[5], VALUES[6]
    q, r = fq.mul_hint(a, b), a * b % P
    inv, q_inv = fq.inv_hints(a)
    bad = {
        "quotient + 1": Spend(expect(fq.mul_script(), r), w(q + 1, a, b)),
        "quotient - 1": Spend(expect(fq.mul_script(), r), w(q - 1, a, b)),
        "sum of products, quotient + 1": Spend(
            expect(fq.lc_script(2), (a * b + b * a) % P),
            w(fq.lc_hint((a, b), (b, a)) + 1, a, b, b, a),
        ),
        "quotient limb over 29 bits": Spend(
            expect(fq.mul_script(), r),
            (*w(q)[:-2], fq.witness_items(q)[-2], b"\x00\x00\x00\x20", *w(a, b)),
        ),
        "inverse + p": Spend(
            expect(fq.inv_script(), inv + P),
            w(inv + P, fq.mul_hint(a, inv + P), a),
        ),
        "wrong inverse": Spend(expect(fq.inv_script(), inv + 1), w(inv + 1, q_inv, a)),
        "canonical: p": Spend(expect(fq.is_canonical_script(), 0), w(P)),
    }
    for name, spend in bad.items():
        assert not run_spends(node, wallet, [spend]), name
