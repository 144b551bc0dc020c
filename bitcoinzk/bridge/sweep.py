"""Sweeps: every credited deposit moves into the bridge's own custody before its refund
leaf can mature.

A deposit output keeps the depositor's refund leaf (`deposit.py`).  Left where
it is, a credited deposit could be refunded on Bitcoin *and* withdrawn from
Layer-2: a double pay.  So the coordinator batches the credited deposits that
the settlement layer has finalized into one transaction paying a single
output to `SignerSet.main_output()` (no refund leaf), signed by the same
signers and rounds as a payout.  Each signer reviews a sweep on its own
(`Signer.review_sweep`) and remembers the deposits it swept: its audit
treats a credited deposit spent by anything else as an alarm.  The reserves
are the sweep outputs plus payout change, never raw deposits.

Crash safety: the signed sweep, the deposits it takes and its output (as a
reserve) are written in one SQLite transaction before the broadcast; `resume`
rebroadcasts every unconfirmed sweep after a restart, and a deposit already
in a recorded sweep is never put in another, so a kill between signing and
broadcast loses nothing and spends nothing twice.  A sweep still unconfirmed
`SWEEP_ALARM_BLOCKS` before the first of its deposits' refunds matures raises
an alarm (log and store): an operator must bump it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from ..bitcoin.script import TaprootOutput
from ..bitcoin.tx import OutPoint, Tx, TxIn, TxOut
from .fees import MAX_SWEEP_INPUTS, fee_for
from .payout import BridgeTxBuilder, PayoutError, PayoutRequest, Signer, sign, witness_estimate
from .store import BridgeStore

log = logging.getLogger(__name__)

SWEEP_ALARM_BLOCKS = 24
"""An unconfirmed sweep this many blocks before a deposit's refund becomes valid
is an emergency: four hours of Bitcoin blocks to bump its fee by hand."""


@dataclass
class SweepResult:
    tx: Tx
    deposits: list[OutPoint]
    key_path: bool
    fee: int


@dataclass(frozen=True)
class Reserves:
    """The bridge's book: what it holds on Bitcoin against what it owes."""

    unswept: int  # credited deposits not yet in a recorded sweep
    swept: int  # bridge main outputs (sweep outputs, payout change) not spent by a payout
    credited: int  # sum of amounts credited on Layer-2
    withdrawn: int  # withdrawals recorded (paid or unpayable), at their Layer-2 amount
    surplus: int  # fees charged minus fees paid (ledger), plus the fees of unswept deposits
    outpoints: tuple[tuple[OutPoint, int], ...]  # every reserve output and its value

    @property
    def total(self) -> int:
        return self.unswept + self.swept

    @property
    def obligations(self) -> int:
        """What Layer-2 holds from the bridge's deposits minus what it has been paid back."""
        return self.credited - self.withdrawn


def reserves(store: BridgeStore) -> Reserves:
    """Reserves from the store alone; `total == obligations + surplus` always holds
    (obligations here are Layer-2 supply + burnt-but-unrecorded withdrawals)."""
    db = store.db
    payouts = [Tx.from_bytes(bytes(raw)) for (raw,) in db.execute("SELECT raw FROM payouts")]
    spent_by_payouts = {i.prevout for tx in payouts for i in tx.vin}
    outs: list[tuple[OutPoint, int]] = []
    unswept = charged_not_spent = 0
    for txid, vout, amount, credited_amount in db.execute(
        "SELECT txid, vout, amount, COALESCE(credited_amount, amount) FROM deposits "
        "WHERE status='credited' AND NOT EXISTS "
        "(SELECT 1 FROM swept s WHERE s.txid=deposits.txid AND s.vout=deposits.vout)"
    ):
        unswept += amount
        charged_not_spent += amount - credited_amount  # its sweep has not paid it out yet
        outs.append((OutPoint(txid, vout), amount))
    swept = 0
    for txid, vout, amount in db.execute("SELECT txid, vout, amount FROM change"):
        op = OutPoint(txid, vout)
        if op not in spent_by_payouts:
            swept += amount
            outs.append((op, amount))
    credited = db.execute(
        "SELECT COALESCE(SUM(COALESCE(credited_amount, amount)), 0) FROM deposits "
        "WHERE status='credited'"
    ).fetchone()[0]
    withdrawn = db.execute("SELECT COALESCE(SUM(amount), 0) FROM withdrawals").fetchone()[0]
    surplus = store.surplus() + charged_not_spent
    return Reserves(unswept, swept, int(credited), int(withdrawn), surplus, tuple(outs))


