"""The state transition function: the executable specification of Layer-2.

`apply_block` takes a state and a block's operations and returns the new
state, the pubdata and a trace, or raises the typed exception of the first
rule an operation breaks. It never touches the state it is given: it works on
a fork, which the caller merges if it wants the result.

The batch circuit (bitcoinzk/prover/circuits) checks these rules one for one;
keep the two in step (docs/protocol.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bitcoinzk.crypto.eddsa import PublicKey, Signature, verify
from bitcoinzk.spec.errors import (
    AmountOutOfRange,
    BalanceOverflow,
    BlockTooLarge,
    IndexOutOfRange,
    InsufficientBalance,
    InvalidOperation,
    InvalidSignature,
    MalformedOperation,
    MisplacedForced,
    NonceOverflow,
    PubkeyMismatch,
    SelfTransfer,
    UnknownAccount,
    WrongNonce,
)
from bitcoinzk.spec.floats import FLOAT5, FLOAT24
from bitcoinzk.spec.params import (
    MAX_NONCE,
    MAX_SATS,
    MAX_SCRIPT_PUBKEY,
    MAX_WITHDRAWAL,
    MIN_WITHDRAWAL,
    ChainParams,
)
from bitcoinzk.spec.pubdata import (
    BlockPubdata,
    PubdataOp,
    forced_rejected,
    pubdata_op,
    public_input,
)
from bitcoinzk.spec.state import State
from bitcoinzk.spec.types import Account, Deposit, ForcedWithdraw, Operation, Transfer, Withdraw


@dataclass(frozen=True)
class LeafUpdate:
    """One leaf write, with the Merkle siblings that were valid at that moment.

    `siblings` is flat, 7 per level of the 8-ary tree: level k (0 = leaves) is
    `siblings[7k : 7k + 7]`, the parent's other children in child order."""

    index: int
    old: Account | None
    new: Account
    siblings: tuple[int, ...]
    root_before: int
    root_after: int


@dataclass(frozen=True)
class LeafRead:
    """A leaf a rejected forced withdrawal read (None: empty) and its Merkle siblings."""

    index: int
    account: Account | None
    siblings: tuple[int, ...]


@dataclass(frozen=True)
class SlotTrace:
    op: Operation
    pubdata: PubdataOp
    sender: LeafUpdate | None
    receiver: LeafUpdate | None
    rejected: InvalidOperation | None = None
    """A forced withdrawal that breaks this rule: published as rejected, no effect."""
    read: LeafRead | None = None
    """The sender leaf a rejected forced withdrawal was checked against (None: index
    outside the tree, nothing to read)."""


@dataclass(frozen=True)
class BlockTrace:
    block_number: int
    old_root: int
    new_root: int
    slots: tuple[SlotTrace, ...]
    fee: LeafUpdate
    fees_collected: int


@dataclass(frozen=True)
class BlockResult:
    state: State
    pubdata: BlockPubdata
    trace: BlockTrace
    public_input: int


# --- rules shared by several operations --------------------------------------------


def check_index(params: ChainParams, index: int) -> None:
    if not 0 <= index < params.capacity:
        raise IndexOutOfRange(f"account index {index} outside the tree (depth {params.tree_depth})")


def check_fee(fee: int) -> None:
    if not FLOAT5.is_representable(fee):
        raise AmountOutOfRange(f"fee {fee} is not representable (m*10^e, m<8, e<4)")


def check_signature(pubkey: PublicKey, message: int, signature: Signature | None) -> None:
    if signature is None or not verify(pubkey, message, signature):
        raise InvalidSignature("signature does not verify for the sender's key")


def existing_sender(state: State, params: ChainParams, index: int) -> Account:
    check_index(params, index)
    account = state.get(index)
    if account is None:
        raise UnknownAccount(f"account {index} does not exist")
    return account


def debit(account: Account, nonce: int, total: int) -> Account:
    if nonce != account.nonce:
        raise WrongNonce(f"nonce {nonce}, account expects {account.nonce}")
    if account.nonce >= MAX_NONCE:
        raise NonceOverflow("account nonce exhausted")
    if total > account.balance:
        raise InsufficientBalance(f"needs {total} sats, balance {account.balance}")
    return Account(account.pubkey, account.balance - total, account.nonce + 1)


