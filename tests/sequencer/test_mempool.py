"""L2Mempool admission rules and fair ordering."""

from __future__ import annotations

import pytest

from bitcoinzk.sequencer.mempool import AlreadyKnown, Entry, FeeTooLow, L2Mempool, MempoolFull
from bitcoinzk.spec import errors
from bitcoinzk.spec.state import State
from bitcoinzk.spec.types import UserOperation

from ..spec.helpers import PARAMS, genesis, transfer, withdraw


def admit(pool: L2Mempool, state: State, op: UserOperation) -> Entry:
    tx_hash = op.tx_hash(PARAMS.chain_id)
    pool.check(state, op, tx_hash)
    return pool.add(op, tx_hash, 0.0)


def test_order_is_fee_then_arrival_with_each_sender_in_nonce_order():
    state = genesis((100_000, 100_000, 100_000)).state()
    pool = L2Mempool(PARAMS)
    a0 = admit(pool, state, transfer(1, 2, 10, fee=1, nonce=0))
    a1 = admit(pool, state, transfer(1, 2, 10, fee=7, nonce=1))  # rich, but after a0
    b0 = admit(pool, state, transfer(2, 1, 10, fee=5, nonce=0))
    c0 = admit(pool, state, transfer(3, 1, 10, fee=5, nonce=0))  # same fee as b0, later
    assert [e.tx_hash for e in pool.ordered()] == [e.tx_hash for e in (b0, c0, a0, a1)]
    assert [e.tx_hash for e in pool.ordered(limit=2)] == [b0.tx_hash, c0.tx_hash]


def test_pending_nonce_and_spend_count_towards_admission():
    state = genesis((10_000,)).state()
    pool = L2Mempool(PARAMS)
    admit(pool, state, transfer(1, 2, 6_000, fee=1, nonce=0))
    assert pool.pending_nonce(state, 1) == 1
    with pytest.raises(errors.WrongNonce, match="already used"):
        admit(pool, state, transfer(1, 2, 10, nonce=0))
    with pytest.raises(errors.WrongNonce):
        admit(pool, state, transfer(1, 2, 10, nonce=2))
    with pytest.raises(errors.InsufficientBalance, match="after pending spends"):
        admit(pool, state, transfer(1, 2, 4_000, fee=1, nonce=1))
    admit(pool, state, transfer(1, 2, 3_000, fee=1, nonce=1))


def test_rejections_change_nothing():
    state = genesis((10_000,)).state()
    pool = L2Mempool(PARAMS, min_fee=2, max_size=1)
    with pytest.raises(FeeTooLow):
        admit(pool, state, transfer(1, 2, 10, fee=1))
    with pytest.raises(errors.AmountOutOfRange):
        admit(pool, state, withdraw(1, 10))
    with pytest.raises(errors.UnknownAccount):
        admit(pool, state, transfer(3, 1, 10, fee=2))
    assert len(pool) == 0 and pool.spend == {} and pool.by_sender == {}
    op = transfer(1, 2, 10, fee=2)
    admit(pool, state, op)
    with pytest.raises(AlreadyKnown):
        admit(pool, state, op)
    with pytest.raises(MempoolFull):
        admit(pool, state, transfer(1, 2, 10, fee=2, nonce=1))


def test_dropping_a_sender_tail_releases_its_spend():
    state = genesis((100_000,)).state()
    pool = L2Mempool(PARAMS)
    entries = [admit(pool, state, transfer(1, 2, 1_000, fee=1, nonce=n)) for n in range(3)]
    dropped = pool.drop_sender_from(1, 1)
    assert {e.tx_hash for e in dropped} == {entries[1].tx_hash, entries[2].tx_hash}
    assert pool.spend[1] == 1_001 and pool.pending_nonce(state, 1) == 1
