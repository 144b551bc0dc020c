import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitcoinzk.crypto.babyjub import P
from bitcoinzk.spec.floats import FLOAT5, FLOAT24
from bitcoinzk.spec.params import MAX_SATS, OUTPOINT_BYTES, RECORD_BYTES
from bitcoinzk.spec.pubdata import (
    BlockPubdata,
    PubdataError,
    PubdataOp,
    decode_op,
    public_input,
    public_input_preimage,
)
from bitcoinzk.spec.types import OP_DEPOSIT, OP_TRANSFER, OP_TRANSFER_NEW, OP_WITHDRAW

from .helpers import PARAMS, key

index = st.integers(0, 2**24 - 1)
fee = st.builds(lambda m, e: m * 10**e, st.integers(0, 7), st.integers(0, 3))
amount24 = st.builds(lambda m, e: m * 10**e, st.integers(1, 2**20 - 1), st.integers(0, 9))
deposit_amount = st.integers(1, MAX_SATS)
withdraw_amount = st.integers(0, 2**48 - 1)
pubkeys = st.sampled_from([key(i).public_key() for i in range(4)])
txids = st.binary(min_size=32, max_size=32)
vouts = st.integers(0, 2**32 - 1)

ops = st.one_of(
    st.builds(lambda s, r, a, f: PubdataOp(OP_TRANSFER, s, r, a, f), index, index, amount24, fee),
    st.builds(
        lambda s, r, a, f, k: PubdataOp(OP_TRANSFER_NEW, s, r, a, f, pubkey=k),
        index,
        index,
        amount24,
        fee,
        pubkeys,
    ),
    st.builds(
        lambda r, a, k, t, v: PubdataOp(OP_DEPOSIT, 0, r, a, 0, k, t, v),
        index,
        deposit_amount,
        pubkeys,
        txids,
        vouts,
    ),
    st.builds(
        lambda s, a, f, spk: PubdataOp(OP_WITHDRAW, s, 0, a, f, script_pubkey=spk),
        index,
        withdraw_amount,
        fee,
        st.binary(min_size=1, max_size=34),
    ),
)

TXID = bytes(range(32))
DEPOSIT = PubdataOp(OP_DEPOSIT, 0, 0xABCDEF, MAX_SATS, 0, key(1).public_key(), TXID, 0x01020304)
WITHDRAW = PubdataOp(OP_WITHDRAW, 0x010203, 0, 2**48 - 1, 70, script_pubkey=b"\x51\x20" + TXID)
NEW = PubdataOp(OP_TRANSFER_NEW, 1, 2, 10, 1, pubkey=key(2).public_key())


def test_transfer_is_ten_bytes():
    chunk, record = PubdataOp(OP_TRANSFER, 5, 9, 123_000, 3).encode()
    assert len(chunk) == 10 and record is None


def test_chunk_layout_is_as_documented():
    chunk, _ = PubdataOp(OP_TRANSFER, 0x010203, 0x040506, 1_000, 7).encode()
    value = int.from_bytes(chunk, "big")
    assert value >> 77 == OP_TRANSFER
    assert FLOAT5.decode((value >> 72) & 0x1F) == 7
    assert (value >> 48) & 0xFFFFFF == 0x010203
    assert (value >> 24) & 0xFFFFFF == 0x040506
    assert FLOAT24.decode(value & 0xFFFFFF) == 1_000


def test_deposit_layout_is_as_documented():
    """op:3 | amount_hi:29 | to:24 | amount_lo:24; record = packed key || 3 zeros;
    outpoint = txid || vout."""
    chunk, record = DEPOSIT.encode()
    value = int.from_bytes(chunk, "big")
    assert value >> 77 == OP_DEPOSIT
    assert ((value >> 48) & (2**29 - 1)) << 24 | (value & 0xFFFFFF) == MAX_SATS
    assert (value >> 24) & 0xFFFFFF == 0xABCDEF
    assert record == key(1).public_key().to_bytes() + bytes(3)
    assert len(record) == RECORD_BYTES == 35
    assert DEPOSIT.outpoint_bytes() == TXID + bytes([1, 2, 3, 4])
    assert len(TXID + bytes(4)) == OUTPOINT_BYTES


def test_withdraw_layout_is_as_documented():
    """op:3 | fee:5 | from:24 | amount:48; record = len || script || zeros."""
    chunk, record = WITHDRAW.encode()
    value = int.from_bytes(chunk, "big")
    assert value >> 77 == OP_WITHDRAW
    assert FLOAT5.decode((value >> 72) & 0x1F) == 70
    assert (value >> 48) & 0xFFFFFF == 0x010203
    assert value & (2**48 - 1) == 2**48 - 1
    assert chunk[4:] == (2**48 - 1).to_bytes(6, "big")  # the contract hashes these 6 bytes
    assert record == bytes([34]) + b"\x51\x20" + TXID
    assert WITHDRAW.outpoint_bytes() is None


