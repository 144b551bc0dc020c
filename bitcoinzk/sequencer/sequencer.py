"""The sequencer: admits operations, orders them, and produces blocks.

It is synchronous and single-threaded on purpose; the node calls it from one
event loop, so admission, block production and persistence never interleave.
A block is written (block, receipts, mempool removals, accounts, tree nodes)
in one SQLite transaction before the in-memory state adopts it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from bitcoinzk.crypto.eddsa import PublicKey
from bitcoinzk.sequencer.mempool import AlreadyKnown, L2Mempool
from bitcoinzk.sequencer.store import BatchStatus, Receipt, Store, StoredBlock
from bitcoinzk.spec.errors import BlockTooLarge, InvalidOperation, MalformedOperation
from bitcoinzk.spec.genesis import Genesis
from bitcoinzk.spec.params import MAX_SATS, ChainParams
from bitcoinzk.spec.state import State
from bitcoinzk.spec.stf import BlockBuilder, BlockTrace
from bitcoinzk.spec.tree import NodeKey
from bitcoinzk.spec.types import (
    Account,
    Deposit,
    ForcedWithdraw,
    Operation,
    Transfer,
    UserOperation,
    op_hash,
)

FORCED_NEXT = "forced_next"
"""Store meta key: the index of the next forced withdrawal a block must process (the number
of forced withdrawals in blocks so far: the contract processes its queue in order)."""


class GenesisMismatch(Exception):
    """The data directory was created for another chain."""


@dataclass
class SequencerConfig:
    block_time: float = 1.0
    max_block_txs: int | None = None  # defaults to the circuit's slots
    min_fee: int = 1
    max_mempool: int = 200_000


@dataclass(frozen=True)
class Admission:
    tx_hash: bytes
    error: InvalidOperation | None = None


class Sequencer:
    def __init__(
        self,
        store: Store,
        genesis: Genesis,
        config: SequencerConfig | None = None,
        witness: Callable[[BlockTrace], dict[str, Any]] | None = None,
    ) -> None:
        """`witness`, when given, turns each block's trace into the prover's circuit
        inputs, stored with the block: the trace needs the pre-block tree, which is
        gone once the next block lands."""
        self.witness = witness
        self.store = store
        self.genesis = genesis
        self.params: ChainParams = genesis.params
        self.config = config or SequencerConfig()
        self.max_block_txs = min(
            self.config.max_block_txs or self.params.block_slots, self.params.block_slots
        )
        self.state = self._load_or_init()
        self.head = store.head()
        self.mempool = L2Mempool(self.params, self.config.min_fee, self.config.max_mempool)
        self.deposits: dict[bytes, tuple[int, Deposit]] = {}
        self.forced: dict[int, ForcedWithdraw] = {}
        """Forced withdrawals queued on the contract and not yet in a block, by index."""
        self.forced_next = int(store.get_meta(FORCED_NEXT) or "0")
        self._reload_mempool()
        self.last_block_time = time.monotonic()

    # --- start-up ---

    def _load_or_init(self) -> State:
        stored = self.store.get_meta("genesis")
        mine = json.dumps(self.genesis.to_json(), sort_keys=True)
        if stored is None:
            state = self.genesis.state()
            with self.store.transaction():
                self.store.set_meta("genesis", mine)
                self.store.set_meta("genesis_root", hex(state.root))
                self.store.save_state(dict(state.accounts), dict(state.tree.nodes))
            return state
        if stored != mine:
            raise GenesisMismatch("this data directory belongs to a different genesis")
        state = self.store.load_state(self.params.tree_depth)
        head = self.store.head()
        expected = (
            self.store.get_block(head).new_root  # type: ignore[union-attr]
            if head > 0
            else int(self.store.get_meta("genesis_root") or "0", 16)
        )
        if state.root != expected:
            raise RuntimeError("stored tree does not match the head block's root")
        return state

    def _reload_mempool(self) -> None:
        for seq, tx_hash, op, received in self.store.mempool():
            if isinstance(op, Deposit):
                self.deposits[tx_hash] = (seq, op)
                continue
            if isinstance(op, ForcedWithdraw):  # never stored there: the contract holds them
                continue
            try:
                self.mempool.check(self.state, op, tx_hash)
            except InvalidOperation as exc:
                # Only possible if the chain moved under a persisted entry; keep its story.
                with self.store.transaction():
                    self.store.remove_from_mempool([tx_hash])
                    self.store.put_receipt(Receipt(tx_hash, "dropped", None, None, str(exc), {}))
                continue
            self.mempool.add(op, tx_hash, received, seq)

    # --- admission ---

    def tx_hash(self, op: Operation) -> bytes:
        return op_hash(op, self.params.chain_id)

    def admit(self, ops: list[tuple[UserOperation, bytes]]) -> list[Admission]:
        """Admit (operation, tx hash) pairs whose signatures the caller verified.

        The caller passes the hash (the signed message it verified) so the
        400 µs Poseidon is not computed twice. One fsync serves them all.
        """
        results: list[Admission] = []
        accepted: list[tuple[bytes, Operation, float]] = []
        now = time.time()
        for op, tx_hash in ops:
            try:
                if self.store.get_receipt(tx_hash) is not None:
                    raise AlreadyKnown("transaction already processed")
                self.mempool.check(self.state, op, tx_hash)
            except InvalidOperation as exc:
                results.append(Admission(tx_hash, exc))
                continue
            self.mempool.add(op, tx_hash, now)
            accepted.append((tx_hash, op, now))
            results.append(Admission(tx_hash))
        if accepted:
            try:
                with self.store.transaction():
                    self.store.add_to_mempool(accepted)
            except BaseException:
                for tx_hash, _, _ in accepted:
                    self.mempool.remove(tx_hash)
                raise
        return results

    def credit_deposit(self, recipient: bytes, amount: int, txid: str, vout: int) -> bytes:
        """Queue a Bitcoin deposit for the next block; idempotent per outpoint.

        Only the bridge calls this. The recipient is a packed BabyJubJub key;
        its index is resolved (or created) when the deposit is included.
        """
        try:
            pubkey = PublicKey.from_bytes(recipient)
            raw_txid = bytes.fromhex(txid)
        except Exception as exc:
            raise MalformedOperation(f"bad deposit: {exc}") from None
        op = Deposit(0, pubkey, amount, raw_txid, vout)
        tx_hash = op.tx_hash()
        if tx_hash in self.deposits or self.store.get_receipt(tx_hash) is not None:
            return tx_hash
        if not 1 <= amount <= MAX_SATS or len(raw_txid) != 32 or not 0 <= vout < 2**32:
            raise MalformedOperation("deposit amount or txid out of range")
        with self.store.transaction():
            self.store.add_to_mempool([(tx_hash, op, time.time())])
        seq = max((s for s, _ in self.deposits.values()), default=0) + 1
        self.deposits[tx_hash] = (seq, op)
        return tx_hash

    def add_forced(self, request: ForcedWithdraw) -> bool:
        """A forced withdrawal the contract queued (from its event): the next blocks
        process the queue in order, one per block in slot 0, whatever the mempool holds,
        so that no batch reaches the contract without a due request. Idempotent; False
        if the request is already in a block."""
        if request.index < self.forced_next:
            return False
        self.forced[request.index] = request
        return True

    def next_forced(self) -> ForcedWithdraw | None:
        return self.forced.get(self.forced_next)

    # --- block production ---

    def block_due(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if self.next_forced() is not None:
            return True
        pending = len(self.mempool) + len(self.deposits)
        if pending == 0:
            return False
        return pending >= self.max_block_txs or now - self.last_block_time >= self.config.block_time

    def candidates(self) -> list[tuple[bytes, Operation]]:
        """What the next block may take, in order: deposits first (they are already
        final on Bitcoin and owe no fee), then the mempool's fair order."""
        out: list[tuple[bytes, Operation]] = []
        forced = self.next_forced()
        if forced is not None:
            out.append((self.tx_hash(forced), forced))
        out += [(h, op) for h, (_, op) in sorted(self.deposits.items(), key=lambda kv: kv[1][0])]
        out += [(e.tx_hash, e.op) for e in self.mempool.ordered(self.max_block_txs * 2)]
        return out

    def begin_block(self) -> tuple[int, list[tuple[bytes, Operation]]] | None:
        """The next block's number and candidates, or None if there is nothing to do."""
        self.last_block_time = time.monotonic()
        if len(self.mempool) + len(self.deposits) == 0 and self.next_forced() is None:
            return None
        return self.head + 1, self.candidates()

    def produce_block(self) -> StoredBlock | None:
        """Build and commit the next block in this process."""
        begun = self.begin_block()
        if begun is None:
            return None
        number, candidates = begun
        built = build_block(
            self.state, self.params, number, candidates, self.max_block_txs, self.witness
        )
        return None if built is None else self.commit(built)

    def commit(self, built: BuiltBlock) -> StoredBlock | None:
        """Store a built block atomically, then adopt its state changes."""
        dropped: list[tuple[bytes, str]] = list(built.failed)
        forced = [op for _, op in built.included if isinstance(op, ForcedWithdraw)]
        if forced and forced[0].index != self.forced_next:
            raise ValueError(
                f"block processes forced request {forced[0].index}, not {self.forced_next}"
            )
        for tx_hash, _ in built.failed:
            entry = self.mempool.entries.get(tx_hash)
            if entry is not None:
                # Later nonces of this sender can never apply now.
                for later in self.mempool.drop_sender_from(entry.op.sender, entry.op.nonce + 1):
                    dropped.append((later.tx_hash, "dropped: an earlier nonce failed"))
        block = None
        number = built.number
        with self.store.transaction():
            if built.included:
                block = StoredBlock(
                    number=number,
                    old_root=built.old_root,
                    new_root=built.new_root,
                    timestamp=time.time(),
                    ops=[op.to_json() for _, op in built.included],
                    pubdata=built.pubdata,
                    public_input=built.public_input,
                    fees=built.fees,
                )
                self.store.insert_block(block)
                self.store.save_state(built.accounts, built.nodes)
                for position, (tx_hash, op) in enumerate(built.included):
                    self.store.put_receipt(Receipt.included(tx_hash, number, position, op))
                self.store.put_batch(number, BatchStatus.PENDING, built.public_input, None, {})
                if forced:
                    self.store.set_meta(FORCED_NEXT, str(forced[0].index + 1))
                if built.inputs is not None:
                    self.store.set_batch_inputs(number, built.inputs)
            for tx_hash, error in dropped:
                self.store.put_receipt(Receipt(tx_hash, "failed", None, None, error, {}))
            hashes = [h for h, _ in built.included] + [h for h, _ in dropped]
            self.store.remove_from_mempool(hashes)
        if built.included:
            self.state.adopt(built.accounts, built.nodes)
            self.head = number
        if forced:
            self.forced.pop(forced[0].index, None)
            self.forced_next = forced[0].index + 1
        for tx_hash in hashes:
            self.mempool.remove(tx_hash)
            self.deposits.pop(tx_hash, None)
        return block


