"""Forced withdrawals through commitBatch with real proofs on py-evm: the queued request is
processed in order, executed or provably rejected, and every attack on the queue reverts
with the contract unchanged (docs/protocol.md, "Forced withdrawals")."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import groth16py
import pytest

from bitcoinzk.crypto.eddsa import PrivateKey, Signature
from bitcoinzk.da.batch import withdrawals
from bitcoinzk.da.evm import EvmBatchReader
from bitcoinzk.settlement.evm.client import EmbeddedClient
from bitcoinzk.settlement.evm.rollup import (
    ForcedNotProcessed,
    InvalidProof,
    Rollup,
    deploy,
)
from bitcoinzk.spec.errors import InvalidSignature, WrongNonce
from bitcoinzk.spec.state import State
from bitcoinzk.spec.stf import BlockResult, apply_block
from bitcoinzk.spec.types import ForcedWithdraw, Operation, Transfer, Withdraw
from tests.settlement.evm.conftest import (
    ALICE,
    BOB,
    PARAMS,
    SPK,
    Batches,
    _prove_cached,
)

DEADLINE = 120


@dataclass
class Chain:
    """A rollup on py-evm and the sequencer's view of the Layer-2 state."""

    rollup: Rollup
    client: EmbeddedClient
    batches: Batches
    state: State
    number: int
    pk_box: list[groth16py.ProvingKey]

    def block(self, ops: list[Operation]) -> BlockResult:
        return apply_block(self.state, PARAMS, self.number + 1, ops)

    def proof(self, result: BlockResult) -> bytes:
        return _prove_cached(self.batches.files, self.batches.vk, result, self.pk_box)

    def commit(self, result: BlockResult) -> None:
        self.rollup.commit_batch(
            result.pubdata.to_bytes(), result.trace.new_root, self.proof(result)
        )
        self.state = result.state
        self.number += 1

    def snapshot(self) -> dict[str, Any]:
        return {
            **self.rollup.snapshot(),
            "forced": (self.rollup.forced_head(), self.rollup.forced_tail()),
        }

    def advance(self, seconds: int) -> None:
        self.client.chain.env.time_travel(seconds=seconds)


@pytest.fixture
def chain(batches: Batches) -> Iterator[Chain]:
    client = EmbeddedClient()
    rollup = deploy(client, batches.vk, PARAMS, batches.genesis.root, forced_deadline=DEADLINE)
    yield Chain(rollup, client, batches, batches.genesis, 0, [])
    client.close()


def signed(
    amount: int = 20_000, nonce: int = 0, key: PrivateKey = ALICE, sender: int = 1
) -> ForcedWithdraw:
    w = Withdraw(sender, SPK, amount, 10, nonce).signed(key, PARAMS.chain_id)
    assert w.signature is not None
    return ForcedWithdraw(0, sender, SPK, amount, 10, nonce, w.signature)


def queue(chain: Chain, request: ForcedWithdraw) -> ForcedWithdraw:
    receipt = chain.rollup.force_withdraw(request)
    return replace(request, index=receipt.index)


def transfer(nonce: int = 0) -> Transfer:
    return Transfer(2, 1, ALICE.public_key(), 1_000, 0, nonce).signed(BOB, PARAMS.chain_id)