def credit(existing: Account | None, pubkey: PublicKey, amount: int) -> Account:
    if existing is None:
        return Account(pubkey, amount, 0)
    if existing.pubkey != pubkey:
        raise PubkeyMismatch("the target index belongs to another public key")
    if existing.balance + amount > MAX_SATS:
        raise BalanceOverflow("credit would exceed MAX_SATS")
    return Account(existing.pubkey, existing.balance + amount, existing.nonce)


def write(state: State, index: int, new: Account) -> LeafUpdate:
    old = state.get(index)
    siblings = state.tree.siblings(index)
    before = state.root
    state.put(index, new, siblings)
    return LeafUpdate(index, old, new, siblings, before, state.root)


def check_transfer_amounts(op: Transfer) -> None:
    """Amount and fee rules, which need no state (the mempool applies them on arrival)."""
    if not 1 <= op.amount <= MAX_SATS or not FLOAT24.is_representable(op.amount):
        raise AmountOutOfRange(
            f"amount {op.amount} must be 1..{MAX_SATS} and m*10^e with m < 2^20 "
            f"(nearest lower: {FLOAT24.round_down(op.amount)})"
        )
    check_fee(op.fee)


def check_withdraw_fields(op: Withdraw) -> None:
    if not 1 <= len(op.script_pubkey) <= MAX_SCRIPT_PUBKEY:
        raise MalformedOperation(f"script_pubkey must be 1..{MAX_SCRIPT_PUBKEY} bytes")
    if not MIN_WITHDRAWAL <= op.amount <= min(MAX_SATS, MAX_WITHDRAWAL):
        raise AmountOutOfRange(
            f"withdrawal amount {op.amount} outside {MIN_WITHDRAWAL}..{MAX_SATS} "
            f"or not below 2^48 (its pubdata field)"
        )
    check_fee(op.fee)


# --- one function per operation -----------------------------------------------------


def apply_deposit(state: State, params: ChainParams, op: Deposit) -> SlotTrace:
    check_index(params, op.recipient)
    if not 1 <= op.amount <= MAX_SATS:
        raise AmountOutOfRange(f"deposit amount {op.amount} outside 1..{MAX_SATS}")
    if len(op.txid) != 32 or not 0 <= op.vout < 2**32:
        raise MalformedOperation("deposit outpoint is malformed")
    existing = state.get(op.recipient)
    receiver = write(state, op.recipient, credit(existing, op.pubkey, op.amount))
    return SlotTrace(op, pubdata_op(op, existing is None), None, receiver)


def apply_transfer(
    state: State, params: ChainParams, op: Transfer, check_signatures: bool
) -> SlotTrace:
    sender = existing_sender(state, params, op.sender)
    check_index(params, op.recipient)
    if op.sender == op.recipient:
        raise SelfTransfer("sender and recipient are the same account")
    check_transfer_amounts(op)
    if check_signatures:
        check_signature(sender.pubkey, op.message(params.chain_id), op.signature)
    debited = debit(sender, op.nonce, op.amount + op.fee)
    existing = state.get(op.recipient)
    credited = credit(existing, op.recipient_pubkey, op.amount)
    sender_update = write(state, op.sender, debited)
    receiver_update = write(state, op.recipient, credited)
    return SlotTrace(op, pubdata_op(op, existing is None), sender_update, receiver_update)


def apply_withdraw(
    state: State, params: ChainParams, op: Withdraw, check_signatures: bool
) -> SlotTrace:
    sender = existing_sender(state, params, op.sender)
    check_withdraw_fields(op)
    if check_signatures:
        check_signature(sender.pubkey, op.message(params.chain_id), op.signature)
    sender_update = write(state, op.sender, debit(sender, op.nonce, op.amount + op.fee))
    return SlotTrace(op, pubdata_op(op, False), sender_update, None)


def apply_forced(state: State, params: ChainParams, op: ForcedWithdraw) -> SlotTrace:
    """A withdrawal from the contract's forced queue: executed as a Withdraw if every rule
    holds, else published as rejected with no effect. Either way the request is processed
    (the contract advances its queue), and the circuit proves which: a rejection must
    break a rule at the state it read (ForcedRules in circuits/forced.circom).

    The contract refused every request whose fields a proof could not reject, so a field
    rule failing here is a malformed block, not a rejection."""
    check_withdraw_fields(op.as_withdraw())
    attempt = state.fork()
    try:
        slot = apply_withdraw(attempt, params, op.as_withdraw(), check_signatures=True)
    except InvalidOperation as reason:
        read = None
        if 0 <= op.sender < params.capacity:
            read = LeafRead(op.sender, state.get(op.sender), state.tree.siblings(op.sender))
        return SlotTrace(op, forced_rejected(op), None, None, rejected=reason, read=read)
    state.merge(attempt)
    return replace(slot, op=op, pubdata=pubdata_op(op, False))


