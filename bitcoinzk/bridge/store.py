"""The bridge coordinator's durable state (SQLite, WAL): reveals, scanned chain,
deposits and their crediting status, the sweeps that took them into custody,
withdrawals and the payouts that paid them, the bridge's own outputs (`change`:
sweep outputs and payout change, i.e. the reserves), the fee ledger, and
alarms.  Every state change that must happen at most once is a row written in
the same SQLite transaction as the decision that causes it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ..bitcoin.tx import OutPoint
from ..sqlite import SqliteStore
from .deposit import DepositReveal

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS reveals (
    spk BLOB PRIMARY KEY, recipient BLOB NOT NULL, refund_key BLOB NOT NULL,
    timelock INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS scanned (height INTEGER PRIMARY KEY, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deposits (
    txid TEXT NOT NULL, vout INTEGER NOT NULL, spk BLOB NOT NULL, amount INTEGER NOT NULL,
    height INTEGER NOT NULL, block_hash TEXT NOT NULL,
    status TEXT NOT NULL,  -- seen | credited | spent_uncredited | too_late | too_small
    spent_by TEXT,
    PRIMARY KEY (txid, vout));
CREATE TABLE IF NOT EXISTS withdrawals (
    id TEXT PRIMARY KEY, amount INTEGER NOT NULL, spk BLOB NOT NULL, payout_txid TEXT);
CREATE TABLE IF NOT EXISTS payouts (
    txid TEXT PRIMARY KEY, raw BLOB NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS change (
    txid TEXT NOT NULL, vout INTEGER NOT NULL, amount INTEGER NOT NULL, spent_by TEXT,
    PRIMARY KEY (txid, vout));
CREATE TABLE IF NOT EXISTS sweeps (
    txid TEXT PRIMARY KEY, raw BLOB NOT NULL, created REAL NOT NULL,
    deadline INTEGER NOT NULL,          -- height from which a swept deposit's refund is valid
    alarmed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS swept (
    txid TEXT NOT NULL, vout INTEGER NOT NULL, sweep_txid TEXT NOT NULL,
    PRIMARY KEY (txid, vout));
-- one row per sweep or payout (and per unpayable withdrawal): fees charged to users
-- and the Bitcoin fee actually paid; the sum of the differences is the surplus
CREATE TABLE IF NOT EXISTS ledger (
    txid TEXT PRIMARY KEY, kind TEXT NOT NULL, charged INTEGER NOT NULL, paid INTEGER NOT NULL);
-- the one sweep and the one payout being signed, written before the first signer sees it:
-- a round cut short (a signer refused or lagged, a kill -9) is retried with the very same
-- transaction, which every signer that already reviewed it accepts again
CREATE TABLE IF NOT EXISTS intents (kind TEXT PRIMARY KEY, request TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alarms (id INTEGER PRIMARY KEY, time REAL, kind TEXT, detail TEXT);
"""


@dataclass(frozen=True)
class DepositRow:
    outpoint: OutPoint
    spk: bytes
    amount: int
    height: int
    block_hash: str
    status: str


class BridgeStore(SqliteStore):
    def __init__(self, path: Path) -> None:
        super().__init__(path, SCHEMA)
        columns = {r[1] for r in self.db.execute("PRAGMA table_info(deposits)")}
        if "credited_amount" not in columns:  # stores made before deposit fees
            self.db.execute("ALTER TABLE deposits ADD COLUMN credited_amount INTEGER")

    # --- reveals ---------------------------------------------------------------------------

    def add_reveal(self, spk: bytes, r: DepositReveal) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO reveals VALUES (?,?,?,?)",
            (spk, r.recipient, r.refund_key, r.timelock),
        )

    def reveal_for(self, spk: bytes) -> DepositReveal | None:
        row = self.db.execute(
            "SELECT recipient, refund_key, timelock FROM reveals WHERE spk=?", (spk,)
        ).fetchone()
        return None if row is None else DepositReveal(bytes(row[0]), bytes(row[1]), int(row[2]))

    # --- alarms ----------------------------------------------------------------------------

    def raise_alarm(self, kind: str, detail: str) -> None:
        self.db.execute(
            "INSERT INTO alarms (time, kind, detail) VALUES (?,?,?)", (time.time(), kind, detail)
        )

    def alarms(self) -> list[tuple[str, str]]:
        return [(str(r[0]), str(r[1])) for r in self.db.execute("SELECT kind, detail FROM alarms")]

    # --- signing intents -------------------------------------------------------------------

    def intent(self, kind: str) -> str | None:
        row = self.db.execute("SELECT request FROM intents WHERE kind=?", (kind,)).fetchone()
        return None if row is None else str(row[0])

    def set_intent(self, kind: str, request: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO intents VALUES (?, ?)", (kind, request))

    # --- deposits --------------------------------------------------------------------------

    def credited_amount(self, op: OutPoint) -> int | None:
        row = self.db.execute(
            "SELECT credited_amount, amount FROM deposits WHERE txid=? AND vout=? "
            "AND status='credited'",
            (op.txid, op.vout),
        ).fetchone()
        if row is None:
            return None
        return int(row[1] if row[0] is None else row[0])

    def sweep_of(self, op: OutPoint) -> str | None:
        row = self.db.execute(
            "SELECT sweep_txid FROM swept WHERE txid=? AND vout=?", (op.txid, op.vout)
        ).fetchone()
        return None if row is None else str(row[0])

    def surplus(self) -> int:
        row = self.db.execute("SELECT COALESCE(SUM(charged - paid), 0) FROM ledger").fetchone()
        return int(row[0])

    def deposits(self, status: str | None = None) -> list[DepositRow]:
        q = "SELECT txid, vout, spk, amount, height, block_hash, status FROM deposits"
        rows = self.db.execute(
            q + (" WHERE status=?" if status else ""), (status,) if status else ()
        )
        return [
            DepositRow(OutPoint(r[0], r[1]), bytes(r[2]), r[3], r[4], r[5], r[6])
            for r in rows.fetchall()
        ]