@dataclass(frozen=True)
class BuiltBlock:
    """A block as built: what to store, and the state changes to adopt.

    Plain data, so a block can be built in another process (the tree hashing
    costs about a millisecond per transfer) while this one keeps admitting.
    """

    number: int
    included: list[tuple[bytes, Operation]]
    failed: list[tuple[bytes, str]]
    old_root: int
    new_root: int
    pubdata: bytes
    public_input: int
    fees: int
    accounts: dict[int, Account]
    nodes: dict[NodeKey, int]
    inputs: dict[str, Any] | None


def resolve_recipient(fork: State, op: Operation) -> Operation:
    """Give a payment its recipient index: the key's account, or the next free leaf."""
    if isinstance(op, Transfer):
        index = fork.index_of(op.recipient_pubkey)
        return replace(op, recipient=fork.next_free_index() if index is None else index)
    if isinstance(op, Deposit):
        index = fork.index_of(op.pubkey)
        return replace(op, recipient=fork.next_free_index() if index is None else index)
    return op


def build_block(
    state: State,
    params: ChainParams,
    number: int,
    candidates: list[tuple[bytes, Operation]],
    max_txs: int,
    witness: Callable[[BlockTrace], dict[str, Any]] | None = None,
) -> BuiltBlock | None:
    """Fill a block from `candidates` in order, dropping what the STF rejects.

    `state` is not modified. Signatures are not checked again: the mempool
    verified each one against the sender's key, which never changes.
    """
    builder = BlockBuilder(state, params, number, check_signatures=False)
    included: list[tuple[bytes, Operation]] = []
    failed: list[tuple[bytes, str]] = []
    skipped_senders: set[int] = set()
    for tx_hash, op in candidates:
        if len(included) >= max_txs or builder.full:
            break
        if isinstance(op, ForcedWithdraw):
            # never dropped: the STF executes or rejects it, and the contract needs it
            builder.add(op)
            included.append((tx_hash, op))
            continue
        if not isinstance(op, Deposit) and op.sender in skipped_senders:
            continue
        resolved = resolve_recipient(builder.fork, op)
        try:
            builder.add(resolved)
        except BlockTooLarge:
            # No room left of the kind this op needs; it waits for the next block.
            if not isinstance(op, Deposit):
                skipped_senders.add(op.sender)
            continue
        except InvalidOperation as exc:
            failed.append((tx_hash, f"{type(exc).__name__}: {exc}"))
            if not isinstance(op, Deposit):
                skipped_senders.add(op.sender)
            continue
        included.append((tx_hash, resolved))
    if not included and not failed:
        return None
    if not included:
        root = state.root
        return BuiltBlock(number, [], failed, root, root, b"", 0, 0, {}, {}, None)
    result = builder.finish()
    accounts, nodes = result.state.changes()
    return BuiltBlock(
        number=number,
        included=included,
        failed=failed,
        old_root=result.trace.old_root,
        new_root=result.trace.new_root,
        pubdata=result.pubdata.to_bytes(),
        public_input=result.public_input,
        fees=result.trace.fees_collected,
        accounts=accounts,
        nodes=nodes,
        inputs=None if witness is None else witness(result.trace),
    )
