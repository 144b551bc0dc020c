"""SQLite storage for one node: blocks, receipts, mempool, accounts, tree nodes.

WAL mode with `synchronous=FULL`: a transaction the API acknowledged has been
committed and fsynced first, so kill -9 (or power loss) cannot lose it. Many
transactions share one commit (group commit), which is what keeps that cheap.
Everything a block changes is written in one SQLite transaction, so a restart
sees either the whole block or none of it.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from bitcoinzk.crypto.eddsa import PublicKey
from bitcoinzk.spec.state import State
from bitcoinzk.spec.tree import NodeKey
from bitcoinzk.spec.types import (
    Account,
    Deposit,
    ForcedWithdraw,
    Operation,
    Transfer,
    op_from_json,
)
from bitcoinzk.sqlite import SqliteStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (
    number INTEGER PRIMARY KEY,
    old_root TEXT NOT NULL,
    new_root TEXT NOT NULL,
    timestamp REAL NOT NULL,
    ops TEXT NOT NULL,
    pubdata BLOB NOT NULL,
    public_input TEXT NOT NULL,
    fees INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS receipts (
    tx_hash BLOB PRIMARY KEY,
    block_number INTEGER,
    position INTEGER,
    status TEXT NOT NULL,
    error TEXT,
    detail TEXT
);
CREATE TABLE IF NOT EXISTS mempool (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tx_hash BLOB UNIQUE NOT NULL,
    op TEXT NOT NULL,
    received REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    idx INTEGER PRIMARY KEY, pubkey TEXT NOT NULL, balance INTEGER NOT NULL, nonce INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS nodes (
    level INTEGER NOT NULL, idx INTEGER NOT NULL, value TEXT NOT NULL, PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batches (
    number INTEGER PRIMARY KEY,
    status TEXT NOT NULL,
    public_input TEXT NOT NULL,
    proof BLOB,
    info TEXT NOT NULL DEFAULT '{}',
    inputs BLOB
);
"""


class BatchStatus(StrEnum):
    """Where a block is in its proof lifecycle; the value is what the store keeps."""

    PENDING = "pending"
    PROVING = "proving"
    PROVEN = "proven"
    COMMITTED = "committed"
    FINAL = "final"
    FAILED = "failed"


@dataclass(frozen=True)
class BatchRecord:
    """What the store keeps about a block's batch: its status, the public input its
    proof must match, the proof once made, and what was recorded along the way
    (timings, settlement transaction, error)."""

    status: BatchStatus
    public_input: int
    proof: bytes | None
    info: dict[str, Any]


@dataclass(frozen=True)
class StoredBlock:
    number: int
    old_root: int
    new_root: int
    timestamp: float
    ops: list[dict[str, Any]]
    pubdata: bytes
    public_input: int
    fees: int


@dataclass(frozen=True)
class Receipt:
    tx_hash: bytes
    status: str
    block_number: int | None
    position: int | None
    error: str | None
    detail: dict[str, Any]

    @classmethod
    def included(cls, tx_hash: bytes, block_number: int, position: int, op: Operation) -> Receipt:
        """The receipt of `op` at `position` in block `block_number` (the sequencer's,
        and a full node's rebuilt from the published data: the same fields)."""
        detail: dict[str, Any] = {}
        if isinstance(op, ForcedWithdraw):
            detail = {"forced_index": op.index}
        elif isinstance(op, Transfer):
            detail = {"recipient": op.recipient}
        elif isinstance(op, Deposit):
            detail = {"recipient": op.recipient, "outpoint": op.outpoint}
        return cls(tx_hash, "included", block_number, position, None, detail)

    def to_json(self) -> dict[str, Any]:
        return {
            "hash": "0x" + self.tx_hash.hex(),
            "status": self.status,
            "block_number": self.block_number,
            "position": self.position,
            "error": self.error,
            **self.detail,
        }