def test_executed_request_is_paid_and_a_replay_withdraws_nothing(chain: Chain) -> None:
    """Attack 1: the same signed withdrawal queued again is rejected by its nonce."""
    first = queue(chain, signed())
    block = chain.block([first, transfer()])
    chain.commit(block)
    assert chain.rollup.forced_head() == 1
    (paid,) = withdrawals(block.pubdata)
    assert (paid.sender, paid.amount, paid.script_pubkey) == (1, 20_000, SPK)
    assert chain.rollup.committed_batch(1).withdrawals == 1
    processed = [e.args for e in chain.rollup.events() if e.name == "ForcedWithdrawalProcessed"]
    assert [(p["index"], p["batch_number"], p["executed"]) for p in processed] == [(0, 1, True)]

    replay = queue(chain, signed())
    again = chain.block([replay])
    assert isinstance(again.trace.slots[0].rejected, WrongNonce)
    chain.commit(again)
    assert chain.rollup.committed_batch(2).withdrawals == 0
    assert chain.rollup.forced_head() == 2 and not chain.rollup.forced_due()
    alice = chain.state.get(1)
    assert alice is not None and alice.balance == 5_000_000 - 20_010 + 1_000
    # a reader of the chain alone rebuilds the same state, forced blocks included
    reader = EvmBatchReader(chain.rollup, PARAMS)
    assert reader.rebuild(chain.batches.genesis).root == chain.state.root
    assert [b.forced for b in reader.batches()] == [first, replay]


def test_garbage_signature_is_provably_rejected_so_no_exodus(chain: Chain) -> None:
    """Attack 2: a request anyone can queue with a signature that does not verify."""
    good = signed()
    garbage = queue(
        chain, replace(good, signature=Signature(good.signature.r8x, good.signature.r8y, 12345))
    )
    block = chain.block([garbage])
    assert isinstance(block.trace.slots[0].rejected, InvalidSignature)
    chain.commit(block)
    chain.advance(DEADLINE + 1)
    assert not chain.rollup.forced_due()
    assert chain.state.get(1) == chain.batches.genesis.get(1)


def test_a_batch_skipping_a_due_request_reverts(chain: Chain) -> None:
    """Attack 3: the sequencer keeps committing blocks that ignore the queue."""
    queue(chain, signed())
    chain.commit(chain.block([transfer(0)]))  # not due yet: a block may leave it waiting
    chain.advance(DEADLINE + 1)
    assert chain.rollup.forced_due()
    skipping = chain.block([transfer(1)])
    before = chain.snapshot()
    with pytest.raises(ForcedNotProcessed, match="due forced withdrawal is not processed"):
        chain.commit(skipping)
    assert chain.snapshot() == before


def test_blocks_proven_before_a_request_commit_with_the_block_that_processes_it(
    chain: Chain,
) -> None:
    """Liveness: the due check is per commit, so a block built before the request arrived
    goes through together with the next block, which processes the request."""
    request = queue(chain, signed())
    earlier = chain.block([transfer(0)])
    later = apply_block(earlier.state, PARAMS, chain.number + 2, [request])
    chain.advance(DEADLINE + 1)
    receipts = chain.rollup.commit_batches(
        [(r.pubdata.to_bytes(), r.trace.new_root, chain.proof(r)) for r in (earlier, later)]
    )
    assert len(receipts) == 2 and chain.rollup.forced_head() == 1
    assert not chain.rollup.forced_due()


def test_a_batch_processing_requests_out_of_order_reverts(chain: Chain) -> None:
    """Attack 3: the second request processed before the first."""
    queue(chain, signed())
    second = queue(chain, signed(amount=30_000, key=BOB, sender=2))
    before = chain.snapshot()
    with pytest.raises(InvalidProof):
        chain.commit(chain.block([second]))
    assert chain.snapshot() == before


def test_a_batch_substituting_another_request_reverts(chain: Chain) -> None:
    """Attack 4: the block claims the queued request but proves another (the user signed
    both; the sequencer executes the cheaper one)."""
    queued = queue(chain, signed(amount=50_000))
    substitute = replace(signed(amount=20_000), index=queued.index)
    before = chain.snapshot()
    with pytest.raises(InvalidProof):
        chain.commit(chain.block([substitute]))
    assert chain.snapshot() == before


def test_a_forced_op_with_nothing_queued_reverts(chain: Chain) -> None:
    before = chain.snapshot()
    with pytest.raises(ForcedNotProcessed, match="no forced withdrawal is queued"):
        chain.commit(chain.block([signed()]))
    assert chain.snapshot() == before
