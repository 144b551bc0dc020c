"""The STF: every rule is a typed exception, and a rejected block changes nothing."""

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitcoinzk.spec import errors
from bitcoinzk.spec.params import MAX_NONCE, MAX_SATS, ChainParams
from bitcoinzk.spec.state import State
from bitcoinzk.spec.stf import BlockBuilder, apply_block
from bitcoinzk.spec.tree import compute_root
from bitcoinzk.spec.types import (
    OP_TRANSFER,
    OP_TRANSFER_NEW,
    Account,
    Deposit,
    Operation,
    Withdraw,
)

from .helpers import P2TR, PARAMS, account, genesis, key, transfer, withdraw

TXID = bytes(range(32))


def snapshot(state: State) -> tuple[int, dict[int, Account]]:
    return state.root, dict(state.accounts)


def test_transfer_moves_sats_bumps_nonce_and_pays_the_operator():
    state = genesis().state()
    result = apply_block(state, PARAMS, 1, [transfer(1, 2, 30_000, fee=5)])
    new = result.state
    assert new.get(1) == Account(key(1).public_key(), 100_000 - 30_005, 1)
    assert new.get(2) == Account(key(2).public_key(), 50_000 + 30_000, 0)
    assert account(new, 0).balance == 5
    assert result.trace.fees_collected == 5
    assert result.pubdata.ops()[0].op == OP_TRANSFER


def test_given_state_is_never_modified():
    state = genesis().state()
    before = snapshot(state)
    apply_block(state, PARAMS, 1, [transfer(1, 2, 30_000)])
    assert snapshot(state) == before


def test_trace_chains_roots_and_siblings_prove_each_update():
    state = genesis().state()
    ops: list[Operation] = [transfer(1, 2, 1_000), transfer(2, 1, 500), withdraw(1, 2_000, nonce=1)]
    result = apply_block(state, PARAMS, 1, ops)
    trace = result.trace
    root = trace.old_root
    assert root == state.root
    for slot in trace.slots:
        for update in (slot.sender, slot.receiver):
            if update is None:
                continue
            assert update.root_before == root
            assert len(update.siblings) == 7 * PARAMS.levels  # flat, 7 per 8-ary level
            old_leaf = update.old.leaf() if update.old else 0
            assert compute_root(update.index, old_leaf, update.siblings) == root
            root = compute_root(update.index, update.new.leaf(), update.siblings)
            assert root == update.root_after
    assert trace.fee.root_before == root
    assert len(trace.fee.siblings) == 7 * PARAMS.levels
    assert trace.fee.root_after == trace.new_root == result.state.root


def test_transfer_to_a_new_key_creates_the_account():
    state = genesis((100_000,)).state()
    op = transfer(1, 2, 7_000, dst_index=2)
    result = apply_block(state, PARAMS, 1, [op])
    assert result.state.get(2) == Account(key(2).public_key(), 7_000, 0)
    assert result.pubdata.ops()[0].op == OP_TRANSFER_NEW
    assert result.pubdata.ops()[0].pubkey == key(2).public_key()


def test_deposit_creates_then_credits():
    state = genesis((100_000,)).state()
    dep = Deposit(5, key(5).public_key(), 12_345, TXID, 1)
    dep2 = Deposit(5, key(5).public_key(), 5, TXID, 2)
    result = apply_block(state, PARAMS, 1, [dep, dep2])
    assert result.state.get(5) == Account(key(5).public_key(), 12_350, 0)


def test_withdraw_debits_and_is_published():
    state = genesis().state()
    result = apply_block(state, PARAMS, 1, [withdraw(1, 10_000, fee=2)])
    assert account(result.state, 1).balance == 100_000 - 10_002
    published = result.pubdata.ops()[0]
    assert (published.amount, published.script_pubkey, published.fee) == (10_000, P2TR, 2)