def test_transfer_new_record_is_the_packed_key():
    _, record = NEW.encode()
    assert record == key(2).public_key().to_bytes() + bytes(3)


@settings(max_examples=200)
@given(st.lists(ops, max_size=12))
def test_block_pubdata_round_trip(items):
    pubdata = BlockPubdata.from_ops(items)
    n_deposits = sum(p.op == OP_DEPOSIT for p in items)
    assert len(pubdata.outpoints) == OUTPOINT_BYTES * n_deposits
    assert pubdata.ops() == items
    raw = pubdata.to_bytes()
    assert raw[4:].startswith(pubdata.chunks + pubdata.records)
    assert raw.endswith(pubdata.outpoints)
    again = BlockPubdata.from_bytes(raw)
    assert again == pubdata
    assert BlockPubdata.from_ops(again.ops()) == pubdata


@given(
    st.binary(min_size=10, max_size=10),
    st.none() | st.binary(min_size=35, max_size=35),
    st.none() | st.binary(min_size=36, max_size=36),
)
def test_hostile_bytes_decode_or_raise_pubdata_error(chunk, record, outpoint):
    try:
        op = decode_op(chunk, record, outpoint)
    except PubdataError:
        return
    assert op.encode() == (chunk, record)
    assert op.outpoint_bytes() == outpoint


@given(st.sampled_from([OP_DEPOSIT, OP_TRANSFER_NEW]), st.binary(min_size=35, max_size=35))
def test_hostile_key_records_decode_or_raise_pubdata_error(op, record):
    chunk = bytes([op << 5]) + bytes(9)
    try:
        decoded = decode_op(chunk, record, TXID + bytes(4) if op == OP_DEPOSIT else None)
    except PubdataError:
        return
    assert decoded.encode()[1] == record


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_hostile_block_bytes_raise_only_pubdata_error(raw):
    try:
        pubdata = BlockPubdata.from_bytes(raw)
        ops_ = pubdata.ops()
    except PubdataError:
        return
    assert BlockPubdata.from_ops(ops_).to_bytes() == raw


@settings(max_examples=100)
@given(st.lists(ops, min_size=1, max_size=6), st.data())
def test_mutated_block_bytes_raise_only_pubdata_error(items, data):
    raw = bytearray(BlockPubdata.from_ops(items).to_bytes())
    at = data.draw(st.integers(0, len(raw) - 1))
    raw[at] ^= data.draw(st.integers(1, 255))
    cut = data.draw(st.integers(0, len(raw)))
    for candidate in (bytes(raw), bytes(raw[:cut])):
        try:
            ops_ = BlockPubdata.from_bytes(candidate).ops()
        except PubdataError:
            continue
        assert BlockPubdata.from_ops(ops_).to_bytes() == candidate


def _record(op: PubdataOp) -> bytearray:
    record = op.encode()[1]
    assert record is not None
    return bytearray(record)


def test_key_record_rejections():
    chunk = NEW.encode()[0]
    good = _record(NEW)
    assert decode_op(chunk, bytes(good)) == NEW
    padded = bytearray(good)
    padded[34] = 1
    not_canonical = bytearray((P + 1).to_bytes(32, "little") + bytes(3))  # y >= r
    off_curve = None
    for y in range(2, 100):  # a y with no x on the curve
        candidate = y.to_bytes(32, "little") + bytes(3)
        try:
            decode_op(chunk, candidate)
        except PubdataError:
            off_curve = candidate
            break
    assert off_curve is not None
    for bad in (padded, not_canonical, off_curve):
        with pytest.raises(PubdataError):
            decode_op(chunk, bytes(bad))
        with pytest.raises(PubdataError):
            decode_op(DEPOSIT.encode()[0], bytes(bad), DEPOSIT.outpoint_bytes())


def test_withdraw_record_rejections():
    chunk = WITHDRAW.encode()[0]
    good = _record(WITHDRAW)
    assert decode_op(chunk, bytes(good)) == WITHDRAW
    short = PubdataOp(OP_WITHDRAW, 1, 0, 5_000, 1, script_pubkey=b"\x51")
    tail = _record(short)
    tail[5] = 1  # a byte after the script
    zero_len = bytearray(35)
    too_long = bytearray([35]) + bytearray(34)
    for bad in (tail, zero_len, too_long):
        with pytest.raises(PubdataError):
            decode_op(short.encode()[0], bytes(bad))
    for script in (b"", bytes(35)):
        with pytest.raises(PubdataError):
            PubdataOp(OP_WITHDRAW, 1, 0, 5_000, 1, script_pubkey=script).encode()
    with pytest.raises(PubdataError):
        PubdataOp(OP_WITHDRAW, 1, 0, 2**48, 1, script_pubkey=b"\x51").encode()


