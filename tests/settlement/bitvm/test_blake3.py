"""BLAKE3 in tapscript (the chunk interface hash), every verdict libbitcoinkernel's."""

from __future__ import annotations

import random

from bitcoinzk.bitcoin.opcodes import Op, Script, drop
from bitcoinzk.bitcoin.script import script_num
from bitcoinzk.settlement.bitvm import blake3, fq
from bitcoinzk.settlement.bitvm.execute import Spend, run_all, run_spends

RNG = random.Random(3)


def test_reference_matches_published_vectors():
    assert blake3.blake3_hash(b"").hex() == (
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    )
    assert blake3.blake3_hash(b"abc").hex() == (
        "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
    )
    # the official vectors' input: bytes i % 251
    assert blake3.blake3_hash(bytes([0])).hex() == (
        "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213"
    )


def _values_witness(values: list[tuple[int, bool]]) -> list[bytes]:
    out: list[bytes] = []
    for v, small in values:
        out += [script_num(v)] if small else fq.witness_items(v)
    return out


def _spend(values: list[tuple[int, bool]], claimed: list[int]) -> Spend:
    """Hash the witness values in Script and compare with `claimed` (10 halves)."""
    layout = [s for _, s in values]
    n_items = sum(1 if s else fq.N_LIMBS for s in layout)
    script = (
        blake3.digest_script(layout, 0)
        + blake3.halves_script()
        + Script(*claimed)
        + blake3.equal_halves_script()
        + drop(n_items)
        + Script(Op.OP_1)
    )
    return Spend(bytes(script), tuple(_values_witness(values)))


def test_lookup_table_holds_every_xor_row_and_the_mod_16_run():
    """The overlapping table: each row x ^ 0 .. x ^ 15 is a window at its start, the
    first 48 entries are s mod 16, and it is 203 entries instead of 256 + 48."""
    seq, starts = blake3.XOR_SEQ, blake3.XOR_STARTS
    for x in range(16):
        assert list(seq[starts[x] : starts[x] + 16]) == [x ^ y for y in range(16)]
    assert list(seq[:48]) == [s % 16 for s in range(48)]
    assert len(seq) == 203 and blake3.TABLE_ITEMS == 219


def test_digest_in_the_kernel(funded):
    """Honest digests pass for: 2 Fq values + 1 small (68 bytes: a full block, then one
    word and 15 zero padding words, which the script never adds), 4 Fq values (two
    full blocks), 3 Fq values (a full block and a half one), 1 Fq value (half a
    block).  One bit off in the claim, or one bit of a value changed, fails, for a
    full and for a half block."""
    node, wallet = funded
    one = [(RNG.randrange(fq.P), False), (fq.P - 1, False), (5, True)]
    two = [(RNG.randrange(fq.P), False) for _ in range(4)]
    half = [(RNG.randrange(fq.P), False) for _ in range(3)]
    single = [(RNG.randrange(fq.P), False)]
    honest = []
    for values in (one, two, half, single):
        words = blake3.digest(values)
        honest.append(_spend(values, blake3.digest_halves(words)))
    run_all(node, wallet, honest)

    for values in (one, half):
        words = blake3.digest(values)
        wrong = blake3.digest_halves(words)
        wrong[3] ^= 1
        assert not run_spends(node, wallet, [_spend(values, wrong)])
        changed = [*values[:-1], (values[-1][0] ^ 1, values[-1][1])]
        assert not run_spends(node, wallet, [_spend(changed, blake3.digest_halves(words))])
