"""`Rollup.settled_batch_matches`: "the contract holds this very block as batch n".

Real proofs of real blocks (conftest) on embedded py-evm and on anvil: batches
committed one per transaction and two in one transaction, looked up with the
settlement block as a hint, with a wrong hint, and without one; a block that is
not the contract's batch n (another block 1, a batch the contract does not have)
never matches.
"""

from __future__ import annotations

from bitcoinzk.settlement.evm.client import EvmClient
from bitcoinzk.settlement.evm.rollup import Rollup, deploy

from .conftest import PARAMS, Batches, ProvenBlock


def _matches(rollup: Rollup, number: int, block: ProvenBlock, hint: int | None = None) -> bool:
    trace = block.result.trace
    return rollup.settled_batch_matches(
        number, block.batch_data, trace.old_root, trace.new_root, hint
    )


def test_one_batch_per_transaction(client: EvmClient, batches: Batches) -> None:
    rollup = deploy(client, batches.vk, PARAMS, batches.genesis.root)
    b1, b2 = batches.blocks
    assert not _matches(rollup, 1, b1)
    r1 = rollup.commit_batch(b1.batch_data, b1.new_root, b1.proof)
    r2 = rollup.commit_batch(b2.batch_data, b2.new_root, b2.proof)
    for hint in (None, r2.block_number):  # batch 2 opens its transaction: c_1 from storage
        assert _matches(rollup, 2, b2, hint)
    assert _matches(rollup, 1, b1, r1.block_number)
    assert _matches(rollup, 1, b1, r2.block_number)  # a wrong hint reads every event
    assert not _matches(rollup, 2, b1, r2.block_number)  # the contract's 2 is not this
    assert not _matches(rollup, 1, batches.forked)  # a block 1 of another genesis
    assert not _matches(rollup, 3, b2)  # a batch the contract does not have


def test_two_batches_in_one_transaction(client: EvmClient, batches: Batches) -> None:
    rollup = deploy(client, batches.vk, PARAMS, batches.genesis.root)
    b1, b2 = batches.blocks
    receipts = rollup.commit_batches([(b.batch_data, b.new_root, b.proof) for b in (b1, b2)])
    block = receipts[0].block_number
    for hint in (None, block):
        assert _matches(rollup, 1, b1, hint)  # c_1 is not stored: checked through c_2
        assert _matches(rollup, 2, b2, hint)  # c_1 from the same transaction's event
    assert not _matches(rollup, 1, batches.forked, block)
