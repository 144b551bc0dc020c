"""Exodus on the real Rollup contract (py-evm; anvil for the whole path once): activation,
exits, and every refusal.

Block 1 of the settlement tests' chain is committed with its real batch proof; block 2
(also proven) is the batch that arrives after exodus. Exit proofs are real Groth16
proofs of the exit circuit (D = 6), made by `build_exit` against the block-1 state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import groth16py
import pytest

from bitcoinzk.settlement.evm.anvil import DEV_KEYS, _rpc
from bitcoinzk.settlement.evm.client import EmbeddedClient, Web3Client
from bitcoinzk.settlement.evm.exit.circuit import ExitShape, ensure_exit_keys
from bitcoinzk.settlement.evm.exit.claim import (
    ExitClaim,
    ExitRejected,
    build_exit,
    exit_inputs,
    exit_record,
    sign_exit,
    submit_exit,
)
from bitcoinzk.settlement.evm.rollup import ForcedRejected, InExodus, Rollup, deploy
from bitcoinzk.spec.state import State
from bitcoinzk.spec.types import ForcedWithdraw, Withdraw
from tests.settlement.evm.conftest import ALICE, BOB, CAROL, OPERATOR, PARAMS, SPK, Batches

DEADLINE = 120
OTHER_SPK = bytes.fromhex("5120") + bytes(range(100, 132))


def _travel(client: EmbeddedClient, seconds: int) -> None:
    """Move the embedded chain's clock (what a real chain does by waiting)."""
    client.chain.env.evm.patch.timestamp += seconds


def _queue(rollup: Rollup) -> None:
    """Alice's withdrawal, which the sequencer ignores, queued on the contract."""
    w = Withdraw(1, SPK, 5_000, 0, 0).signed(ALICE, PARAMS.chain_id)
    assert w.signature is not None
    rollup.force_withdraw(ForcedWithdraw(0, 1, SPK, 5_000, 0, 0, w.signature))


def _snapshot(rollup: Rollup) -> dict[str, Any]:
    return {
        **rollup.snapshot(),
        "exodus": rollup.in_exodus(),
        "exited": [rollup.exited(i) for i in range(8)],
        "events": len(rollup.events()),
    }


def _refused(rollup: Rollup, claim: ExitClaim, reason: str) -> None:
    before = _snapshot(rollup)
    with pytest.raises(ExitRejected, match=reason):
        submit_exit(rollup, claim)
    assert _snapshot(rollup) == before


def _state1(batches: Batches) -> State:
    return batches.blocks[0].result.state


@pytest.fixture
def evm(tmp_path: Path) -> EmbeddedClient:
    return EmbeddedClient(tmp_path / "chain.sqlite")


def _rollup_in_exodus(evm: EmbeddedClient, batches: Batches) -> Rollup:
    rollup = deploy(evm, batches.vk, PARAMS, batches.genesis.root, forced_deadline=DEADLINE)
    b1 = batches.blocks[0]
    rollup.commit_batch(b1.batch_data, b1.new_root, b1.proof)
    _queue(rollup)
    _travel(evm, DEADLINE + 1)
    rollup.activate_exodus()
    return rollup


