"""Fuzz the data-availability readers (issue 11 §7): Bitcoin envelopes and EVM calldata.

Whatever a stranger publishes, a reader records a typed rejection (GoldError,
DataUnavailable) and keeps its root; it never raises anything else.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitcoinzk.bitcoin.block import Block, BlockHeader
from bitcoinzk.bitcoin.tx import OutPoint, Tx, TxIn, TxOut
from bitcoinzk.da.evm import DataUnavailable, EvmBatchReader
from bitcoinzk.da.gold import (
    BLOB_FIXED,
    HEADER_BYTES,
    GoldBatch,
    GoldError,
    GoldReader,
    PieceHeader,
    envelope_script,
    envelopes_in,
    split_blob,
)
from bitcoinzk.settlement.evm.abi import Abi
from bitcoinzk.settlement.evm.rollup import Rollup
from bitcoinzk.spec.params import ChainParams

FUZZ = settings(max_examples=150, deadline=None, derandomize=True)
PARAMS = ChainParams(chain_id=1337, tree_depth=6, block_slots=2, block_records=1, fee_account=0)
KEY = b"\x02" * 32
CONTROL = b"\xc0" + b"\x03" * 32


def reveal(script: bytes, *extra: bytes) -> Tx:
    witness = [b"\x01" * 64, *extra, script, CONTROL]
    return Tx(2, [TxIn(OutPoint("44" * 32, 0), b"", 0, witness)], [TxOut(330, b"\x51")], 0)


def block_of(*txs: Tx) -> Block:
    coinbase = Tx(2, [TxIn(OutPoint("00" * 32, 0xFFFFFFFF), b"\x01\x01", 0)], [], 0)
    return Block(BlockHeader(0x20000000, "00" * 32, bytes(32), 0), [coinbase, *txs])


@FUZZ
@given(st.binary(max_size=HEADER_BYTES + 2))
def test_piece_header_from_garbage(raw: bytes) -> None:
    try:
        h = PieceHeader.decode(raw)
    except GoldError:
        return
    assert h.encode() == raw


@FUZZ
@given(st.binary(min_size=BLOB_FIXED - 1, max_size=BLOB_FIXED + 200))
def test_blob_from_garbage(blob: bytes) -> None:
    try:
        GoldBatch.from_blob(1, blob)
    except GoldError:
        pass


@FUZZ
@given(st.lists(st.binary(max_size=80), max_size=5))
def test_envelopes_in_any_witness(items: list[bytes]) -> None:
    envelopes_in(reveal(*items) if items else reveal(b""))


@FUZZ
@given(st.binary(min_size=1, max_size=BLOB_FIXED + 120), st.integers(1, 300), st.integers(0, 3))
def test_reader_keeps_its_root_whatever_is_published(
    blob: bytes, piece_bytes: int, drop: int
) -> None:
    reader = GoldReader(PARAMS, root=12345, publisher_key=KEY)
    pieces = split_blob(PARAMS.chain_id, 1, blob, piece_bytes)
    txs = [
        reveal(envelope_script(KEY, h.encode(), part))
        for i, (h, part) in enumerate(pieces)
        if i != drop or len(pieces) == 1
    ]
    # and a piece with the right header but foreign contents, and one of another key
    h, part = pieces[0]
    txs.append(reveal(envelope_script(KEY, h.encode(), part + b"x")))
    txs.append(reveal(envelope_script(b"\x05" * 32, h.encode(), part)))
    assert reader.scan_block(block_of(*txs)) == []
    assert reader.root == 12345 and reader.next_block == 1
    assert reader.rejected  # every refusal is recorded with its reason


# --- EVM calldata ---------------------------------------------------------------------


@cache
def abi() -> Abi:
    from bitcoinzk.settlement.evm.rollup import rollup_abi

    return rollup_abi()


@dataclass
class PublishedCall:
    """One BatchCommitted event and the calldata of its transaction, as a chain shows them."""

    calldata: bytes
    args: dict[str, object] = field(default_factory=dict)
    name: str = "BatchCommitted"
    tx_hash: bytes = b"\x01" * 32
    block_number: int = 1

    def events(self, from_block: int | None = None, to_block: int | None = None) -> list[object]:
        return [self]

    def transaction_input(self, tx_hash: bytes) -> bytes:
        return self.calldata

    # The real Rollup's calldata decoding, without a deployed contract behind it.
    @property
    def abi(self) -> Abi:
        return abi()

    def decode_commits(self, calldata: bytes) -> list[tuple[bytes, int, bytes]]:
        return Rollup.decode_commits(self, calldata)  # type: ignore[arg-type]

    def decode_commit(self, calldata: bytes, index: int = 0) -> tuple[bytes, int, bytes]:
        return Rollup.decode_commit(self, calldata, index)  # type: ignore[arg-type]


EVENT_ARGS = {
    "batch_number": 1,
    "old_root": 5,
    "new_root": 6,
    "batch_hash": b"\x00" * 32,
    "withdrawals_hash": b"\x00" * 32,
    "withdrawals": 0,
}


@pytest.mark.parametrize("prefix", ["selector", "none"])
@FUZZ
@given(body=st.binary(max_size=400))
def test_calldata_from_garbage(prefix: str, body: bytes) -> None:
    calldata = (abi().selector("commitBatches") if prefix == "selector" else b"") + body
    rollup = PublishedCall(calldata, dict(EVENT_ARGS))
    try:
        EvmBatchReader(rollup, PARAMS).decode(rollup)  # type: ignore[arg-type]
    except DataUnavailable:
        pass


@FUZZ
@given(
    st.lists(st.binary(max_size=200), max_size=3),
    st.lists(st.integers(0, 2**256 - 1), max_size=3),
    st.integers(0, 3),
)
def test_well_formed_calldata_with_garbage_batches(
    datas: list[bytes], roots: list[int], index: int
) -> None:
    calldata = abi().encode_call("commitBatches", datas, roots, [[0] * 8] * len(roots))
    root = roots[index] if index < len(roots) else 6
    digest = hashlib.sha256(datas[index] if index < len(datas) else b"").digest()
    rollup = PublishedCall(calldata, dict(EVENT_ARGS, new_root=root, batch_hash=digest))
    try:
        EvmBatchReader(rollup, PARAMS).decode(rollup, index)  # type: ignore[arg-type]
    except DataUnavailable:
        pass
