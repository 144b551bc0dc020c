"""Exit claims read from the real Rollup contract's events and paid by the real signers.

The settlement tests' chain (real batch proofs, B2-E1-D6): batch 1, then batch 2 with
Bob's withdrawal. Exit proofs are real exit-circuit proofs. The bridge's BTC comes
from deposits recorded as a finalized batch (the Layer-2 side of those is not what is
tested here); everything about batches 1-2 and the exits is read from the contract.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bitcoinzk.bridge.fees import FeePolicy
from bitcoinzk.bridge.payout import FinalizedBatch, FinalizedWithdrawal, PayoutBuilder, Signer
from bitcoinzk.bridge.silver import SilverSettlementReader
from bitcoinzk.settlement.evm.anvil import DEV_KEYS, Anvil, _rpc
from bitcoinzk.settlement.evm.client import EmbeddedClient, EvmClient, Web3Client
from bitcoinzk.settlement.evm.exit.circuit import ExitShape, ensure_exit_keys
from bitcoinzk.settlement.evm.exit.claim import ExitClaim, build_exit, submit_exit
from bitcoinzk.settlement.evm.rollup import Rollup, deploy
from bitcoinzk.spec.state import State
from bitcoinzk.spec.types import ForcedWithdraw, Withdraw
from tests.settlement.evm.conftest import (  # noqa: F401  (fixtures)
    ALICE,
    BOB,
    CAROL,
    OPERATOR,
    PARAMS,
    Batches,
    batches,
    running_anvil,
)

from .conftest import RecordedSettlement, fund_bridge

DEADLINE = 120
OWNERS = {0: OPERATOR, 1: ALICE, 2: BOB, 3: CAROL}


@dataclass
class FundedSilver:
    """The signers' settlement: the contract's batches and exits, after a recorded batch 0
    of the deposits that fund the bridge."""

    silver: SilverSettlementReader
    funding: RecordedSettlement

    def finalized_batches(self) -> list[FinalizedBatch]:
        return self.funding.finalized_batches() + self.silver.finalized_batches()

    def finalized_exits(self) -> list[FinalizedWithdrawal]:
        return self.silver.finalized_exits()


@pytest.fixture
def funded(
    node, wallet, watcher, signer_set, signer_keys, store, tmp_path, fee
) -> tuple[RecordedSettlement, list[Signer], PayoutBuilder]:
    """10 M sats of reserves: more than the 7 M the Layer-2 accounts hold."""
    return fund_bridge(
        node, wallet, watcher, signer_set, signer_keys, store, tmp_path, fee, (5_000_000,) * 2
    )


def _in_exodus(client: EvmClient, proven: Batches, travel: Any) -> Rollup:
    """Batches 1 and 2 committed, Alice's ignored withdrawal queued, its deadline past,
    exodus started by someone who is not the sequencer."""
    rollup = deploy(client, proven.vk, PARAMS, proven.genesis.root, forced_deadline=DEADLINE)
    for block in proven.blocks:
        rollup.commit_batch(block.batch_data, block.new_root, block.proof)
    anyone = rollup.with_client(client.with_key(DEV_KEYS[1]))
    state = _final_state(proven)
    alice = state.get(1)
    assert alice is not None
    spk = bytes.fromhex("0014") + bytes(20)
    signed = Withdraw(1, spk, 5_000, 1, alice.nonce).signed(ALICE, PARAMS.chain_id)
    assert signed.signature is not None
    anyone.force_withdraw(ForcedWithdraw(0, 1, spk, 5_000, 1, alice.nonce, signed.signature))
    travel(DEADLINE + 1)
    anyone.activate_exodus()
    return anyone


def _final_state(proven: Batches) -> State:
    return proven.blocks[-1].result.state


def _claims(proven: Batches, wallet: Any) -> dict[int, ExitClaim]:
    state = _final_state(proven)
    keys = ensure_exit_keys(ExitShape(PARAMS.tree_depth))
    return {
        i: build_exit(state, i, key, wallet.new_key().script_pubkey, PARAMS.chain_id, keys)
        for i, key in OWNERS.items()
    }


def test_exits_are_paid_their_claims_once_and_earlier_withdrawals_never_again(
    node,
    wallet,
    funded,
    signer_set,
    batches: Batches,  # noqa: F811
    tmp_path: Path,
) -> None:
    funding, signers, builder = funded
    client = EmbeddedClient(tmp_path / "chain.sqlite")

    def travel(seconds: int) -> None:
        client.chain.env.evm.patch.timestamp += seconds

    rollup = _in_exodus(client, batches, travel)
    reader = SilverSettlementReader(rollup, PARAMS)
    settlement = FundedSilver(reader, funding)
    for s in signers:
        s.settlement = settlement
    # Bob's withdrawal of batch 2 is paid before anyone exits
    owed = [w for b in settlement.finalized_batches() for w in b.withdrawals]
    assert [str(w.id) for w in owed] == ["2:0"]
    first = builder.pay(owed, signers, fee_rate=2)
    assert first is not None
    node.mine(1)
    assert reader.finalized_exits() == []

    claims = _claims(batches, wallet)
    state = _final_state(batches)
    for claim in claims.values():
        submit_exit(rollup, claim)
    exits = reader.finalized_exits()
    assert {str(w.id): (w.amount, w.script_pubkey) for w in exits} == {
        f"exit:{i}": (c.balance, c.script_pubkey) for i, c in claims.items()
    }
    # exactly the proven balances: the sum is the Layer-2 supply at the final root
    assert sum(w.amount for w in exits) == sum(a.balance for a in state.accounts.values())

    fee = FeePolicy().withdrawal_fee(signer_set)
    owed = [w for b in settlement.finalized_batches() for w in b.withdrawals] + exits
    payable = [w for w in exits if builder.payable(w)]
    result = builder.pay(owed, signers, fee_rate=2)
    assert result is not None
    assert sorted(str(w.id) for w in result.paid) == sorted(str(w.id) for w in payable)
    node.mine(1)
    for n, w in enumerate(result.paid):
        assert result.tx.vout[n].value == w.amount - fee
        assert result.tx.vout[n].script_pubkey == w.script_pubkey
    # read again, by a restarted reader: nothing is owed twice
    again = SilverSettlementReader(rollup.with_client(client), PARAMS)
    settlement.silver = again
    owed = [w for b in settlement.finalized_batches() for w in b.withdrawals]
    assert builder.pay(owed + again.finalized_exits(), signers) is None


@pytest.fixture
def anvil() -> Iterator[Anvil]:
    with running_anvil() as chain:
        yield chain


def _call(chain: Anvil, method: str, *params: Any) -> Any:
    reply = _rpc(chain.url, method, list(params))
    assert isinstance(reply, dict) and "error" not in reply, reply
    return reply["result"]


def test_a_claim_reorged_out_and_mined_again_is_paid_once_and_one_never_final_never(
    node,
    wallet,
    funded,
    batches: Batches,  # noqa: F811
    anvil: Anvil,
) -> None:
    funding, signers, builder = funded
    client = Web3Client(anvil.url, DEV_KEYS[0])

    def travel(seconds: int) -> None:
        _call(anvil, "evm_increaseTime", seconds)
        _call(anvil, "evm_mine")

    rollup = _in_exodus(client, batches, travel)
    claims = _claims(batches, wallet)
    # the bridge counts a claim after 2 confirmations
    reader = SilverSettlementReader(
        rollup.with_client(Web3Client(anvil.url, DEV_KEYS[1], confirmations=2)), PARAMS
    )
    settlement = FundedSilver(reader, funding)
    for s in signers:
        s.settlement = settlement

    # Bob's claim: mined, final, paid; then the EVM chain reorganises it away
    before = _call(anvil, "evm_snapshot")
    submit_exit(rollup, claims[2])
    assert reader.finalized_exits() == []  # 1 confirmation of 2
    _call(anvil, "evm_mine")
    (bob,) = reader.finalized_exits()
    paid = builder.pay([bob], signers, fee_rate=2)
    assert paid is not None and [str(w.id) for w in paid.paid] == ["exit:2"]
    node.mine(1)
    _call(anvil, "evm_revert", before)
    assert reader.finalized_exits() == []
    # mined again (the same proof: anyone may resubmit it): the same claim, paid already
    submit_exit(rollup, claims[2])
    _call(anvil, "evm_mine")
    assert reader.finalized_exits() == [bob]
    assert builder.pay(reader.finalized_exits(), signers) is None

    # Carol's claim is reorged away before it is final, and never mined again: unpaid
    before = _call(anvil, "evm_snapshot")
    submit_exit(rollup, claims[3])
    assert [str(w.id) for w in reader.finalized_exits()] == ["exit:2"]
    _call(anvil, "evm_revert", before)
    _call(anvil, "evm_mine")
    _call(anvil, "evm_mine")
    assert [str(w.id) for w in reader.finalized_exits()] == ["exit:2"]
    assert not rollup.exited(3)