def test_exodus_starts_only_when_a_forced_request_is_overdue(
    evm: EmbeddedClient, batches: Batches
) -> None:
    rollup = deploy(evm, batches.vk, PARAMS, batches.genesis.root, forced_deadline=DEADLINE)
    b1, b2 = batches.blocks
    rollup.commit_batch(b1.batch_data, b1.new_root, b1.proof)
    anyone = rollup.with_client(evm.with_key(DEV_KEYS[1]))
    # nothing queued: no exodus
    before = _snapshot(rollup)
    with pytest.raises(Exception, match="no forced request is overdue"):
        anyone.activate_exodus()
    assert _snapshot(rollup) == before
    # queued but not yet due (at the deadline itself it is still on time)
    _queue(anyone)
    _travel(evm, DEADLINE)
    assert not rollup.forced_due()
    before = _snapshot(rollup)
    with pytest.raises(Exception, match="no forced request is overdue"):
        anyone.activate_exodus()
    assert _snapshot(rollup) == before
    # overdue: anyone (not the sequencer) starts exodus, once
    _travel(evm, 1)
    assert rollup.forced_due()
    receipt = anyone.activate_exodus()
    assert rollup.in_exodus()
    (event,) = [e for e in rollup.events(receipt.block_number) if e.name == "ExodusActivated"]
    assert (event.args["batch_count"], event.args["state_root"]) == (1, b1.new_root)
    before = _snapshot(rollup)
    with pytest.raises(InExodus):
        anyone.activate_exodus()
    # no request is queued any more: no batch could ever process it
    with pytest.raises(ForcedRejected, match="rollup: exodus"):
        _queue(anyone)
    # a valid, proven next batch is refused after exodus, by commitBatch and commitBatches
    with pytest.raises(InExodus):
        rollup.commit_batch(b2.batch_data, b2.new_root, b2.proof)
    with pytest.raises(InExodus):
        rollup.commit_batches([(b2.batch_data, b2.new_root, b2.proof)] * 2)
    assert _snapshot(rollup) == before


def test_every_account_exits_once_with_exactly_its_balance(
    evm: EmbeddedClient, batches: Batches
) -> None:
    state = _state1(batches)
    owners = {0: OPERATOR, 1: ALICE, 2: BOB, 3: CAROL}
    assert sorted(state.accounts) == sorted(owners)
    keys = ensure_exit_keys(ExitShape(PARAMS.tree_depth))
    claims = {
        i: build_exit(state, i, owners[i], SPK if i % 2 else OTHER_SPK, PARAMS.chain_id, keys)
        for i in owners
    }
    rollup = deploy(evm, batches.vk, PARAMS, batches.genesis.root, forced_deadline=DEADLINE)
    b1 = batches.blocks[0]
    rollup.commit_batch(b1.batch_data, b1.new_root, b1.proof)
    # before exodus: refused, nothing recorded
    _refused(rollup, claims[1], "not in exodus")
    _queue(rollup)
    _travel(evm, DEADLINE + 1)
    rollup.activate_exodus()
    # anyone may submit an owner's claim: the proof fixes the account, amount and script
    submitter = rollup.with_client(evm.with_key(DEV_KEYS[1]))
    paid = 0
    for i, claim in claims.items():
        receipt = submit_exit(submitter, claim)
        assert receipt.gas_used <= 500_000, receipt.gas_used
        (event,) = [e for e in rollup.events(receipt.block_number) if e.name == "ExitClaimed"]
        account = state.get(i)
        assert account is not None
        assert event.args["account"] == i
        assert event.args["amount"] == account.balance
        assert bytes(event.args["record"]) == exit_record(claim.script_pubkey)
        assert rollup.exited(i)
        paid += int(event.args["amount"])
        # a second exit for the account, with the same or a fresh proof, is refused
        _refused(rollup, claim, "already exited")
    assert paid == sum(a.balance for a in state.accounts.values())


