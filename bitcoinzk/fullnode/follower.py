"""Follow a Silver Rollup contract and rebuild the Layer-2 state from its data alone.

Nothing here talks to the sequencer. The follower reads the contract's
`BatchCommitted` events and the calldata of the transactions that emitted
them, and for every batch, in order:

1. decodes the batch from the calldata and checks it against the event
   (`EvmBatchReader.decode`: new root, batch hash over the whole pubdata and
   both roots, withdrawals hash);
2. replays it with the STF on its own state (`replay_block`: every rule but the
   signatures, which are not published and which the proof checked), which must
   reproduce the pubdata byte for byte and reach the committed root;
3. continues the contract's hash chain c_n from its own values and requires the
   event's c_n, and at the last batch of each transaction the word the contract
   stored (`chainHashOf`), so a tampered event is caught by the contract's storage;
4. stores the block, its receipts, the state changes and an undo record in one
   SQLite transaction (a kill -9 leaves the batch wholly applied or not at all).

Only blocks with `confirmations` are read. Each batch remembers the hash of the
EVM block that carried it: when the chain under the follower's cursor changed (a
reorg), the batches whose block changed are rolled back with their undo records
and followed again from the new chain.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils.address import to_checksum_address

from bitcoinzk.crypto.eddsa import PublicKey
from bitcoinzk.da.evm import (
    PROCESSED_EVENT,
    DataUnavailable,
    EvmBatchReader,
    PublishedBatch,
    replay_operations,
)
from bitcoinzk.node.rpc.params import account_json
from bitcoinzk.sequencer.store import BatchStatus, Receipt, Store, StoredBlock
from bitcoinzk.settlement.evm.abi import Event
from bitcoinzk.settlement.evm.client import EvmClient
from bitcoinzk.settlement.evm.rollup import GENESIS_CHAIN_HASH, Deployment, Rollup, next_chain_hash
from bitcoinzk.spec.genesis import Genesis
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.state import State
from bitcoinzk.spec.tree import NodeKey
from bitcoinzk.spec.types import Account, ForcedWithdraw, Operation, Transfer, op_hash

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS da_batches (
    number INTEGER PRIMARY KEY,
    evm_block INTEGER NOT NULL,
    evm_block_hash BLOB NOT NULL,
    tx_hash BLOB NOT NULL,
    chain_hash BLOB NOT NULL,
    undo BLOB NOT NULL
);
"""

LOG_RANGE = 2_000
"""EVM blocks per `eth_getLogs` call (public endpoints cap the range)."""


class FollowerError(Exception):
    """The full node cannot follow this chain (wrong contract, wrong genesis, bad data)."""


class WrongChain(FollowerError):
    """The contract was not deployed for this genesis, or the data directory follows
    another contract."""


def deployment_at(client: EvmClient, address: str, from_block: int = 0) -> Deployment:
    """What the contract at `address` says it is, read from the chain (no file needed)."""
    rollup = Rollup(
        client,
        Deployment(address, "", "", 0, 0, 0, 0, 0, from_block),
    )
    if not client.code(address):
        raise WrongChain(f"there is no contract at {address} on this chain")
    slots, records = rollup.shape()
    return Deployment(
        rollup=str(to_checksum_address(address)),
        verifier=str(to_checksum_address(rollup._view("VERIFIER"))),
        sequencer=rollup.sequencer(),
        genesis_root=int(rollup._view("GENESIS_ROOT")),
        chain_id=int(rollup._view("CHAIN_ID")),
        fee_account=int(rollup._view("FEE_ACCOUNT")),
        block_slots=slots,
        block_records=records,
        deploy_block=from_block,
        forced_deadline=int(rollup._view("FORCED_DEADLINE")),
        exit_verifier=str(to_checksum_address(rollup._view("EXIT_VERIFIER"))),
    )


@dataclass(frozen=True)
class SyncReport:
    """What one `sync_once` did."""

    applied: int
    rolled_back: int
    head: int
    transfers: int