def _overflow_state() -> State:
    state = genesis().state()
    state.put(2, Account(key(2).public_key(), MAX_SATS, 0))
    return state


def _nonce_exhausted_state() -> State:
    state = genesis().state()
    state.put(1, Account(key(1).public_key(), 100_000, MAX_NONCE))
    return state


REJECTIONS = [
    (
        "bad signature",
        lambda: replace(transfer(1, 2, 10), amount=20),
        errors.InvalidSignature,
        None,
    ),
    (
        "signature by another key",
        lambda: replace(transfer(1, 2, 10), signature=transfer(2, 1, 10).signature),
        errors.InvalidSignature,
        None,
    ),
    (
        "missing signature",
        lambda: replace(transfer(1, 2, 10), signature=None),
        errors.InvalidSignature,
        None,
    ),
    ("wrong nonce", lambda: transfer(1, 2, 10, nonce=1), errors.WrongNonce, None),
    ("overspend", lambda: transfer(1, 2, 100_000, fee=20), errors.InsufficientBalance, None),
    ("zero amount", lambda: transfer(1, 2, 0), errors.AmountOutOfRange, None),
    (
        "amount above supply",
        lambda: transfer(1, 2, MAX_SATS + 10**9),
        errors.AmountOutOfRange,
        None,
    ),
    ("unrepresentable amount", lambda: transfer(1, 2, 1_234_567), errors.AmountOutOfRange, None),
    ("unrepresentable fee", lambda: transfer(1, 2, 10, fee=9), errors.AmountOutOfRange, None),
    ("unknown sender", lambda: transfer(3, 1, 10), errors.UnknownAccount, None),
    ("self transfer", lambda: transfer(1, 1, 10), errors.SelfTransfer, None),
    (
        "recipient index owned by another key",
        lambda: transfer(1, 3, 10, dst_index=2),
        errors.PubkeyMismatch,
        None,
    ),
    (
        "index outside the tree",
        lambda: transfer(1, 2, 10, dst_index=PARAMS.capacity),
        errors.IndexOutOfRange,
        None,
    ),
    ("credit above MAX_SATS", lambda: transfer(1, 2, 10), errors.BalanceOverflow, _overflow_state),
    (
        "nonce exhausted",
        lambda: transfer(1, 2, 10, nonce=MAX_NONCE),
        errors.NonceOverflow,
        _nonce_exhausted_state,
    ),
    ("withdraw below minimum", lambda: withdraw(1, 999), errors.AmountOutOfRange, None),
    ("withdraw empty script", lambda: withdraw(1, 5_000, spk=b""), errors.MalformedOperation, None),
    (
        "withdraw script too long",
        lambda: replace(withdraw(1, 5_000), script_pubkey=bytes(43)),
        errors.MalformedOperation,
        None,
    ),
    (
        "withdraw script of 35 bytes (records hold 34)",
        lambda: replace(withdraw(1, 5_000), script_pubkey=b"\x51" + bytes(34)),
        errors.MalformedOperation,
        None,
    ),
    (
        "withdraw amount not below 2^48 (its chunk field)",
        lambda: withdraw(1, 2**48),
        errors.AmountOutOfRange,
        None,
    ),
    (
        "withdraw bad signature",
        lambda: replace(withdraw(1, 5_000), script_pubkey=b"\x51"),
        errors.InvalidSignature,
        None,
    ),
    (
        "deposit of zero",
        lambda: Deposit(4, key(4).public_key(), 0, TXID, 0),
        errors.AmountOutOfRange,
        None,
    ),
    (
        "deposit to another key's account",
        lambda: Deposit(1, key(4).public_key(), 10, TXID, 0),
        errors.PubkeyMismatch,
        None,
    ),
]


