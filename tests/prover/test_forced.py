"""The batch circuit's forced-withdrawal slot (circuits/forced.circom): a queued request
proves executed when valid and rejected when it breaks a rule, and a sequencer cannot
turn one outcome into the other, move the request out of slot 0 or prove another request
than the one whose digest the contract binds."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from bitcoinzk.crypto.eddsa import Signature
from bitcoinzk.prover.service import prove_inputs, verify_proof
from bitcoinzk.prover.witness import block_data, build_inputs
from bitcoinzk.spec.errors import WrongNonce
from bitcoinzk.spec.pubdata import forced_rejected
from bitcoinzk.spec.state import State
from bitcoinzk.spec.stf import BlockTrace, LeafRead, SlotTrace, apply_block, credit, write
from bitcoinzk.spec.types import ForcedWithdraw, Operation, Withdraw

from .conftest import ALICE, ALICE_I, BOB, BOB_I, PARAMS, SHAPE, Keys, genesis_state
from .test_soundness import SIG, expect_no_accepted_proof, rule, transfer

P2WPKH = bytes.fromhex("0014") + bytes(range(20))
FAKE_REJECTION = rule("ForcedRules", "isRejected * noRuleBroken.out === 0")
SLOT_0_ONLY = rule("BatchCircuit", "flags[s].isForced + flags[s].isRejected === 0")


def request(
    sender: int = ALICE_I, amount: int = 20_000, nonce: int = 0, signer: object = ALICE
) -> ForcedWithdraw:
    w = Withdraw(sender, P2WPKH, amount, 10, nonce).signed(signer, PARAMS.chain_id)  # type: ignore[arg-type]
    assert w.signature is not None
    return ForcedWithdraw(0, sender, P2WPKH, amount, 10, nonce, w.signature)


@pytest.mark.parametrize(
    "case", ["executed", "unknown account", "outside the tree", "nonce", "balance", "signature"]
)
def test_processed_request_proves(keys: Keys, case: str) -> None:
    req = {
        "executed": request(),
        "unknown account": request(sender=30),
        "outside the tree": request(sender=2**PARAMS.tree_depth + 1),
        "nonce": request(nonce=4),
        "balance": request(amount=4_999_991),
        "signature": request(signer=BOB),
    }[case]
    ops: list[Operation] = [req, transfer(BOB_I, ALICE_I, ALICE, 500, 1, 0)]
    result = apply_block(genesis_state(), PARAMS, 1, ops)
    assert (result.trace.slots[0].rejected is None) == (case == "executed")
    proof = prove_inputs(keys.pk, build_inputs(result.trace, PARAMS))
    assert verify_proof(keys.vk, proof, result.public_input)
    # the public input binds the request: proved against another request's digest, it fails
    data = block_data(result.trace, PARAMS)
    other = replace(data, forced_digest=request(amount=20_010).digest()).public_input(SHAPE)
    assert not verify_proof(keys.vk, proof, other)


def _claim_rejected(state: State, req: ForcedWithdraw) -> BlockTrace:
    """A cheater's trace: `req` (valid) published as rejected, nothing debited."""
    fork = state.fork()
    read = LeafRead(req.sender, fork.get(req.sender), fork.tree.siblings(req.sender))
    slot = SlotTrace(req, forced_rejected(req), None, None, WrongNonce("a lie"), read)
    fee_account = fork.get(PARAMS.fee_account)
    assert fee_account is not None
    fee = write(fork, PARAMS.fee_account, credit(fee_account, fee_account.pubkey, 0))
    return BlockTrace(1, state.root, fork.root, (slot,), fee, 0)


def test_a_valid_request_cannot_be_proved_rejected(keys: Keys) -> None:
    """Attack 5: the sequencer claims a rule breaks where none does."""
    state = genesis_state()
    inputs = build_inputs(_claim_rejected(state, request()), PARAMS)
    expect_no_accepted_proof(keys, inputs, where=FAKE_REJECTION)


def test_a_rejected_request_claims_the_users_signature(keys: Keys) -> None:
    """Attack 5 again: 'invalid signature' by proving with a signature the user never sent."""
    state = genesis_state()
    honest = request()
    garbage = replace(honest, signature=Signature(honest.signature.r8x, honest.signature.r8y, 5))
    trace = _claim_rejected(state, honest)
    cheat = replace(trace, slots=(replace(trace.slots[0], op=garbage),))
    inputs = build_inputs(cheat, PARAMS)
    # the garbage signature makes the rejection provable, but only for the garbage
    # request's digest: against the queued request's the proof fails
    proof = prove_inputs(keys.pk, inputs)
    queued = replace(block_data(cheat, PARAMS), forced_digest=honest.digest()).public_input(SHAPE)
    assert not verify_proof(keys.vk, proof, queued)


def test_an_invalid_request_cannot_be_executed(keys: Keys) -> None:
    """Executing a request signed by another key: the slot's signature rule stops it."""
    state = genesis_state()
    honest = apply_block(state, PARAMS, 1, [request()])
    forged = replace(request(), signature=request(signer=BOB).signature)
    trace = replace(honest.trace, slots=(replace(honest.trace.slots[0], op=forged),))
    expect_no_accepted_proof(keys, build_inputs(trace, PARAMS), where=SIG)


def test_a_forced_op_only_in_slot_0(keys: Keys) -> None:
    state = genesis_state()
    plain = Withdraw(ALICE_I, P2WPKH, 20_000, 10, 0).signed(ALICE, PARAMS.chain_id)
    result = apply_block(state, PARAMS, 1, [transfer(BOB_I, ALICE_I, ALICE, 500, 1, 0), plain])
    inputs = build_inputs(result.trace, PARAMS)
    tampered = copy.deepcopy(inputs)
    ops = tampered["op"]
    assert isinstance(ops, list)
    ops[1] = 5  # the withdrawal in slot 1 claimed as the queued request
    expect_no_accepted_proof(keys, tampered, where=SLOT_0_ONLY)