class SweepBuilder(BridgeTxBuilder):
    def pending(self, finalized: Iterable[OutPoint]) -> list[OutPoint]:
        """Credited, finalized deposits in no recorded sweep, unspent on Bitcoin."""
        final = set(finalized)
        out = []
        for d in self.store.deposits("credited"):
            op = d.outpoint
            if op in final and self.store.sweep_of(op) is None and self.chain.utxo(op) is not None:
                out.append(op)
        return out

    def build(self, deposits: list[OutPoint], key_path: bool) -> PayoutRequest:
        deposits = deposits[:MAX_SWEEP_INPUTS]
        spent, trees = [], []
        for op in deposits:
            row = self.store.db.execute(
                "SELECT spk, amount FROM deposits WHERE txid=? AND vout=?", (op.txid, op.vout)
            ).fetchone()
            reveal = self.store.reveal_for(bytes(row[0]))
            assert reveal is not None
            spent.append(TxOut(int(row[1]), bytes(row[0])))
            trees.append(reveal.output(self.signer_set))
        main = TxOut(0, self.signer_set.main_output().script_pubkey)
        tx = Tx(2, [TxIn(op) for op in deposits], [main])
        for txin, tree in zip(tx.vin, trees, strict=True):
            txin.witness = witness_estimate(key_path, self.signer_set, tree)
        fee = fee_for(self.fees.fee_rate, tx.vsize)
        main.value = sum(o.value for o in spent) - fee
        unsigned = Tx(2, [TxIn(op) for op in deposits], [main])
        return PayoutRequest(unsigned, spent, trees, [], 0, sweep=True)

    def sweep(
        self,
        finalized: Iterable[OutPoint],
        signers: list[Signer],
        observers: Iterable[Signer] = (),
    ) -> SweepResult | None:
        """Sweep every pending deposit (up to `MAX_SWEEP_INPUTS`) in one transaction.

        `observers` are signers that did not sign (offline for this round): they
        review the signed sweep too, so their audits know where the deposits went."""
        req = self._intent()
        if req is None:
            todo = self.pending(finalized)
            if not todo:
                return None
            req = self.build(todo, len(signers) == self.signer_set.n)
        swept = [i.prevout for i in req.tx.vin]
        charged = sum(
            out.value - (self.store.credited_amount(op) or out.value)
            for op, out in zip(swept, req.spent, strict=True)
        )
        if req.fee > charged:  # the signers refuse it too; this is the coordinator's own check
            raise PayoutError(f"sweep fee {req.fee} exceeds the {charged} charged")
        # before the first signer sees it: a round cut short is retried as this very
        # transaction, since a signer that reviewed it refuses any other sweep of its deposits
        self.store.set_intent("sweep", req.to_json())
        key_path = sign(self.signer_set, req, signers)
        tx, txid = req.tx, req.tx.txid
        deadline = self._deadline(swept)
        with self.store.transaction() as db:
            db.execute("DELETE FROM intents WHERE kind='sweep'")
            db.execute(
                "INSERT INTO sweeps (txid, raw, created, deadline) "
                "VALUES (?, ?, strftime('%s','now'), ?)",
                (txid, tx.serialize(), deadline),
            )
            for op in swept:
                db.execute("INSERT INTO swept VALUES (?,?,?)", (op.txid, op.vout, txid))
            db.execute("INSERT INTO change VALUES (?, 0, ?, NULL)", (txid, tx.vout[0].value))
            db.execute("INSERT INTO ledger VALUES (?, 'sweep', ?, ?)", (txid, charged, req.fee))
        for observer in observers:
            try:
                observer.learn_sweep(req)
            except PayoutError as e:
                who = observer.pubkey.hex()[:16]
                log.warning("signer %s did not take sweep %s: %s", who, txid, e)
        self._broadcast(tx)
        log.info(
            "sweep %s takes %d deposit(s) into custody, fee %d (charged %d), key path %s",
            txid,
            len(swept),
            req.fee,
            charged,
            key_path,
        )
        return SweepResult(tx, swept, key_path, req.fee)

    def _intent(self) -> PayoutRequest | None:
        """The sweep whose signing was cut short, unless one of its deposits is no longer
        an unswept, unspent deposit (refunded, reorged out): then it can never confirm."""
        text = self.store.intent("sweep")
        if text is None:
            return None

        def tree_of(out: TxOut) -> TaprootOutput:
            reveal = self.store.reveal_for(out.script_pubkey)
            assert reveal is not None
            return reveal.output(self.signer_set)

        req = PayoutRequest.from_json(text, tree_of)
        for txin, out in zip(req.tx.vin, req.spent, strict=True):
            op = txin.prevout
            if self.store.sweep_of(op) is not None or self.chain.utxo(op) != out:
                log.warning("dropping the unsigned sweep %s: deposit %s is gone", req.tx.txid, op)
                self.store.db.execute("DELETE FROM intents WHERE kind='sweep'")
                return None
        return req

    def _deadline(self, deposits: list[OutPoint]) -> int:
        """The first height at which one of these deposits could be refunded."""
        heights = []
        for op in deposits:
            row = self.store.db.execute(
                "SELECT spk, height FROM deposits WHERE txid=? AND vout=?", (op.txid, op.vout)
            ).fetchone()
            reveal = self.store.reveal_for(bytes(row[0]))
            assert reveal is not None
            heights.append(int(row[1]) + reveal.timelock)
        return min(heights)

    def _broadcast(self, tx: Tx) -> bool:
        try:
            self.chain.broadcast(tx)
            return True
        except Exception as e:  # already in the mempool, or the node is down: resume retries
            log.info("broadcast of sweep %s: %s", tx.txid, e)
            return False

    def resume(self, tip: int | None = None) -> list[str]:
        """Rebroadcast every recorded sweep that is not confirmed (after a restart, a
        reorg or an eviction); with `tip`, alarm on those close to their deadline."""
        out = []
        rows = self.store.db.execute("SELECT txid, raw, deadline, alarmed FROM sweeps").fetchall()
        for txid, raw, deadline, alarmed in rows:
            if self.chain.find_output(OutPoint(txid, 0)) is not None:
                continue
            if tip is not None and tip >= deadline - SWEEP_ALARM_BLOCKS and not alarmed:
                log.critical(
                    "sweep %s unconfirmed at height %d; a deposit it takes can be refunded "
                    "from height %d: bump its fee",
                    txid,
                    tip,
                    deadline,
                )
                with self.store.transaction() as db:
                    self.store.raise_alarm("sweep-near-deadline", f"{txid} deadline {deadline}")
                    db.execute("UPDATE sweeps SET alarmed=1 WHERE txid=?", (txid,))
            if self._broadcast(Tx.from_bytes(bytes(raw))):
                out.append(str(txid))
        return out