def apply_op(
    state: State, params: ChainParams, op: Operation, check_signatures: bool = True
) -> SlotTrace:
    """Apply one operation to `state` in place (callers pass a fork)."""
    if isinstance(op, Deposit):
        return apply_deposit(state, params, op)
    if isinstance(op, Transfer):
        return apply_transfer(state, params, op, check_signatures)
    if isinstance(op, Withdraw):
        return apply_withdraw(state, params, op, check_signatures)
    if isinstance(op, ForcedWithdraw):
        return apply_forced(state, params, op)
    raise MalformedOperation(f"unknown operation {type(op).__name__}")


def fee_of(slot: SlotTrace) -> int:
    if isinstance(slot.op, Deposit) or slot.rejected is not None:
        return 0
    return slot.op.fee


def credit_fees(state: State, params: ChainParams, fees: int) -> LeafUpdate:
    """Fees go to the operator once per block, after every slot (one update in the circuit)."""
    fee_account = state.get(params.fee_account)
    if fee_account is None:
        raise UnknownAccount("the fee account does not exist (genesis must create it)")
    return write(state, params.fee_account, credit(fee_account, fee_account.pubkey, fees))


class BlockBuilder:
    """Adds operations to a block one at a time; a rejected one leaves no trace.

    `apply_block` (all-or-nothing, for everyone replaying a block) and the
    sequencer (which drops what fails and keeps going) share this one path, so
    there is a single implementation of the rules.
    """

    def __init__(
        self, state: State, params: ChainParams, block_number: int, check_signatures: bool = True
    ) -> None:
        self.params = params
        self.block_number = block_number
        self.check_signatures = check_signatures
        self.fork = state.fork()
        self.old_root = self.fork.root
        self.slots: list[SlotTrace] = []
        self.records = 0
        self.fees = 0
        self.forced_digest = 0

    @property
    def full(self) -> bool:
        return len(self.slots) >= self.params.block_slots

    def add(self, op: Operation) -> SlotTrace:
        if self.full:
            raise BlockTooLarge(f"the block has only {self.params.block_slots} slots")
        if isinstance(op, ForcedWithdraw) and self.slots:
            raise MisplacedForced("a forced withdrawal must be slot 0 of its block")
        attempt = self.fork.fork()
        slot = apply_op(attempt, self.params, op, self.check_signatures)
        needs_record = slot.pubdata.encode()[1] is not None
        if needs_record and self.records >= self.params.block_records:
            raise BlockTooLarge(f"the block has only {self.params.block_records} record slots")
        self.fork.merge(attempt)
        self.slots.append(slot)
        self.records += needs_record
        self.fees += fee_of(slot)
        if isinstance(op, ForcedWithdraw):
            self.forced_digest = op.digest()
        return slot

    def finish(self) -> BlockResult:
        fee_update = credit_fees(self.fork, self.params, self.fees)
        pubdata = BlockPubdata.from_ops([s.pubdata for s in self.slots], self.forced_digest)
        new_root = self.fork.root
        trace = BlockTrace(
            self.block_number, self.old_root, new_root, tuple(self.slots), fee_update, self.fees
        )
        pi = public_input(self.params, self.block_number, self.old_root, new_root, pubdata)
        return BlockResult(self.fork, pubdata, trace, pi)


def apply_block(
    state: State,
    params: ChainParams,
    block_number: int,
    ops: list[Operation],
    check_signatures: bool = True,
) -> BlockResult:
    """Apply a whole block or nothing; `state` itself is never modified.

    `check_signatures=False` is only for a sequencer whose mempool already
    verified each signature against the sender's key (a leaf's key never
    changes, so that verdict cannot go stale). Everyone else checks.
    """
    builder = BlockBuilder(state, params, block_number, check_signatures)
    for op in ops:
        builder.add(op)
    return builder.finish()
