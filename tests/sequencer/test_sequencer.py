"""Sequencer: blocks from the mempool, deposits once per outpoint, restarts."""

from __future__ import annotations

from pathlib import Path

import pytest

from bitcoinzk.sequencer.sequencer import GenesisMismatch, Sequencer, SequencerConfig
from bitcoinzk.sequencer.store import Store, StoredBlock
from bitcoinzk.spec.genesis import Genesis

from ..spec.helpers import PARAMS, account, genesis, key, transfer


def make(tmp_path: Path, gen: Genesis | None = None, max_block_txs: int | None = None) -> Sequencer:
    config = SequencerConfig(max_block_txs=max_block_txs)
    return Sequencer(Store(tmp_path / "node.sqlite"), gen or genesis(), config)


def produce(seq: Sequencer) -> StoredBlock:
    """The next block, which the test expects the mempool to fill."""
    block = seq.produce_block()
    assert block is not None
    return block


def test_block_takes_mempool_in_order_and_resolves_new_recipients(tmp_path):
    seq = make(tmp_path)
    ops = [transfer(1, 2, 1_000), transfer(1, 5, 500, nonce=1)]  # key(5) has no account yet
    results = seq.admit([(op, op.tx_hash(PARAMS.chain_id)) for op in ops])
    assert all(r.error is None for r in results)
    block = seq.produce_block()
    assert block is not None and block.number == 1 and len(block.ops) == 2
    new_index = seq.state.index_of(key(5).public_key())
    assert new_index is not None and new_index == block.ops[1]["recipient"]
    assert account(seq.state, new_index).balance == 500
    receipt = seq.store.get_receipt(results[1].tx_hash)
    assert receipt is not None and receipt.status == "included"
    assert len(seq.mempool) == 0 and seq.produce_block() is None


def test_deposit_is_credited_once_per_outpoint(tmp_path):
    seq = make(tmp_path)
    recipient = key(6).public_key().to_bytes()
    first = seq.credit_deposit(recipient, 50_000, "ab" * 32, 1)
    assert seq.credit_deposit(recipient, 50_000, "ab" * 32, 1) == first
    seq.produce_block()
    assert seq.credit_deposit(recipient, 50_000, "ab" * 32, 1) == first  # after inclusion too
    assert seq.produce_block() is None
    index = seq.state.index_of(key(6).public_key())
    assert index is not None and account(seq.state, index).balance == 50_000


def test_block_size_cap_leaves_the_rest_for_the_next_block(tmp_path):
    seq = make(tmp_path, max_block_txs=2)
    ops = [transfer(1, 2, 10, nonce=n) for n in range(3)]
    seq.admit([(op, op.tx_hash(PARAMS.chain_id)) for op in ops])
    assert len(produce(seq).ops) == 2
    assert len(produce(seq).ops) == 1


def test_restart_keeps_mempool_state_and_head(tmp_path):
    seq = make(tmp_path)
    first = transfer(1, 2, 10)
    seq.admit([(first, first.tx_hash(PARAMS.chain_id))])
    seq.produce_block()
    pending = transfer(1, 2, 20, nonce=1)
    seq.admit([(pending, pending.tx_hash(PARAMS.chain_id))])
    root, head = seq.state.root, seq.head
    seq.store.close()
    again = make(tmp_path)
    assert (again.state.root, again.head) == (root, head)
    assert pending.tx_hash(PARAMS.chain_id) in again.mempool.entries
    assert produce(again).number == head + 1


def test_data_dir_of_another_chain_is_refused(tmp_path):
    make(tmp_path).store.close()
    with pytest.raises(GenesisMismatch):
        make(tmp_path, gen=genesis((1, 2, 3)))


def test_forced_withdrawals_go_first_one_per_block_in_queue_order_across_restarts(tmp_path):
    from dataclasses import replace

    from tests.spec.test_forced import forced

    seq = make(tmp_path)
    first, second = forced(), replace(forced(amount=5_000, nonce=1), index=1)
    assert seq.add_forced(second) and seq.add_forced(first)
    seq.admit([(op, op.tx_hash(PARAMS.chain_id)) for op in [transfer(2, 1, 1_000)]])
    assert seq.block_due(now=0.0)  # a waiting request makes a block due at once
    block = produce(seq)
    assert [op["type"] for op in block.ops] == ["forced_withdraw", "transfer"]
    assert block.ops[0]["index"] == 0 and seq.forced_next == 1
    seq.store.close()
    restarted = make(tmp_path)
    assert restarted.forced_next == 1
    assert not restarted.add_forced(first)  # already in a block: the event is read again
    assert restarted.add_forced(second)
    block = produce(restarted)
    assert [(op["type"], op["index"]) for op in block.ops] == [("forced_withdraw", 1)]
    assert restarted.produce_block() is None