@pytest.mark.parametrize(
    "name,make_op,error,make_state", REJECTIONS, ids=[r[0] for r in REJECTIONS]
)
def test_each_rule_rejects_with_its_error_and_changes_nothing(name, make_op, error, make_state):
    state = make_state() if make_state else genesis().state()
    before = snapshot(state)
    valid_first = transfer(2, 1, 10) if make_state is None else None
    ops = ([valid_first] if valid_first else []) + [make_op()]
    with pytest.raises(error):
        apply_block(state, PARAMS, 1, ops)
    assert snapshot(state) == before


def test_block_limits():
    state = genesis().state()
    small = ChainParams(chain_id=PARAMS.chain_id, tree_depth=6, block_slots=2, block_records=1)
    with pytest.raises(errors.BlockTooLarge):
        apply_block(state, small, 1, [transfer(1, 2, 10, nonce=n) for n in range(3)])
    with pytest.raises(errors.BlockTooLarge):
        apply_block(state, small, 1, [withdraw(1, 5_000), withdraw(1, 5_000, nonce=1)])


def test_builder_rejection_leaves_block_intact():
    state = genesis().state()
    builder = BlockBuilder(state, PARAMS, 1)
    builder.add(transfer(1, 2, 1_000))
    root = builder.fork.root
    with pytest.raises(errors.WrongNonce):
        builder.add(transfer(1, 2, 1_000, nonce=5))
    assert builder.fork.root == root and len(builder.slots) == 1
    builder.add(transfer(1, 2, 1_000, nonce=1))
    assert account(builder.finish().state, 1).nonce == 2


# --- properties -------------------------------------------------------------------

action = st.tuples(
    st.sampled_from(["transfer", "withdraw", "deposit", "bad-nonce", "bad-sig"]),
    st.integers(1, 4),
    st.integers(1, 4),
    st.sampled_from([1, 10, 1_000, 20_000, 60_000, 200_000]),
    st.sampled_from([0, 1, 5, 70]),
)


@settings(max_examples=30, deadline=None)
@given(st.lists(action, min_size=1, max_size=10))
def test_invariants_hold_for_any_sequence(actions):
    """Sats are conserved apart from deposits and withdrawals, balances never go
    negative, nonces only increase, and a rejected op changes nothing."""
    state = genesis((100_000, 50_000, 10_000)).state()
    total = sum(a.balance for a in state.accounts.values())
    builder = BlockBuilder(state, PARAMS, 1)
    nonces = {i: a.nonce for i, a in state.accounts.items()}
    deposited = withdrawn = 0
    for n, (kind, src, dst, amount, fee) in enumerate(actions):
        if len(builder.slots) >= PARAMS.block_slots:
            break
        fork = builder.fork
        sender = fork.get(src)
        nonce = sender.nonce if sender else 0
        dst_index = fork.index_of(key(dst).public_key())
        if dst_index is None:
            dst_index = fork.next_free_index()
        op: Operation
        if kind == "transfer":
            op = transfer(src, dst, amount, fee, nonce, dst_index=dst_index)
        elif kind == "withdraw":
            op = withdraw(src, max(amount, 1_000), fee, nonce)
        elif kind == "deposit":
            op = Deposit(dst_index, key(dst).public_key(), amount, TXID, n)
        elif kind == "bad-nonce":
            op = transfer(src, dst, amount, fee, nonce + 1, dst_index=dst_index)
        else:
            op = replace(
                transfer(src, dst, amount, fee, nonce, dst_index=dst_index), amount=amount + 1
            )
        before = snapshot(fork)
        try:
            builder.add(op)
        except errors.InvalidOperation:
            assert snapshot(builder.fork) == before
            continue
        if isinstance(op, Deposit):
            deposited += op.amount
        elif isinstance(op, Withdraw):
            withdrawn += op.amount
    result = builder.finish()
    accounts = result.state.accounts
    assert all(a.balance >= 0 for a in accounts.values())
    assert sum(a.balance for a in accounts.values()) == total + deposited - withdrawn
    for i, a in accounts.items():
        assert a.nonce >= nonces.get(i, 0)
    assert result.state.root == result.trace.new_root
