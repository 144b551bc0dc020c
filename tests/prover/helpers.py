"""Test helpers: a rule-free STF for building the witnesses of invalid blocks."""

from __future__ import annotations

from bitcoinzk.prover.public_input import FIELD_MODULUS as R
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.pubdata import PubdataOp, pubdata_op
from bitcoinzk.spec.state import State
from bitcoinzk.spec.stf import BlockTrace, LeafUpdate, SlotTrace
from bitcoinzk.spec.types import Account, Deposit, Operation, Transfer, Withdraw


def _write(state: State, index: int, new: Account) -> LeafUpdate:
    old = state.get(index)
    siblings = state.tree.siblings(index)
    before = state.root
    state.put(index, new)
    return LeafUpdate(index, old, new, siblings, before, state.root)


def _debit(state: State, index: int, amount: int, fee: int) -> LeafUpdate:
    old = state.get(index)
    assert old is not None, "lax STF still needs some sender leaf"
    new = Account(old.pubkey, (old.balance - amount - fee) % R, (old.nonce + 1) % R)
    return _write(state, index, new)


def _credit(state: State, index: int, op: Operation, amount: int) -> tuple[LeafUpdate, bool]:
    old = state.get(index)
    key = op.pubkey if isinstance(op, Deposit) else op.recipient_pubkey  # type: ignore[union-attr]
    if old is None:
        return _write(state, index, Account(key, amount % R, 0)), True
    return _write(state, index, Account(old.pubkey, (old.balance + amount) % R, old.nonce)), False


def lax_block(
    state: State,
    params: ChainParams,
    block_number: int,
    ops: list[Operation],
    pubdata: list[PubdataOp | None] | None = None,
) -> BlockTrace:
    """Apply `ops` the way the STF writes them but checking no rule (field arithmetic).

    This is what a cheating sequencer would feed the prover; `pubdata[i]` overrides
    the published form of op i.
    """
    fork = state.fork()
    old_root = fork.root
    slots: list[SlotTrace] = []
    fees = 0
    for i, op in enumerate(ops):
        if isinstance(op, Deposit):
            receiver, created = _credit(fork, op.recipient, op, op.amount)
            slot = SlotTrace(op, pubdata_op(op, created), None, receiver)
        elif isinstance(op, Transfer):
            sender = _debit(fork, op.sender, op.amount, op.fee)
            receiver, created = _credit(fork, op.recipient, op, op.amount)
            slot = SlotTrace(op, pubdata_op(op, created), sender, receiver)
            fees += op.fee
        else:
            assert isinstance(op, Withdraw)
            sender = _debit(fork, op.sender, op.amount, op.fee)
            slot = SlotTrace(op, pubdata_op(op, False), sender, None)
            fees += op.fee
        if pubdata is not None and pubdata[i] is not None:
            override = pubdata[i]
            assert override is not None
            slot = SlotTrace(slot.op, override, slot.sender, slot.receiver)
        slots.append(slot)
    fee_old = fork.get(params.fee_account)
    assert fee_old is not None
    fee = _write(
        fork, params.fee_account, Account(fee_old.pubkey, fee_old.balance + fees, fee_old.nonce)
    )
    return BlockTrace(block_number, old_root, fork.root, tuple(slots), fee, fees)
