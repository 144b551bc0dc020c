"""SQLite indexes beside the kernel's own files: active chain, UTXO set, tx index, undo.

The kernel keeps blocks and its chainstate; it exposes no coin lookup, so the
node keeps its own UTXO index.  Every block is applied in one SQLite
transaction (WAL mode), together with the undo rows needed to disconnect it
in a reorg, so a killed process restarts with the index at a block boundary
and `RegtestNode` resynchronises it with the kernel's tip.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from .. import sqlite
from .block import Block
from .tx import OutPoint, Tx, TxOut

SCHEMA = """
CREATE TABLE IF NOT EXISTS chain (height INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS utxo (
    txid TEXT NOT NULL, vout INTEGER NOT NULL, value INTEGER NOT NULL, spk BLOB NOT NULL,
    height INTEGER NOT NULL, coinbase INTEGER NOT NULL, block_hash TEXT NOT NULL,
    PRIMARY KEY (txid, vout));
CREATE INDEX IF NOT EXISTS utxo_spk ON utxo (spk);
CREATE INDEX IF NOT EXISTS utxo_block ON utxo (block_hash);
CREATE TABLE IF NOT EXISTS undo (
    block_hash TEXT NOT NULL, txid TEXT NOT NULL, vout INTEGER NOT NULL, value INTEGER NOT NULL,
    spk BLOB NOT NULL, height INTEGER NOT NULL, coinbase INTEGER NOT NULL, src_block TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS undo_block ON undo (block_hash);
CREATE TABLE IF NOT EXISTS txindex (
    txid TEXT PRIMARY KEY, block_hash TEXT NOT NULL, pos INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS txindex_block ON txindex (block_hash);
CREATE TABLE IF NOT EXISTS rawblocks (hash TEXT PRIMARY KEY, raw BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS mempool (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, txid TEXT UNIQUE, raw BLOB);
"""


@dataclass(frozen=True)
class TxLookup:
    """A transaction and where it is: what both Bitcoin backends (embedded, bitcoind) return."""

    tx: Tx
    block_hash: str | None  # None while in the mempool
    height: int | None


@dataclass(frozen=True)
class Coin:
    """An unspent output as the index knows it."""

    outpoint: OutPoint
    output: TxOut
    height: int
    coinbase: bool


def open_db(path: Path) -> sqlite3.Connection:
    """WAL with synchronous=NORMAL: durable at every commit for a process crash, the
    failure the node must survive; the kernel's own files can rebuild the rest."""
    return sqlite.open_db(path, "NORMAL")


class ChainIndex:
    def __init__(self, path: Path) -> None:
        self.db = open_db(path)
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return sqlite.transaction(self.db)

    # --- chain ---------------------------------------------------------------------------

    def height(self) -> int:
        row = self.db.execute("SELECT MAX(height) FROM chain").fetchone()
        return -1 if row[0] is None else int(row[0])

    def hash_at(self, height: int) -> str | None:
        row = self.db.execute("SELECT hash FROM chain WHERE height=?", (height,)).fetchone()
        return None if row is None else str(row[0])

    # --- coins ---------------------------------------------------------------------------

    def get_coin(self, op: OutPoint) -> Coin | None:
        row = self.db.execute(
            "SELECT value, spk, height, coinbase FROM utxo WHERE txid=? AND vout=?",
            (op.txid, op.vout),
        ).fetchone()
        if row is None:
            return None
        return Coin(op, TxOut(row[0], bytes(row[1])), row[2], bool(row[3]))

    def coins_for_script(self, spk: bytes) -> list[Coin]:
        rows = self.db.execute(
            "SELECT txid, vout, value, height, coinbase FROM utxo WHERE spk=? "
            "ORDER BY height, txid, vout",
            (spk,),
        ).fetchall()
        return [Coin(OutPoint(r[0], r[1]), TxOut(r[2], spk), r[3], bool(r[4])) for r in rows]

    def utxo_stats(self) -> tuple[int, int]:
        row = self.db.execute("SELECT COUNT(*), COALESCE(SUM(value),0) FROM utxo").fetchone()
        return int(row[0]), int(row[1])

    def tx_location(self, txid: str) -> tuple[str, int] | None:
        row = self.db.execute(
            "SELECT block_hash, pos FROM txindex WHERE txid=?", (txid,)
        ).fetchone()
        return None if row is None else (str(row[0]), int(row[1]))

    # --- connect / disconnect --------------------------------------------------------------

    def connect(self, block: Block, height: int, raw: bytes) -> None:
        """Apply a block the kernel has connected: spend its inputs (saving undo), add outputs.

        The raw block is kept too: libbitcoinkernel flushes its block index lazily, so
        after a hard kill it can come back behind us, and the node then replays these
        blocks into it (the kernel validates them again)."""
        bhash = block.hash
        with self._tx() as db:
            db.execute("INSERT INTO chain (height, hash) VALUES (?, ?)", (height, bhash))
            db.execute("INSERT OR IGNORE INTO rawblocks VALUES (?, ?)", (bhash, raw))
            for pos, tx in enumerate(block.txs):
                txid = tx.txid
                if not tx.is_coinbase():
                    for txin in tx.vin:
                        op = txin.prevout
                        row = db.execute(
                            "SELECT value, spk, height, coinbase, block_hash FROM utxo "
                            "WHERE txid=? AND vout=?",
                            (op.txid, op.vout),
                        ).fetchone()
                        if row is None:
                            raise RuntimeError(f"index out of sync: {op} missing in block {bhash}")
                        db.execute(
                            "INSERT INTO undo VALUES (?,?,?,?,?,?,?,?)",
                            (bhash, op.txid, op.vout, *row),
                        )
                        db.execute("DELETE FROM utxo WHERE txid=? AND vout=?", (op.txid, op.vout))
                db.execute("INSERT OR REPLACE INTO txindex VALUES (?,?,?)", (txid, bhash, pos))
                db.executemany(
                    "INSERT OR REPLACE INTO utxo VALUES (?,?,?,?,?,?,?)",
                    [
                        (txid, n, o.value, o.script_pubkey, height, int(tx.is_coinbase()), bhash)
                        for n, o in enumerate(tx.vout)
                        # OP_RETURN is provably unspendable; the genesis coinbase is not a coin
                        if o.script_pubkey[:1] != b"\x6a" and height > 0
                    ],
                )

    def disconnect_tip(self) -> str:
        """Undo the tip block: drop its outputs, restore what it spent. Returns its hash."""
        height = self.height()
        bhash = self.hash_at(height)
        assert bhash is not None
        with self._tx() as db:
            db.execute("DELETE FROM utxo WHERE block_hash=?", (bhash,))
            db.execute(
                "INSERT OR REPLACE INTO utxo "
                "SELECT txid, vout, value, spk, height, coinbase, src_block "
                "FROM undo WHERE block_hash=?",
                (bhash,),
            )
            db.execute("DELETE FROM undo WHERE block_hash=?", (bhash,))
            db.execute("DELETE FROM txindex WHERE block_hash=?", (bhash,))
            db.execute("DELETE FROM chain WHERE height=?", (height,))
        return bhash

    def raw_block(self, block_hash: str) -> bytes | None:
        row = self.db.execute("SELECT raw FROM rawblocks WHERE hash=?", (block_hash,)).fetchone()
        return None if row is None else bytes(row[0])

    # --- mempool persistence -----------------------------------------------------------------

    def save_mempool_tx(self, txid: str, raw: bytes) -> None:
        self.db.execute("INSERT OR IGNORE INTO mempool (txid, raw) VALUES (?, ?)", (txid, raw))

    def drop_mempool_txs(self, txids: list[str]) -> None:
        self.db.executemany("DELETE FROM mempool WHERE txid=?", [(t,) for t in txids])

    def load_mempool(self) -> list[bytes]:
        return [bytes(r[0]) for r in self.db.execute("SELECT raw FROM mempool ORDER BY seq")]

    def clear_mempool(self) -> None:
        self.db.execute("DELETE FROM mempool")
