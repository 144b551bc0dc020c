"""Bristol Fashion: the shipped circuits compute what they say; hostile files are refused."""

from __future__ import annotations

import random

import pytest

from bitcoinzk.bitcoin.opcodes import Op, Script, disassemble, drop, iter_script
from bitcoinzk.settlement.bitvm.bristol import (
    BristolError,
    adder_comparator,
    load_bristol,
    parse_bristol,
    shipped_circuit,
)


@pytest.mark.parametrize("bits", [8, 32, 64])
def test_shipped_adder_comparator(bits):
    c = shipped_circuit(f"add_lt{bits}")
    assert c.gates == adder_comparator(bits).gates  # the file is what the generator writes
    rng = random.Random(bits)
    cases = [(0, 0), (2**bits - 1, 1), (5, 5), (1, 2**bits - 1)]
    cases += [(rng.getrandbits(bits), rng.getrandbits(bits)) for _ in range(300)]
    for x, y in cases:
        assert c.evaluate([x, y]) == [(x + y) % 2**bits, int(x < y)]


def test_load_any_file_with_mand_eq_and_nand(tmp_path):
    body = [
        "4 2 0 1 2 2 4 5 MAND",  # w4 = x0 & y, w5 = x1 & y
        "2 1 4 5 6 NAND",
        "1 1 1 7 EQ",
    ]
    text = "3 8\n2 2 1\n1 2\n\n" + "\n".join(body) + "\n"
    path = tmp_path / "small.txt"
    path.write_text(text)
    c = load_bristol(path)
    assert [g.kind for g in c.gates] == ["AND", "AND", "NAND", "EQ"]
    for x in range(4):
        for y in range(2):
            x0, x1 = x & 1, x >> 1
            assert c.evaluate([x, y]) == [(1 - ((x0 & y) & (x1 & y))) | (1 << 1)]
    assert parse_bristol(c.to_bristol()).gates == c.gates


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1 3\n1 1\n1 1\n\n2 1 0 1 2 AND\n",  # reads wire 1 before anything writes it
        "1 3\n1 2\n1 1\n\n2 1 0 1 0 AND\n",  # writes an input wire
        "1 3\n1 2\n1 1\n\n2 1 0 1 9 AND\n",  # wire out of range
        "1 3\n1 2\n1 1\n\n2 1 0 1 2 OR\n",  # unknown gate
        "2 3\n1 2\n1 1\n\n2 1 0 1 2 AND\n",  # gate count
        "1 3\n2 2\n1 1\n\n2 1 0 1 2 AND\n",  # input count vs sizes
        "1 3\n1 2\n1 1\n\n2 1 0 1 AND\n",  # short gate line
    ],
)
def test_malformed_bristol_is_refused(text):
    with pytest.raises(BristolError):
        parse_bristol(text)


def test_script_builder_minimal_pushes_and_tokens():
    s = Script(Op.OP_DUP, 0, 5, 16, 17, -1, b"\xab" * 3, b"\x07", Op.OP_EQUAL)
    raw = bytes(s)
    assert raw.hex() == "7600556001114f03ababab5787"
    assert list(iter_script(raw)) == [0x76, b"", 0x55, 0x60, b"\x11", 0x4F, b"\xab" * 3, 0x57, 0x87]
    assert bytes(drop(5)) == bytes([0x6D, 0x6D, 0x75])
    assert "OP_DUP" in disassemble(raw)
    assert len(bytes(Script(b"\x01" * 300))) == 303  # OP_PUSHDATA2
    with pytest.raises(ValueError):
        Script(b"\x00" * 521)