def _undo_of(state: State, accounts: dict[int, Account], nodes: dict[NodeKey, int]) -> bytes:
    """The values a batch overwrote (None: absent before), to roll it back after a reorg."""
    old_accounts = {}
    for index in accounts:
        before = state.accounts.get(index)
        old_accounts[str(index)] = (
            None if before is None else [before.pubkey.hex(), before.balance, before.nonce]
        )
    old_nodes = [
        [level, idx, None if (v := state.tree.nodes.get((level, idx))) is None else hex(v)]
        for level, idx in nodes
    ]
    return zlib.compress(json.dumps({"accounts": old_accounts, "nodes": old_nodes}).encode())


class StoredFollower:
    """The store side of a full node, whatever layer it reads: the state, the blocks and
    receipts, one `da_batches` row with an undo record per batch, each batch written in
    one SQLite transaction, rolled back newest first, and the read methods the RPC uses.

    `source` names what the data directory follows (a Rollup address, or Gold): a data
    directory never switches to another source."""

    def __init__(self, store: Store, genesis: Genesis, source: str) -> None:
        self.store = store
        self.genesis = genesis
        self.params: ChainParams = genesis.params
        self.lock = threading.RLock()
        """Held while a batch is applied or rolled back; readers (RPC) take it too, so a
        Merkle proof is never read half way through an update."""
        store.db.executescript(SCHEMA)
        self.state = self._load_or_init(source)
        self.head = store.head()
        self.last_error: str | None = None
        self.synced_at: float | None = None
        self.stopping = threading.Event()
        """Set to end a running `sync_once` at the next batch boundary (shutdown)."""
        self.busy = threading.Lock()
        """Held by `sync_once`: whoever closes the store waits for it first."""

    def _check_genesis(self, root: int) -> None:
        """Raise WrongChain if the layer followed was not set up for this genesis."""

    def _first_meta(self) -> dict[str, str]:
        """Meta written with the genesis into a new data directory."""
        return {}

    def _load_or_init(self, source: str) -> State:
        g = self.genesis.state()
        self._check_genesis(g.root)
        mine = json.dumps(self.genesis.to_json(), sort_keys=True)
        stored = self.store.get_meta("genesis")
        if stored is None:
            with self.store.transaction():
                self.store.set_meta("genesis", mine)
                self.store.set_meta("genesis_root", hex(g.root))
                self.store.set_meta("da_rollup", source)
                for key, value in self._first_meta().items():
                    self.store.set_meta(key, value)
                self.store.save_state(dict(g.accounts), dict(g.tree.nodes))
            return g
        if stored != mine:
            raise WrongChain("this data directory belongs to a different genesis")
        if self.store.get_meta("da_rollup") != source:
            raise WrongChain(
                f"this data directory follows {self.store.get_meta('da_rollup')}, not {source}"
            )
        state = self.store.load_state(self.params.tree_depth)
        head = self.store.head()
        block = self.store.get_block(head)
        expected = block.new_root if block is not None else g.root
        if state.root != expected:
            raise FollowerError("stored tree does not match the head block's root")
        return state

    def sync_once(self, max_batches: int | None = None) -> SyncReport:
        raise NotImplementedError

    def info(self) -> dict[str, Any]:
        """What `bzk_chainInfo` adds about the layer followed."""
        return {}

    def close(self) -> None:
        self.store.close()

    def _batch_row(self, number: int) -> tuple[int, bytes, bytes] | None:
        """(block, block hash, chain hash) of an applied batch."""
        row = self.store.db.execute(
            "SELECT evm_block, evm_block_hash, chain_hash FROM da_batches WHERE number=?",
            (number,),
        ).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]), bytes(row[2]))

    def _store_batch(
        self,
        stored: StoredBlock,
        ops: Sequence[Operation],
        new_state: State,
        proof: bytes,
        info: dict[str, Any],
        da_row: tuple[int, bytes, bytes, bytes],
    ) -> int:
        """Write one replayed batch (its block, receipts, state changes and, in
        `da_batches`, (block, block hash, transaction, chain hash) with the undo record)
        in one transaction, then adopt it; the number of transfers."""
        number = stored.number
        accounts, nodes = new_state.changes()
        undo = _undo_of(self.state, accounts, nodes)
        with self.lock:
            with self.store.transaction():
                self.store.insert_block(stored)
                self.store.save_state(accounts, nodes)
                for position, op in enumerate(ops):
                    tx_hash = op_hash(op, self.params.chain_id)
                    self.store.put_receipt(Receipt.included(tx_hash, number, position, op))
                self.store.put_batch(number, BatchStatus.FINAL, stored.public_input, proof, info)
                self.store.db.execute(
                    "INSERT INTO da_batches VALUES (?,?,?,?,?,?)", (number, *da_row, undo)
                )
            self.state.adopt(accounts, nodes)
            self.head = number
        return sum(1 for op in ops if isinstance(op, Transfer))

    def _roll_back_head(self) -> None:
        """Undo the head batch (a reorg dropped the block that carried it)."""
        number = self.head
        row = self.store.db.execute(
            "SELECT undo FROM da_batches WHERE number=?", (number,)
        ).fetchone()
        if row is None:
            raise FollowerError(f"no undo record for batch {number}")
        undo = json.loads(zlib.decompress(row[0]))
        with self.lock:
            with self.store.transaction() as db:
                for index, old in undo["accounts"].items():
                    if old is None:
                        db.execute("DELETE FROM accounts WHERE idx=?", (int(index),))
                    else:
                        db.execute(
                            "INSERT OR REPLACE INTO accounts(idx, pubkey, balance, nonce) "
                            "VALUES (?,?,?,?)",
                            (int(index), old[0], old[1], old[2]),
                        )
                for level, idx, value in undo["nodes"]:
                    if value is None:
                        db.execute("DELETE FROM nodes WHERE level=? AND idx=?", (level, idx))
                    else:
                        db.execute(
                            "INSERT OR REPLACE INTO nodes(level, idx, value) VALUES (?,?,?)",
                            (level, idx, value),
                        )
                db.execute("DELETE FROM receipts WHERE block_number=?", (number,))
                db.execute("DELETE FROM blocks WHERE number=?", (number,))
                db.execute("DELETE FROM batches WHERE number=?", (number,))
                db.execute("DELETE FROM da_batches WHERE number=?", (number,))
            # Reorgs are rare: reloading is simpler than unpicking the in-memory maps.
            self.state = self.store.load_state(self.params.tree_depth)
            self.head = number - 1

    # --- reads ---

    def account(self, index: int) -> dict[str, Any] | None:
        with self.lock:
            return account_json(self.state, index)

    def exit_witness(self, index: int) -> dict[str, Any] | None:
        """What an exit claim proves (docs/exit.md): the account's leaf and Merkle path at
        the root of batch `batch`, the last one this node applied (in exodus, once
        synced, the contract's last root). None if there is no such account."""
        with self.lock:
            found = account_json(self.state, index)
            if found is None:
                return None
            del found["pending_nonce"]  # the proof is about the settled state alone
            return {"batch": self.head, **found}

    def index_of(self, pubkey: PublicKey) -> int | None:
        with self.lock:
            return self.state.index_of(pubkey)


