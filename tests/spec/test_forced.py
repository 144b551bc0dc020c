"""Forced withdrawals in the STF: executed when every withdrawal rule holds, else published
as rejected with no effect, the rule named by its typed exception (one row per rule)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bitcoinzk.crypto.eddsa import Signature
from bitcoinzk.spec import errors
from bitcoinzk.spec.params import MAX_NONCE
from bitcoinzk.spec.pubdata import BlockPubdata, PubdataError
from bitcoinzk.spec.state import State
from bitcoinzk.spec.stf import apply_block
from bitcoinzk.spec.types import (
    OP_FORCED_REJECTED,
    OP_FORCED_WITHDRAW,
    Account,
    ForcedWithdraw,
    op_from_json,
)

from .helpers import P2TR, PARAMS, account, genesis, key, transfer, withdraw


def forced(
    sender: int = 1, amount: int = 20_000, fee: int = 10, nonce: int = 0, signer: int = 1
) -> ForcedWithdraw:
    w = withdraw(sender, amount, fee=fee, nonce=nonce)
    signed = replace(w, sender=sender).signed(key(signer), PARAMS.chain_id)
    assert signed.signature is not None
    return ForcedWithdraw(0, sender, P2TR, amount, fee, nonce, signed.signature)


def test_a_valid_request_is_executed_as_the_withdrawal() -> None:
    state = genesis().state()
    result = apply_block(state, PARAMS, 1, [forced()])
    assert account(result.state, 1) == Account(key(1).public_key(), 100_000 - 20_010, 1)
    assert account(result.state, 0).balance == 10
    (op,) = result.pubdata.ops()
    assert (op.op, op.sender, op.amount, op.script_pubkey) == (OP_FORCED_WITHDRAW, 1, 20_000, P2TR)
    assert result.pubdata.forced_digest == forced().digest()
    assert result.trace.slots[0].rejected is None


def with_nonce(state: State, index: int, nonce: int) -> State:
    fork = state.fork()
    old = account(fork, index)
    fork.put(index, Account(old.pubkey, old.balance, nonce))
    return fork


@pytest.mark.parametrize(
    ("make", "state_of", "error"),
    [
        (lambda: forced(sender=40), lambda s: s, errors.UnknownAccount),
        (lambda: forced(sender=2**PARAMS.tree_depth), lambda s: s, errors.IndexOutOfRange),
        (lambda: forced(nonce=1), lambda s: s, errors.WrongNonce),
        (
            lambda: forced(nonce=MAX_NONCE),
            lambda s: with_nonce(s, 1, MAX_NONCE),
            errors.NonceOverflow,
        ),
        (lambda: forced(amount=99_991), lambda s: s, errors.InsufficientBalance),
        (lambda: forced(signer=2), lambda s: s, errors.InvalidSignature),
        (
            lambda: replace(forced(), signature=Signature(0, 1, 5)),
            lambda s: s,
            errors.InvalidSignature,
        ),
    ],
)
def test_a_request_breaking_a_rule_is_rejected_and_changes_nothing(
    make: object, state_of: object, error: type[errors.InvalidOperation]
) -> None:
    assert callable(make) and callable(state_of)
    state = state_of(genesis().state())
    request = make()
    result = apply_block(state, PARAMS, 1, [request, transfer(2, 1, 1_000)])
    slot = result.trace.slots[0]
    assert isinstance(slot.rejected, error)
    assert result.pubdata.ops()[0].op == OP_FORCED_REJECTED
    assert result.pubdata.forced_digest == request.digest()
    # only the transfer and its fee changed anything
    assert account(result.state, 2).balance == 50_000 - 1_001
    assert result.trace.fees_collected == 1


def test_a_replayed_request_is_rejected_by_its_nonce() -> None:
    """Attack 1: the same signed withdrawal queued twice withdraws once."""
    state = genesis().state()
    first = apply_block(state, PARAMS, 1, [forced()])
    second = apply_block(first.state, PARAMS, 2, [replace(forced(), index=1)])
    assert isinstance(second.trace.slots[0].rejected, errors.WrongNonce)
    assert account(second.state, 1).balance == 100_000 - 20_010


def test_a_forced_withdrawal_only_in_slot_0() -> None:
    with pytest.raises(errors.MisplacedForced):
        apply_block(genesis().state(), PARAMS, 1, [transfer(2, 1, 1_000), forced()])


def test_fields_the_contract_refuses_are_malformed_not_rejected() -> None:
    with pytest.raises(errors.AmountOutOfRange):
        apply_block(genesis().state(), PARAMS, 1, [forced(amount=999)])


def test_pubdata_readers_refuse_a_forced_op_outside_slot_0() -> None:
    result = apply_block(genesis().state(), PARAMS, 1, [forced(), transfer(2, 1, 1_000)])
    pubdata = result.pubdata
    swapped = BlockPubdata(pubdata.chunks[10:] + pubdata.chunks[:10], pubdata.records)
    with pytest.raises(PubdataError, match="outside slot 0"):
        swapped.ops()


def test_json_round_trip() -> None:
    request = forced()
    assert op_from_json(request.to_json()) == request