def test_record_and_outpoint_presence_is_checked():
    chunk, record = DEPOSIT.encode()
    outpoint = DEPOSIT.outpoint_bytes()
    assert outpoint is not None
    with pytest.raises(PubdataError):
        decode_op(chunk, record, None)  # deposit without its outpoint
    with pytest.raises(PubdataError):
        decode_op(chunk, record, outpoint[:35])
    with pytest.raises(PubdataError):
        decode_op(chunk, None, outpoint)  # deposit without its record
    transfer_chunk, _ = PubdataOp(OP_TRANSFER, 1, 2, 10, 1).encode()
    with pytest.raises(PubdataError):
        decode_op(transfer_chunk, None, outpoint)  # outpoint on a transfer
    with pytest.raises(PubdataError):
        decode_op(transfer_chunk, record)  # record on a plain transfer


def test_outpoints_must_match_the_deposits():
    pubdata = BlockPubdata.from_ops([DEPOSIT, NEW, WITHDRAW, DEPOSIT])
    assert len(pubdata.outpoints) == 2 * OUTPOINT_BYTES
    raw = pubdata.to_bytes()
    for bad in (raw[:-1], raw[:-OUTPOINT_BYTES], raw + bytes(OUTPOINT_BYTES), raw + b"\x00"):
        with pytest.raises(PubdataError):
            BlockPubdata.from_bytes(bad)
    for outpoints in (b"", pubdata.outpoints[:36], pubdata.outpoints + bytes(36), b"\x00"):
        with pytest.raises(PubdataError):
            BlockPubdata(pubdata.chunks, pubdata.records, outpoints).ops()
    no_deposit = BlockPubdata.from_ops([NEW]).to_bytes()
    with pytest.raises(PubdataError):
        BlockPubdata.from_bytes(no_deposit + bytes(OUTPOINT_BYTES))


def test_truncated_pubdata_is_rejected():
    raw = BlockPubdata.from_ops([PubdataOp(OP_TRANSFER, 1, 2, 10, 1)]).to_bytes()
    for cut in (1, 3, len(raw) - 1):
        try:
            BlockPubdata.from_bytes(raw[:cut])
        except PubdataError:
            continue
        raise AssertionError("truncated pubdata decoded")


def test_preimage_layout():
    pubdata = BlockPubdata.from_ops(
        [DEPOSIT, PubdataOp(OP_TRANSFER, 1, 2, 10, 1), WITHDRAW], forced_digest=0xABC
    )
    pre = public_input_preimage(PARAMS, 3, 11, 22, pubdata)
    header = 4 + 8 + 32 + 32 + 3 + 16
    assert pre[header - 16 : header] == (0xABC).to_bytes(16, "big")
    assert len(pre) == header + 32 + PARAMS.block_slots * 10 + PARAMS.block_records * 35
    assert pre[header : header + 32] == hashlib.sha256(pubdata.outpoints).digest()
    chunks_at = header + 32
    records_at = chunks_at + PARAMS.block_slots * 10
    assert pre[chunks_at : chunks_at + 30] == pubdata.chunks
    assert not any(pre[chunks_at + 30 : records_at])
    assert pre[records_at : records_at + 70] == pubdata.records
    assert not any(pre[records_at + 70 :])
    empty = public_input_preimage(PARAMS, 3, 11, 22, BlockPubdata.from_ops([NEW]))
    assert empty[header : header + 32] == hashlib.sha256(b"").digest()


def test_public_input_binds_everything_and_fits_the_field():
    pubdata = BlockPubdata.from_ops([PubdataOp(OP_TRANSFER, 1, 2, 10, 1)])
    base = public_input(PARAMS, 3, 11, 22, pubdata)
    assert base < 2**253
    assert base != public_input(PARAMS, 4, 11, 22, pubdata)
    assert base != public_input(PARAMS, 3, 12, 22, pubdata)
    assert base != public_input(PARAMS, 3, 11, 23, pubdata)
    other = BlockPubdata.from_ops([PubdataOp(OP_TRANSFER, 1, 2, 10, 2)])
    assert base != public_input(PARAMS, 3, 11, 22, other)
    deposit = BlockPubdata.from_ops([DEPOSIT])
    moved = BlockPubdata.from_ops([PubdataOp(**{**DEPOSIT.__dict__, "vout": 5})])
    assert deposit.chunks == moved.chunks and deposit.records == moved.records
    assert public_input(PARAMS, 3, 11, 22, deposit) != public_input(PARAMS, 3, 11, 22, moved)