class Store(SqliteStore):
    def __init__(self, path: str | Path) -> None:
        super().__init__(path, SCHEMA)

    # --- state ---

    def save_state(self, accounts: dict[int, Account], nodes: dict[NodeKey, int]) -> None:
        """Write changed accounts and tree nodes (inside the caller's transaction)."""
        self.db.executemany(
            "INSERT OR REPLACE INTO accounts(idx, pubkey, balance, nonce) VALUES (?,?,?,?)",
            [(i, a.pubkey.hex(), a.balance, a.nonce) for i, a in accounts.items()],
        )
        self.db.executemany(
            "INSERT OR REPLACE INTO nodes(level, idx, value) VALUES (?,?,?)",
            [(lvl, idx, hex(v)) for (lvl, idx), v in nodes.items()],
        )

    def load_state(self, depth: int) -> State:
        state = State(depth)
        for idx, pubkey, balance, nonce in self.db.execute(
            "SELECT idx, pubkey, balance, nonce FROM accounts ORDER BY idx"
        ):
            account = Account(PublicKey.from_hex(pubkey), balance, nonce)
            state.accounts[idx] = account
            state.by_pubkey.setdefault(account.pubkey, idx)
        for level, idx, value in self.db.execute("SELECT level, idx, value FROM nodes"):
            state.tree.nodes[(level, idx)] = int(value, 16)
        return state

    # --- blocks and receipts ---

    def head(self) -> int:
        """The latest block number; 0 is the genesis state, which has no block row."""
        row = self.db.execute("SELECT MAX(number) FROM blocks").fetchone()
        return 0 if row[0] is None else int(row[0])

    def insert_block(self, block: StoredBlock) -> None:
        self.db.execute(
            "INSERT INTO blocks VALUES (?,?,?,?,?,?,?,?)",
            (
                block.number,
                hex(block.old_root),
                hex(block.new_root),
                block.timestamp,
                json.dumps(block.ops),
                block.pubdata,
                hex(block.public_input),
                block.fees,
            ),
        )

    def get_block(self, number: int) -> StoredBlock | None:
        row = self.db.execute("SELECT * FROM blocks WHERE number=?", (number,)).fetchone()
        if row is None:
            return None
        return StoredBlock(
            row[0],
            int(row[1], 16),
            int(row[2], 16),
            row[3],
            json.loads(row[4]),
            bytes(row[5]),
            int(row[6], 16),
            row[7],
        )

    def put_receipt(self, receipt: Receipt) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO receipts VALUES (?,?,?,?,?,?)",
            (
                receipt.tx_hash,
                receipt.block_number,
                receipt.position,
                receipt.status,
                receipt.error,
                json.dumps(receipt.detail),
            ),
        )

    def get_receipt(self, tx_hash: bytes) -> Receipt | None:
        row = self.db.execute(
            "SELECT tx_hash, status, block_number, position, error, detail FROM receipts "
            "WHERE tx_hash=?",
            (tx_hash,),
        ).fetchone()
        if row is None:
            return None
        return Receipt(bytes(row[0]), row[1], row[2], row[3], row[4], json.loads(row[5] or "{}"))

    # --- mempool ---

    def add_to_mempool(self, entries: list[tuple[bytes, Operation, float]]) -> None:
        self.db.executemany(
            "INSERT INTO mempool(tx_hash, op, received) VALUES (?,?,?)",
            [(h, json.dumps(op.to_json()), t) for h, op, t in entries],
        )

    def remove_from_mempool(self, hashes: list[bytes]) -> None:
        self.db.executemany("DELETE FROM mempool WHERE tx_hash=?", [(h,) for h in hashes])

    def mempool(self) -> list[tuple[int, bytes, Operation, float]]:
        rows = self.db.execute("SELECT seq, tx_hash, op, received FROM mempool ORDER BY seq")
        return [(s, bytes(h), op_from_json(json.loads(o)), t) for s, h, o, t in rows]

    # --- batches (proof lifecycle) ---

    def set_batch_inputs(self, number: int, inputs: dict[str, Any]) -> None:
        """The prover's circuit inputs, kept with the block so a restart can still prove it."""
        blob = zlib.compress(json.dumps(inputs).encode())
        self.db.execute("UPDATE batches SET inputs=? WHERE number=?", (blob, number))

    def get_batch_inputs(self, number: int) -> dict[str, Any] | None:
        row = self.db.execute("SELECT inputs FROM batches WHERE number=?", (number,)).fetchone()
        if row is None or row[0] is None:
            return None
        loaded: dict[str, Any] = json.loads(zlib.decompress(row[0]))
        return loaded

    def update_batch(
        self, number: int, status: BatchStatus, proof: bytes | None = None, **info: Any
    ) -> None:
        """Move a batch to `status`, merging `info` into what is recorded about it."""
        current = self.get_batch(number)
        if current is None:
            raise KeyError(f"no batch {number}")
        merged = {**current.info, **info}
        self.db.execute(
            "UPDATE batches SET status=?, proof=COALESCE(?, proof), info=? WHERE number=?",
            (status, proof, json.dumps(merged), number),
        )

    def put_batch(
        self,
        number: int,
        status: BatchStatus,
        public_input: int,
        proof: bytes | None,
        info: dict[str, Any],
    ) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO batches(number, status, public_input, proof, info) "
            "VALUES (?,?,?,?,?)",
            (number, status, hex(public_input), proof, json.dumps(info)),
        )

    def get_batch(self, number: int) -> BatchRecord | None:
        row = self.db.execute(
            "SELECT status, public_input, proof, info FROM batches WHERE number=?", (number,)
        ).fetchone()
        if row is None:
            return None
        return BatchRecord(
            BatchStatus(row[0]),
            int(row[1], 16),
            None if row[2] is None else bytes(row[2]),
            json.loads(row[3]),
        )

    # --- what the explorer lists (read-only summaries) ---

    def latest_blocks(self, limit: int) -> list[tuple[int, float, list[dict[str, Any]], int, int]]:
        """The newest `limit` blocks, newest first: (number, timestamp, ops, pubdata bytes,
        fees), without the pubdata itself."""
        rows = self.db.execute(
            "SELECT number, timestamp, ops, length(pubdata), fees FROM blocks "
            "ORDER BY number DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [(n, ts, json.loads(ops), size, fees) for n, ts, ops, size, fees in rows]

    def latest_batches(self, limit: int) -> list[tuple[int, BatchStatus, dict[str, Any]]]:
        """The newest `limit` batches, newest first: (number, status, info)."""
        rows = self.db.execute(
            "SELECT number, status, info FROM batches ORDER BY number DESC LIMIT ?", (limit,)
        ).fetchall()
        return [(n, BatchStatus(status), json.loads(info)) for n, status, info in rows]

    def batch_status_counts(self) -> dict[BatchStatus, int]:
        rows = self.db.execute("SELECT status, COUNT(*) FROM batches GROUP BY status")
        return {BatchStatus(status): int(count) for status, count in rows}

    def included_count(self) -> int:
        """Operations included in blocks so far."""
        row = self.db.execute("SELECT COUNT(*) FROM receipts WHERE status='included'").fetchone()
        return int(row[0])

    def block_receipts(self, number: int) -> list[tuple[bytes, int, str]]:
        """(tx_hash, position, status) of the operations block `number` included."""
        rows = self.db.execute(
            "SELECT tx_hash, position, status FROM receipts WHERE block_number=?", (number,)
        )
        return [(bytes(h), int(pos), str(st)) for h, pos, st in rows]

    def batch_by_settlement_tx(self, tx_hash: str) -> int | None:
        """The batch that settlement transaction `tx_hash` (0x-hex, as recorded) committed."""
        row = self.db.execute(
            "SELECT number FROM batches WHERE json_extract(info, '$.settlement_tx') = ?",
            (tx_hash,),
        ).fetchone()
        return None if row is None else int(row[0])

    def batches_with_status(self, status: BatchStatus) -> list[int]:
        return [
            r[0]
            for r in self.db.execute(
                "SELECT number FROM batches WHERE status=? ORDER BY number", (status,)
            )
        ]
