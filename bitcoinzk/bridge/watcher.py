"""The deposit watcher: credits each confirmed deposit to Layer-2 exactly once.

It reads Bitcoin through `BlockSource` (the embedded `RegtestNode` or
`BitcoinRPC` against bitcoind: both have `height`, `block_hash`, `get_block`),
remembers the hash of every block it scanned, and on each `poll`:

1. walks back from its last scanned block until the hashes agree with the
   source (a reorg): deposits found in the abandoned blocks are forgotten if
   not yet credited; a credited one raises an alarm (a reorg deeper than the
   crediting depth is handled loudly, not ignored);
2. scans forward to the tip, recording outputs that pay a revealed deposit
   address, and marking deposits spent before crediting (refunds) as such;
3. credits deposits with `confirmations` or more, through `DepositSink`, and
   marks them credited.  The sink is idempotent per outpoint, so a crash between
   the two steps repeats the call harmlessly: exactly once end to end.

Hostile input is logged and skipped, never fatal: dust to a deposit address,
amounts out of range, unknown addresses, garbage scripts, huge transactions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from ..bitcoin.block import Block
from ..bitcoin.policy import dust_threshold
from ..bitcoin.tx import MAX_MONEY, TxOut
from .deposit import DepositReveal
from .signers import SignerSet
from .store import BridgeStore

log = logging.getLogger(__name__)

DEFAULT_CONFIRMATIONS = 6
MIN_DEPOSIT = 1_000  # sats; smaller deposits are not worth a Layer-2 operation


class DepositSink(Protocol):
    """The Layer-2 side (the sequencer): turns a credited deposit into a `Deposit` operation.

    Must be idempotent per (txid, vout): a second call for the same outpoint is a no-op."""

    def credit_deposit(self, recipient: bytes, amount: int, txid: str, vout: int) -> object: ...


class BlockSource(Protocol):
    def height(self) -> int: ...

    def block_hash(self, height: int) -> str: ...

    def get_block(self, block_hash: str) -> Block: ...


@dataclass(frozen=True)
class Credit:
    recipient: bytes
    amount: int
    txid: str
    vout: int


class DepositWatcher:
    def __init__(
        self,
        source: BlockSource,
        store: BridgeStore,
        sink: DepositSink,
        signer_set: SignerSet,
        confirmations: int = DEFAULT_CONFIRMATIONS,
        network: str = "regtest",
        start_height: int | None = None,
    ) -> None:
        if confirmations < 1:
            raise ValueError("confirmations must be >= 1")
        self.source = source
        self.store = store
        self.sink = sink
        self.signer_set = signer_set
        self.confirmations = confirmations
        self.network = network
        if store.get_meta("start_height") is None:
            start = source.height() if start_height is None else start_height
            store.set_meta("start_height", str(start))

    # --- reveal ----------------------------------------------------------------------------

    def register(self, reveal: DepositReveal) -> str:
        """Record a deposit reveal; returns the address to pay (`bzk_getDepositAddress`)."""
        spk = reveal.script_pubkey(self.signer_set)
        self.store.add_reveal(spk, reveal)
        return reveal.address(self.signer_set, self.network)

    def rpc_get_deposit_address(
        self, recipient: str, refund_key: str, timelock: int | None = None
    ) -> dict[str, object]:
        """JSON-RPC `bzk_getDepositAddress(recipient_hex, refund_xonly_hex[, timelock])`."""
        kwargs = {} if timelock is None else {"timelock": int(timelock)}
        reveal = DepositReveal(bytes.fromhex(recipient), bytes.fromhex(refund_key), **kwargs)
        return {
            "address": self.register(reveal),
            "timelock": reveal.timelock,
            "confirmations": self.confirmations,
        }

    # --- polling ---------------------------------------------------------------------------

    def _scanned_tip(self) -> tuple[int, str | None]:
        row = self.store.db.execute(
            "SELECT height, hash FROM scanned ORDER BY height DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return int(self.store.get_meta("start_height") or 0) - 1, None
        return int(row[0]), str(row[1])

    def poll(self) -> list[Credit]:
        self._follow_reorg()
        tip = self.source.height()
        height, _ = self._scanned_tip()
        for h in range(height + 1, tip + 1):
            bhash = self.source.block_hash(h)
            self._scan_block(self.source.get_block(bhash), h)
        return self._credit_confirmed(tip)

    def _follow_reorg(self) -> None:
        tip = self.source.height()
        while True:
            height, bhash = self._scanned_tip()
            if bhash is None or (height <= tip and self.source.block_hash(height) == bhash):
                return
            with self.store.transaction() as db:
                rows = db.execute(
                    "SELECT txid, vout, status FROM deposits WHERE block_hash=?", (bhash,)
                ).fetchall()
                for txid, vout, status in rows:
                    if status == "credited":
                        log.critical(
                            "credited deposit %s:%d reorged out at height %d", txid, vout, height
                        )
                        self.store.raise_alarm("credited-deposit-reorged", f"{txid}:{vout}")
                    else:
                        log.warning("deposit %s:%d reorged out before crediting", txid, vout)
                        db.execute("DELETE FROM deposits WHERE txid=? AND vout=?", (txid, vout))
                db.execute("DELETE FROM scanned WHERE height=?", (height,))
                for spent in (self.store.get_meta(f"spentlist:{bhash}") or "").split():
                    txid, vout = spent.split(":")
                    db.execute(
                        "UPDATE deposits SET status='seen', spent_by=NULL "
                        "WHERE txid=? AND vout=? AND status='spent_uncredited'",
                        (txid, int(vout)),
                    )
                db.execute("DELETE FROM meta WHERE key=?", (f"spentlist:{bhash}",))

    def _scan_block(self, block: Block, height: int) -> None:
        bhash = block.hash
        spent_here: list[str] = []
        with self.store.transaction() as db:
            for tx in block.txs:
                try:
                    txid = tx.txid
                    for txin in tx.vin:
                        op = txin.prevout
                        cur = db.execute(
                            "UPDATE deposits SET status='spent_uncredited', spent_by=? "
                            "WHERE txid=? AND vout=? AND status='seen'",
                            (txid, op.txid, op.vout),
                        )
                        if cur.rowcount:
                            log.info("deposit %s spent before crediting (refund?) by %s", op, txid)
                            spent_here.append(f"{op.txid}:{op.vout}")
                    for n, out in enumerate(tx.vout):
                        self._consider_output(db, txid, n, out, height, bhash)
                except Exception:  # hostile input must never stop the watcher
                    log.exception("skipping unprocessable transaction in block %s", bhash)
            db.execute("INSERT OR REPLACE INTO scanned VALUES (?, ?)", (height, bhash))
            if spent_here:
                self.store.set_meta(f"spentlist:{bhash}", " ".join(spent_here))

    def _consider_output(
        self, db: object, txid: str, n: int, out: TxOut, height: int, bhash: str
    ) -> None:
        reveal = self.store.reveal_for(out.script_pubkey) if len(out.script_pubkey) == 34 else None
        if reveal is None:
            return  # not a deposit address we know: ignore silently (it is most of the chain)
        if out.value < max(MIN_DEPOSIT, dust_threshold(out)) or out.value > MAX_MONEY:
            log.warning("ignoring deposit %s:%d of %d sats (below minimum)", txid, n, out.value)
            return
        self.store.db.execute(
            "INSERT OR IGNORE INTO deposits VALUES (?,?,?,?,?,?,'seen',NULL)",
            (txid, n, out.script_pubkey, out.value, height, bhash),
        )
        log.info("deposit %s:%d of %d sats seen at height %d", txid, n, out.value, height)

    def _credit_confirmed(self, tip: int) -> list[Credit]:
        credited = []
        for d in self.store.deposits("seen"):
            if tip - d.height + 1 < self.confirmations:
                continue
            reveal = self.store.reveal_for(d.spk)
            assert reveal is not None
            credit = Credit(reveal.recipient, d.amount, d.outpoint.txid, d.outpoint.vout)
            try:
                self.sink.credit_deposit(credit.recipient, credit.amount, credit.txid, credit.vout)
            except Exception:  # the sink refused or is down: leave it 'seen', retry next poll
                log.exception(
                    "sink did not take deposit %s:%d; will retry", credit.txid, credit.vout
                )
                continue
            self.store.db.execute(
                "UPDATE deposits SET status='credited' WHERE txid=? AND vout=?",
                (credit.txid, credit.vout),
            )
            log.info("credited %d sats from %s:%d", credit.amount, credit.txid, credit.vout)
            credited.append(credit)
        return credited
