"""Fuzz the Layer-2 decoders (issue 11 §7): pubdata bytes and user operations in JSON.

Every input either decodes or raises the decoder's typed error (PubdataError,
MalformedOperation); what decodes is canonical (it re-encodes to the same bytes), so
no two encodings mean the same thing.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bitcoinzk.safejson import loads
from bitcoinzk.spec.errors import MalformedOperation
from bitcoinzk.spec.params import CHUNK_BYTES, OUTPOINT_BYTES, RECORD_BYTES
from bitcoinzk.spec.pubdata import BlockPubdata, PubdataError, decode_op
from bitcoinzk.spec.types import Transfer, Withdraw, op_from_json, user_op_from_json

from .helpers import PARAMS, key, transfer, withdraw

FUZZ = settings(max_examples=200, deadline=None, derandomize=True)

HUGE = [2**63, 2**64, -(2**64), 2**256, -1, 10**30, 2**24, 2**53 + 1]

# Hostile JSON values: wrong types, huge and negative numbers, odd strings, nesting.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(HUGE),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=80),
    st.sampled_from(["", "0x", "0x" + "00" * 32, "zz", " ab", "ab " * 32, "\u0661", "latest"]),
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = ["type", "sender", "recipient", "recipient_pubkey", "amount", "fee", "nonce"]
FIELDS += ["signature", "script_pubkey", "pubkey", "txid", "vout"]


@st.composite
def mutated_ops(draw: st.DrawFn) -> dict[str, Any]:
    """A valid signed operation's JSON with some fields replaced by hostile values."""
    base: dict[str, Any] = draw(
        st.sampled_from(
            [
                transfer(1, 2, 1_000).to_json(),
                withdraw(1, 5_000, nonce=2).to_json(),
                transfer(2, 3, 500, dst_index=3).to_json(),
            ]
        )
    )
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
        if draw(st.booleans()):
            base[name] = draw(json_values)
        else:
            base.pop(name, None)
    return base


@FUZZ
@given(st.binary(max_size=CHUNK_BYTES + 1), st.none() | st.binary(max_size=RECORD_BYTES + 1))
@example(b"\x20" + bytes(9), bytes(RECORD_BYTES))  # DEPOSIT without an outpoint
def test_decode_op_accepts_only_canonical_slots(chunk: bytes, record: bytes | None) -> None:
    outpoint = bytes(OUTPOINT_BYTES) if chunk[:1] and chunk[0] >> 5 == 1 else None
    try:
        op = decode_op(chunk, record, outpoint)
    except PubdataError:
        return
    assert op.encode() == (chunk, record)


@FUZZ
@given(st.binary(max_size=400))
def test_block_pubdata_from_garbage(raw: bytes) -> None:
    try:
        pubdata = BlockPubdata.from_bytes(raw)
        ops = pubdata.ops()
    except PubdataError:
        return
    assert pubdata.to_bytes() == raw
    assert BlockPubdata.from_ops(ops) == pubdata


@FUZZ
@given(st.data())
def test_mutating_valid_pubdata(data: st.DataObject) -> None:
    from bitcoinzk.spec.pubdata import pubdata_op

    ops = [
        pubdata_op(transfer(1, 2, 1_000), False),
        pubdata_op(transfer(2, 3, 500, dst_index=3), True),
        pubdata_op(withdraw(1, 5_000, nonce=2), False),
    ]
    raw = bytearray(BlockPubdata.from_ops(ops).to_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    raw = raw[:cut] if data.draw(st.booleans()) else raw
    try:
        pubdata = BlockPubdata.from_bytes(bytes(raw))
        pubdata.ops()
    except PubdataError:
        return
    assert pubdata.to_bytes() == bytes(raw)


@FUZZ
@given(json_values | mutated_ops())
def test_user_operations_from_hostile_json(value: Any) -> None:
    try:
        op = user_op_from_json(value)
    except MalformedOperation:
        return
    assert isinstance(op, Transfer | Withdraw)
    # What parses is in range for its encoding and survives its own JSON form.
    assert user_op_from_json(op.to_json()) == op
    assert 0 <= op.sender < 2**24 and 0 <= op.amount < 2**64 and 0 <= op.fee < 2**64
    op.message(PARAMS.chain_id)


@FUZZ
@given(json_values | mutated_ops())
def test_stored_operations_from_hostile_json(value: Any) -> None:
    if not isinstance(value, dict):
        return
    try:
        op_from_json(value)
    except MalformedOperation:
        pass


@FUZZ
@given(mutated_ops())
def test_operations_through_the_rpc_json_loader(value: dict[str, Any]) -> None:
    # The same objects as they arrive: text, through the bounded loader.
    try:
        user_op_from_json(loads(json.dumps(value)))
    except MalformedOperation:
        pass


def test_deposits_cannot_be_submitted() -> None:
    deposit = {
        "type": "deposit",
        "recipient": 1,
        "pubkey": key(1).public_key().hex(),
        "amount": 1,
        "txid": "00" * 32,
        "vout": 0,
    }
    try:
        user_op_from_json(deposit)
    except MalformedOperation:
        return
    raise AssertionError("a user submitted a deposit")