def test_exit_proofs_for_other_roots_balances_keys_or_scripts_are_refused(
    evm: EmbeddedClient, batches: Batches
) -> None:
    rollup = _rollup_in_exodus(evm, batches)
    keys = ensure_exit_keys(ExitShape(PARAMS.tree_depth))
    state1 = _state1(batches)
    bob = state1.get(2)
    assert bob is not None
    # an older root (genesis, which the contract did hold) and a root never committed
    # (block 2, proven but not committed): real proofs, refused for the root
    _refused(rollup, build_exit(batches.genesis, 2, BOB, SPK, PARAMS.chain_id, keys), "proof")
    _refused(
        rollup,
        build_exit(batches.blocks[1].result.state, 2, BOB, SPK, PARAMS.chain_id, keys),
        "invalid exit proof",
    )
    # a proof for another chain id
    _refused(rollup, build_exit(state1, 2, BOB, SPK, PARAMS.chain_id + 1, keys), "invalid exit")
    good = build_exit(state1, 2, BOB, SPK, PARAMS.chain_id, keys)
    # the right proof with a larger (or smaller) balance claimed
    for balance in (bob.balance + 1, bob.balance - 1):
        forged = ExitClaim(2, balance, SPK, good.root, good.chain_id, good.proof)
        _refused(rollup, forged, "invalid exit proof")
    # the owner's proof redirected to another script
    redirected = ExitClaim(2, good.balance, OTHER_SPK, good.root, good.chain_id, good.proof)
    _refused(rollup, redirected, "invalid exit proof")
    # another account's proof (Alice's) claimed for Bob's index
    alice = build_exit(state1, 1, ALICE, SPK, PARAMS.chain_id, keys)
    _refused(rollup, ExitClaim(2, alice.balance, SPK, alice.root, 1, alice.proof), "invalid")
    # Bob's leaf with a signature by another key (Carol's), and with Bob's signature for
    # another script: the circuit has no witness for them; the best an attacker can
    # submit is a proof of the broken relation, which the verifier refuses
    pk = keys.load_proving_key()
    path = state1.proof(2)
    for sig, spk in (
        (sign_exit(CAROL, PARAMS.chain_id, 2, SPK), SPK),
        (sign_exit(BOB, PARAMS.chain_id, 2, OTHER_SPK), SPK),
    ):
        inputs = exit_inputs(2, bob, path, PARAMS.tree_depth, spk, PARAMS.chain_id, sig)
        proof = groth16py.prove(pk, inputs)
        _refused(rollup, ExitClaim(2, bob.balance, spk, good.root, 1337, proof), "invalid exit")
    # zero balance, an empty script, an account or balance outside the field
    _refused(rollup, ExitClaim(2, 0, SPK, good.root, 1337, good.proof), "nothing to exit")
    _refused(rollup, ExitClaim(2, good.balance, b"", good.root, 1337, good.proof), "empty")
    field = 21888242871839275222246405745257275088548364400416034343698204186575808495617
    _refused(rollup, ExitClaim(2 + field, good.balance, SPK, 0, 1337, good.proof), "verifier")
    # Bob's genuine claim still goes through after all that
    submit_exit(rollup, good)
    assert rollup.exited(2)


def test_exodus_and_exits_on_anvil(anvil_url: str, batches: Batches) -> None:
    """The same contract on a real node: its clock moves by `evm_increaseTime`."""
    client = Web3Client(anvil_url, DEV_KEYS[0])
    rollup = deploy(client, batches.vk, PARAMS, batches.genesis.root, forced_deadline=DEADLINE)
    b1, b2 = batches.blocks
    rollup.commit_batch(b1.batch_data, b1.new_root, b1.proof)
    _queue(rollup)
    with pytest.raises(Exception, match="no forced request is overdue"):
        rollup.activate_exodus()
    calls: tuple[tuple[str, list[object]], ...] = (
        ("evm_increaseTime", [DEADLINE + 1]),
        ("evm_mine", []),
    )
    for method, params in calls:
        reply = _rpc(anvil_url, method, params)
        assert isinstance(reply, dict) and "error" not in reply, reply
    anyone = rollup.with_client(Web3Client(anvil_url, DEV_KEYS[1]))
    anyone.activate_exodus()
    with pytest.raises(InExodus):
        rollup.commit_batch(b2.batch_data, b2.new_root, b2.proof)
    claim = build_exit(_state1(batches), 3, CAROL, OTHER_SPK, PARAMS.chain_id)
    receipt = submit_exit(anyone, claim)
    assert receipt.gas_used <= 500_000
    (event,) = [e for e in rollup.events() if e.name == "ExitClaimed"]
    assert (event.args["account"], bytes(event.args["record"])) == (3, exit_record(OTHER_SPK))
    _refused(rollup, claim, "already exited")
