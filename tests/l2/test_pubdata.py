from hypothesis import given, settings
from hypothesis import strategies as st

from bitcoinzk.l2.floats import FLOAT5, FLOAT24
from bitcoinzk.l2.pubdata import (
    BlockPubdata,
    PubdataError,
    PubdataOp,
    decode_op,
    public_input,
    public_input_preimage,
)
from bitcoinzk.l2.types import OP_DEPOSIT, OP_TRANSFER, OP_TRANSFER_NEW, OP_WITHDRAW

from .helpers import PARAMS, key

index = st.integers(0, 2**24 - 1)
fee = st.builds(lambda m, e: m * 10**e, st.integers(0, 7), st.integers(0, 3))
amount24 = st.builds(lambda m, e: m * 10**e, st.integers(1, 2**20 - 1), st.integers(0, 9))
exact = st.integers(1, 2**63)
pubkeys = st.sampled_from([key(i).public_key() for i in range(4)])

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
        exact,
        pubkeys,
        st.binary(min_size=32, max_size=32),
        st.integers(0, 2**32 - 1),
    ),
    st.builds(
        lambda s, a, f, spk: PubdataOp(OP_WITHDRAW, s, 0, a, f, script_pubkey=spk),
        index,
        exact,
        fee,
        st.binary(min_size=1, max_size=42),
    ),
)


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


@settings(max_examples=200)
@given(st.lists(ops, max_size=12))
def test_block_pubdata_round_trip(items):
    pubdata = BlockPubdata.from_ops(items)
    assert pubdata.ops() == items
    again = BlockPubdata.from_bytes(pubdata.to_bytes())
    assert again == pubdata
    assert BlockPubdata.from_ops(again.ops()) == pubdata


@given(st.binary(min_size=10, max_size=10), st.binary(min_size=108, max_size=108))
def test_hostile_bytes_decode_or_raise_pubdata_error(chunk, record):
    try:
        op = decode_op(chunk, record)
    except PubdataError:
        return
    re_chunk, _ = op.encode()
    assert re_chunk == chunk


def test_truncated_pubdata_is_rejected():
    raw = BlockPubdata.from_ops([PubdataOp(OP_TRANSFER, 1, 2, 10, 1)]).to_bytes()
    for cut in (1, 3, len(raw) - 1):
        try:
            BlockPubdata.from_bytes(raw[:cut])
        except PubdataError:
            continue
        raise AssertionError("truncated pubdata decoded")


def test_public_input_binds_everything_and_fits_the_field():
    pubdata = BlockPubdata.from_ops([PubdataOp(OP_TRANSFER, 1, 2, 10, 1)])
    pre = public_input_preimage(PARAMS, 3, 11, 22, pubdata)
    assert len(pre) == 4 + 8 + 32 + 32 + 3 + PARAMS.block_slots * 10 + PARAMS.block_records * 108
    base = public_input(PARAMS, 3, 11, 22, pubdata)
    assert base < 2**253
    assert base != public_input(PARAMS, 4, 11, 22, pubdata)
    assert base != public_input(PARAMS, 3, 12, 22, pubdata)
    assert base != public_input(PARAMS, 3, 11, 23, pubdata)
    other = BlockPubdata.from_ops([PubdataOp(OP_TRANSFER, 1, 2, 10, 2)])
    assert base != public_input(PARAMS, 3, 11, 22, other)