class Follower(StoredFollower):
    """The Layer-2 state of one Rollup deployment, rebuilt from the EVM chain's data."""

    def __init__(
        self,
        store: Store,
        genesis: Genesis,
        rollup: Rollup,
        confirmations: int = 1,
    ) -> None:
        self.rollup = rollup
        self.client = rollup.client
        self.confirmations = max(1, confirmations)
        self.reader = EvmBatchReader(rollup, rollup.deployment.params())
        super().__init__(store, genesis, rollup.deployment.rollup)

    def _check_genesis(self, root: int) -> None:
        d = self.rollup.deployment
        params = self.params
        wrong = []
        if d.genesis_root != root:
            wrong.append(f"genesis root {hex(d.genesis_root)} on the contract, {hex(root)} here")
        for name, theirs, ours in (
            ("chain id", d.chain_id, params.chain_id),
            ("fee account", d.fee_account, params.fee_account),
            ("block slots", d.block_slots, params.block_slots),
            ("block records", d.block_records, params.block_records),
        ):
            if theirs != ours:
                wrong.append(f"{name} {theirs} on the contract, {ours} here")
        if wrong:
            raise WrongChain(
                f"rollup {d.rollup} was deployed for another chain: " + "; ".join(wrong)
            )

    def _first_meta(self) -> dict[str, str]:
        return {"da_cursor": str(self.rollup.deployment.deploy_block - 1)}

    def info(self) -> dict[str, Any]:
        return {
            "rollup": self.rollup.deployment.rollup,
            "evm_cursor": self.cursor,
            "confirmations": self.confirmations,
        }

    def close(self) -> None:
        self.store.close()
        self.client.close()

    # --- cursor ---

    @property
    def cursor(self) -> int:
        """The last EVM block whose events are all applied."""
        return int(self.store.get_meta("da_cursor") or "0")

    def _cursor_hash(self) -> bytes | None:
        raw = self.store.get_meta("da_cursor_hash")
        return None if raw is None else bytes.fromhex(raw)

    def _chain_hash(self) -> bytes:
        row = self._batch_row(self.head)
        return GENESIS_CHAIN_HASH if row is None else row[2]

    # --- following ---

    def sync_once(self, max_batches: int | None = None) -> SyncReport:
        """Apply every confirmed batch not applied yet (after undoing a reorg's).

        Raises DataUnavailable (or a subclass) when the chain's data does not match what
        the contract committed: nothing of the offending batch is kept.
        """
        with self.busy:
            return self._sync(max_batches)

    def _sync(self, max_batches: int | None) -> SyncReport:
        self.client.refresh()
        tip = self.client.block_number()
        safe = tip - self.confirmations + 1
        rolled = self._undo_reorg(tip)
        applied = 0
        transfers = 0
        start = self.cursor + 1
        while start <= safe:
            end = min(safe, start + LOG_RANGE - 1)
            # Read before the logs: if a reorg lands while reading, the cursor keeps the
            # old chain's hash and the next poll sees the change.
            end_hash = self.client.block_hash(end)
            if end_hash is None:
                break  # the chain just got shorter (a reorg): the next poll sorts it out
            logged = self.rollup.events(start, end)
            # a forced block's request is named by its ForcedWithdrawalProcessed event
            processed = {
                int(e.args["batch_number"]): int(e.args["index"])
                for e in logged
                if e.name == PROCESSED_EVENT
            }
            events = [e for e in logged if e.name == "BatchCommitted"]
            for batch, event, last_of_tx in self._decoded(events, processed):
                transfers += self._apply(batch, event, last_of_tx)
                applied += 1
                if self.stopping.is_set() or (max_batches is not None and applied >= max_batches):
                    # The cursor stays before this range: the rest is read again.
                    return SyncReport(applied, rolled, self.head, transfers)
            self._set_cursor(end, end_hash)
            start = end + 1
        self.synced_at = time.time()
        return SyncReport(applied, rolled, self.head, transfers)

    def _decoded(
        self, events: Sequence[Event], processed: dict[int, int]
    ) -> Iterator[tuple[PublishedBatch, Event, bool]]:
        """Each new event's batch (the i-th event of a transaction is its calldata's i-th
        batch), the event, and whether it is its transaction's last batch.
        Batches applied before a restart are skipped: the reorg check vouches for them.
        `processed`: batch number -> index of the forced withdrawal it processed."""
        index = 0
        for i, event in enumerate(events):
            index = index + 1 if i > 0 and events[i - 1].tx_hash == event.tx_hash else 0
            last = i + 1 == len(events) or events[i + 1].tx_hash != event.tx_hash
            number = int(event.args["batch_number"])
            if number <= self.head:
                continue
            at = processed.get(number)
            forced = None if at is None else self._forced_request(at)
            yield self.reader.decode(event, index, forced), event, last

    def _forced_request(self, index: int) -> ForcedWithdraw | None:
        """Queued forced withdrawal `index`, from its ForcedWithdrawalRequested event (read
        from the whole log: forced blocks are rare, and the request may be old)."""
        for request in self.rollup.forced_requests():
            if request.index == index:
                return request
        return None

    def _set_cursor(self, block: int, block_hash: bytes | None) -> None:
        with self.lock, self.store.transaction():
            self.store.set_meta("da_cursor", str(block))
            if block_hash is None:
                self.store.db.execute("DELETE FROM meta WHERE key='da_cursor_hash'")
            else:
                self.store.set_meta("da_cursor_hash", block_hash.hex())

    def _apply(self, batch: PublishedBatch, event: Event, last_of_tx: bool) -> int:
        """Replay one batch and store it; nothing is kept if any check fails."""
        number = batch.batch_number
        if number != self.head + 1:
            raise DataUnavailable(
                f"batch {self.head + 1} is missing from the chain's events (found {number})"
            )
        new_state, ops = replay_operations(self.state, self.params, batch)
        chain = next_chain_hash(
            self._chain_hash(), new_state.root, batch.batch_hash, batch.withdrawals_hash
        )
        if bytes(event.args["chain_hash"]) != chain:
            raise DataUnavailable(f"batch {number}: the event's chain hash does not follow")
        if last_of_tx and self.rollup.chain_hash_of(number) != chain:
            raise DataUnavailable(
                f"batch {number}: the contract's stored chain hash differs from the data's"
            )
        # The hash of the block the event was read from (a hash read now could already be
        # another chain's, and would hide that this batch came from a dropped block).
        block_hash = event.block_hash or self.client.block_hash(batch.block_number)
        if block_hash is None:
            raise DataUnavailable(f"batch {number}: its EVM block {batch.block_number} is gone")
        stored = StoredBlock(
            number=number,
            old_root=batch.old_root,
            new_root=batch.new_root,
            timestamp=time.time(),
            ops=[op.to_json() for op in ops],
            pubdata=batch.pubdata.to_bytes(),
            public_input=int.from_bytes(batch.batch_hash, "big") & ((1 << 253) - 1),
            fees=sum(getattr(op, "fee", 0) for op in ops),
        )
        info = {
            "settlement_tx": "0x" + batch.tx_hash.hex(),
            "settlement_block": batch.block_number,
            "chain_hash": "0x" + chain.hex(),
            "source": "da",
            "tx_count": len(ops),
        }
        return self._store_batch(
            stored,
            ops,
            new_state,
            batch.proof,
            info,
            (batch.block_number, block_hash, batch.tx_hash, chain),
        )

    # --- reorgs ---

    def _undo_reorg(self, tip: int) -> int:
        """Roll back the batches whose EVM block is no longer on the chain; their number."""
        cursor = self.cursor
        recorded = self._cursor_hash()
        if cursor < 0 or recorded is None:
            return 0
        if cursor <= tip and self.client.block_hash(cursor) == recorded:
            return 0
        rolled = 0
        while self.head > 0:
            row = self.store.db.execute(
                "SELECT evm_block, evm_block_hash FROM da_batches WHERE number=?", (self.head,)
            ).fetchone()
            if (
                row is not None
                and row[0] <= tip
                and self.client.block_hash(row[0]) == bytes(row[1])
            ):
                break
            log.warning("EVM reorg: rolling back batch %d", self.head)
            self._roll_back_head()
            rolled += 1
        row = self.store.db.execute(
            "SELECT evm_block FROM da_batches WHERE number=?", (self.head,)
        ).fetchone()
        back_to = min(tip, row[0] if row is not None else self.rollup.deployment.deploy_block - 1)
        self._set_cursor(back_to, self.client.block_hash(back_to) if back_to >= 0 else None)
        return rolled
