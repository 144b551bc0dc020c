"""A full node cannot be fooled: events + calldata alone rebuild the committed roots."""

from __future__ import annotations

import pytest

from bitcoinzk.da.evm import EvmBatchReader, ReplayMismatch, replay_block
from bitcoinzk.settlement.evm.client import EmbeddedClient
from bitcoinzk.settlement.evm.rollup import deploy
from tests.settlement.evm.conftest import PARAMS, Batches, batches  # noqa: F401  (session fixture)


def test_rebuilds_state_from_events_and_calldata(tmp_path, batches: Batches) -> None:  # noqa: F811
    client = EmbeddedClient(tmp_path / "chain.sqlite")
    rollup = deploy(client, batches.vk, PARAMS, batches.genesis.root)
    for block in batches.blocks:
        rollup.commit_batch(block.batch_data, block.new_root, block.proof)
    reader = EvmBatchReader(rollup, PARAMS)
    published = list(reader.batches())
    assert [b.batch_number for b in published] == [1, 2]
    for b in published:
        assert b.new_root == rollup.root_of(b.batch_number)
        assert b.batch_hash == rollup.batch_hash_of(b.batch_number)
        assert b.withdrawals_hash == rollup.withdrawals_hash_of(b.batch_number)
    assert [w.amount for w in published[1].withdrawals] == [20_000]
    state = reader.rebuild(batches.genesis)
    assert state.root == rollup.state_root() == batches.blocks[-1].new_root
    client.close()


def test_replay_refuses_data_that_does_not_reach_the_root(batches: Batches) -> None:  # noqa: F811
    from dataclasses import replace

    from bitcoinzk.da.evm import PublishedBatch

    block = batches.blocks[0]
    good = PublishedBatch(
        1,
        batches.genesis.root,
        block.new_root,
        block.result.pubdata,
        block.proof,
        b"",
        b"",
        (),
        b"",
        0,
    )
    assert replay_block(batches.genesis, PARAMS, good).root == block.new_root
    with pytest.raises(ReplayMismatch):
        replay_block(batches.genesis, PARAMS, replace(good, new_root=good.new_root ^ 1))
    with pytest.raises(ReplayMismatch):
        replay_block(
            batches.genesis, PARAMS, replace(good, pubdata=batches.blocks[1].result.pubdata)
        )
