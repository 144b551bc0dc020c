"""Fuzz the Bitcoin wire decoders (issue 11 §7): transactions, blocks, addresses.

Garbage raises DecodeError (a ValueError) and nothing else; whatever decodes is
canonical: it serializes back to exactly the bytes it came from.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bitcoinzk.bitcoin.block import Block, build_block
from bitcoinzk.bitcoin.encoding import DecodeError, Reader
from bitcoinzk.bitcoin.script import AddressError, address_from_script, script_from_address
from bitcoinzk.bitcoin.tx import OutPoint, Tx, TxIn, TxOut

FUZZ = settings(max_examples=200, deadline=None, derandomize=True)

SEGWIT_TX = Tx(
    2,
    [TxIn(OutPoint("11" * 32, 1), b"", 0xFFFFFFFD, [b"\x01" * 64, b""])],
    [TxOut(50_000, bytes.fromhex("5120" + "22" * 32)), TxOut(0, b"\x6a\x01\x02")],
    7,
)
LEGACY_TX = Tx(1, [TxIn(OutPoint("33" * 32, 0), b"\x51", 0xFFFFFFFF)], [TxOut(1, b"\x51")], 0)


def mutate(data: st.DataObject, raw: bytes) -> bytes:
    out = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["set", "insert", "delete"]))
        pos = data.draw(st.integers(0, max(0, len(out) - 1)))
        if kind == "set" and out:
            out[pos] = data.draw(st.integers(0, 255))
        elif kind == "insert":
            out[pos:pos] = data.draw(st.binary(min_size=1, max_size=9))
        elif out:
            del out[pos : pos + data.draw(st.integers(1, 9))]
    return bytes(out)


def check_tx(raw: bytes) -> None:
    try:
        tx = Tx.from_bytes(raw)
    except DecodeError:
        return
    assert tx.serialize() == raw
    assert tx.weight >= 4 * len(tx.serialize(False))
    tx.txid, tx.wtxid  # noqa: B018  (hashing must not fail either)


@FUZZ
@given(st.binary(max_size=300))
@example(bytes.fromhex("01000000" + "00" + "01"))  # segwit marker, then nothing
@example(bytes.fromhex("01000000" + "fdffff"))  # 65535 inputs announced, none present
@example(bytes.fromhex("01000000" + "fd0100"))  # non-canonical CompactSize
def test_tx_from_garbage(raw: bytes) -> None:
    check_tx(raw)


@FUZZ
@given(st.data(), st.sampled_from([SEGWIT_TX, LEGACY_TX]))
def test_tx_mutations(data: st.DataObject, tx: Tx) -> None:
    check_tx(mutate(data, tx.serialize()))


@FUZZ
@given(st.one_of(st.text(max_size=200), st.sampled_from(["0", "zz", "ab cd", "\u0661\u0662"])))
def test_tx_from_hex_text(text: str) -> None:
    try:
        Tx.from_hex(text)
    except DecodeError:
        pass


BLOCK = build_block("00" * 32, 1, 1_700_000_000, [SEGWIT_TX, LEGACY_TX], 0, b"\x51")


@FUZZ
@given(st.data())
def test_block_mutations(data: st.DataObject) -> None:
    raw = mutate(data, BLOCK.serialize())
    try:
        decoded = Block.from_bytes(raw)
    except DecodeError:
        return
    assert decoded.serialize() == raw


@FUZZ
@given(st.binary(max_size=200))
def test_block_from_garbage(raw: bytes) -> None:
    try:
        Block.from_bytes(raw)
    except DecodeError:
        pass


@FUZZ
@given(st.binary(max_size=12))
def test_compact_size_is_canonical(raw: bytes) -> None:
    from bitcoinzk.bitcoin.encoding import ser_compact_size

    r = Reader(raw)
    try:
        n = r.compact_size()
    except DecodeError:
        return
    assert raw[: r.pos] == ser_compact_size(n)


@FUZZ
@given(st.text(max_size=100) | st.sampled_from(["bcrt1", "BCRT1QQQQ", "bc1" + "q" * 80]))
def test_addresses_from_text(text: str) -> None:
    try:
        spk = script_from_address(text)
    except AddressError:
        return
    assert address_from_script(spk) == text.lower()


@FUZZ
@given(st.binary(max_size=50))
def test_address_of_any_script(spk: bytes) -> None:
    address = address_from_script(spk)
    if address is not None:
        assert script_from_address(address) == spk
