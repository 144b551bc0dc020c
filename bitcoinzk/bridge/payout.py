"""Withdrawals: batched payouts signed by the federation, each withdrawal paid once.

Roles:
- `SignerNode` is one signer.  Before contributing a signature it re-derives,
  from its *own* sources, that the payout is owed: it reads the finalized
  batches from the settlement layer (`SettlementReader`), checks every
  `Deposit` in them against its own view of Bitcoin (outpoint confirmed,
  paying the revealed address of that recipient, with that amount, credited
  once), and checks that every output pays a finalized withdrawal, or change
  back to the bridge.  An unbacked deposit halts it for good (alarm in the log
  and in `alarms`): a sequencer that mints BTC on Layer-2 must not be able to
  drain the bridge.  It also remembers which withdrawal it signed in which
  transaction and never signs a different payout for the same withdrawal.
- `PayoutBuilder` is the coordinator.  It picks bridge UTXOs, builds one
  transaction for all unpaid withdrawals, runs the signing rounds (MuSig2 key
  path when all n signers answer, the k-of-n leaf otherwise), and persists the
  payout before broadcasting it, so a restart rebroadcasts the same transaction
  instead of paying twice.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..bitcoin.script import TaprootOutput
from ..bitcoin.tx import OutPoint, Tx, TxIn, TxOut
from .chain import BitcoinChain
from .deposit import MULTISIG_LEAF, DepositReveal
from .signers import NonceCommitment, SignerKey, SignerSet, aggregate, keypath_session
from .store import BridgeStore

log = logging.getLogger(__name__)


class PayoutError(Exception):
    pass


class PayoutRefused(PayoutError):
    """A signer will not sign this payout."""


class UnbackedDeposit(PayoutRefused):
    """A finalized Layer-2 deposit has no matching confirmed Bitcoin deposit."""


class NotEnoughSigners(PayoutError):
    pass


class InsufficientBridgeFunds(PayoutError):
    pass


@dataclass(frozen=True)
class Withdrawal:
    """A finalized Layer-2 withdrawal: pay `amount` sats to `script_pubkey`, once."""

    id: str
    amount: int
    script_pubkey: bytes


@dataclass(frozen=True)
class FinalizedDeposit:
    recipient: bytes
    amount: int
    txid: str
    vout: int


@dataclass(frozen=True)
class FinalizedBatch:
    batch_id: int
    deposits: tuple[FinalizedDeposit, ...] = ()
    withdrawals: tuple[Withdrawal, ...] = ()


class SettlementReader(Protocol):
    """Reads the settlement layer (Silver contract or Gold BitVM game) directly.

    Only implementations that read the settlement layer itself may stand here; the
    sequencer's word is not one.  (The Silver implementation lands with the
    settlement issue.)"""

    def finalized_batches(self) -> list[FinalizedBatch]: ...


@dataclass
class PayoutRequest:
    """What the coordinator asks signers to sign: the unsigned tx, the outputs it
    spends with their Taproot trees, and the withdrawals it claims to pay."""

    tx: Tx
    spent: list[TxOut]
    trees: list[TaprootOutput]
    withdrawals: list[Withdrawal]
    change_vout: int | None = None


class SignerNode:
    def __init__(
        self,
        key: SignerKey,
        signer_set: SignerSet,
        settlement: SettlementReader,
        chain: BitcoinChain,
        confirmations: int,
        state_path: Path | None = None,
    ) -> None:
        if key.pubkey not in signer_set.pubkeys:
            raise PayoutError("key is not a member of the signer set")
        self.key = key
        self.signer_set = signer_set
        self.settlement = settlement
        self.chain = chain
        self.confirmations = confirmations
        self.reveals: dict[bytes, DepositReveal] = {}
        self.alarms: list[str] = []
        self.halted = False
        self.state_path = state_path
        self.signed: dict[str, str] = {}  # withdrawal id -> payout txid
        if state_path is not None and state_path.exists():
            self.signed = json.loads(state_path.read_text())
        self._nonces: dict[tuple[str, int], NonceCommitment] = {}

    @property
    def pubkey(self) -> bytes:
        return self.key.pubkey

    def register_reveal(self, reveal: DepositReveal) -> None:
        self.reveals[reveal.script_pubkey(self.signer_set)] = reveal

    def _alarm(self, msg: str) -> UnbackedDeposit:
        self.halted = True
        self.alarms.append(msg)
        log.critical("signer %s HALTED: %s", self.pubkey.hex()[:16], msg)
        return UnbackedDeposit(msg)

    def audit(self) -> dict[str, Withdrawal]:
        """Check every finalized deposit against Bitcoin; return finalized withdrawals by id."""
        if self.halted:
            raise PayoutRefused("signer halted: " + "; ".join(self.alarms))
        seen: set[OutPoint] = set()
        owed: dict[str, Withdrawal] = {}
        for batch in self.settlement.finalized_batches():
            for d in batch.deposits:
                op = OutPoint(d.txid, d.vout)
                if op in seen:
                    raise self._alarm(f"deposit {op} credited twice (batch {batch.batch_id})")
                seen.add(op)
                found = self.chain.find_output(op)
                if found is None:
                    raise self._alarm(
                        f"deposit {op} does not exist on Bitcoin (batch {batch.batch_id})"
                    )
                out, conf = found
                reveal = self.reveals.get(out.script_pubkey)
                if conf < self.confirmations:
                    raise self._alarm(
                        f"deposit {op} has {conf} < {self.confirmations} confirmations"
                    )
                if reveal is None or reveal.recipient != d.recipient:
                    raise self._alarm(f"deposit {op} does not pay the address of its recipient")
                if out.value != d.amount:
                    raise self._alarm(f"deposit {op} is {out.value} sats, credited {d.amount}")
            for w in batch.withdrawals:
                owed[w.id] = w
        return owed

    def review(self, req: PayoutRequest) -> None:
        """Refuse anything that is not exactly: finalized withdrawals + change to the bridge."""
        owed = self.audit()
        txid = req.tx.txid
        main_spk = self.signer_set.main_output().script_pubkey
        paid_outputs: set[int] = set()
        for w in req.withdrawals:
            if owed.get(w.id) != w:
                raise PayoutRefused(f"withdrawal {w.id} is not finalized as requested")
            if self.signed.get(w.id, txid) != txid:
                raise PayoutRefused(f"withdrawal {w.id} already signed in {self.signed[w.id]}")
            match = [
                i
                for i, o in enumerate(req.tx.vout)
                if i not in paid_outputs
                and o.value == w.amount
                and o.script_pubkey == w.script_pubkey
            ]
            if not match:
                raise PayoutRefused(f"withdrawal {w.id} is not paid by the transaction")
            paid_outputs.add(match[0])
        extra = [i for i in range(len(req.tx.vout)) if i not in paid_outputs]
        if any(req.tx.vout[i].script_pubkey != main_spk for i in extra) or len(extra) > 1:
            raise PayoutRefused("transaction pays something other than withdrawals and change")
        for spent, tree in zip(req.spent, req.trees, strict=True):
            known = spent.script_pubkey == main_spk or spent.script_pubkey in self.reveals
            if not known or tree.script_pubkey != spent.script_pubkey:
                raise PayoutRefused("input is not a bridge output")
        for w in req.withdrawals:
            self.signed[w.id] = txid
        if self.state_path is not None:
            self.state_path.write_text(json.dumps(self.signed))

    # --- key path (MuSig2) ---------------------------------------------------------------

    def commit_nonces(self, req: PayoutRequest) -> list[bytes]:
        self.review(req)
        txid = req.tx.txid
        pub = []
        for i in range(len(req.tx.vin)):
            msg = req.tx.sighash_taproot(i, req.spent)
            nc = NonceCommitment.create(self.key, self.signer_set, msg)
            self._nonces[(txid, i)] = nc
            pub.append(nc.pub_nonce)
        return pub

    def partial_sign(self, req: PayoutRequest, pub_nonces: list[list[bytes]]) -> list[bytes]:
        txid = req.tx.txid
        out = []
        for i, tree in enumerate(req.trees):
            nc = self._nonces.pop((txid, i))
            session = keypath_session(self.signer_set, tree.merkle_root, nc.msg, pub_nonces[i])
            out.append(nc.partial_sign(session))
        return out

    # --- script path (k of n) ------------------------------------------------------------

    def script_sign(self, req: PayoutRequest) -> list[bytes]:
        self.review(req)
        leaf = self.signer_set.multisig_leaf()
        return [
            self.key.sign_schnorr(req.tx.sighash_taproot(i, req.spent, leaf_script=leaf.script))
            for i in range(len(req.tx.vin))
        ]


@dataclass
class BridgeCoin:
    outpoint: OutPoint
    output: TxOut
    tree: TaprootOutput


@dataclass
class PayoutResult:
    tx: Tx
    paid: list[Withdrawal]
    key_path: bool
    fee: int = 0
    skipped: list[str] = field(default_factory=list)


class PayoutBuilder:
    def __init__(self, store: BridgeStore, signer_set: SignerSet, chain: BitcoinChain) -> None:
        self.store = store
        self.signer_set = signer_set
        self.chain = chain

    def bridge_coins(self) -> list[BridgeCoin]:
        """Credited deposits and payout change that are still unspent on Bitcoin."""
        coins = []
        for d in self.store.deposits("credited"):
            reveal = self.store.reveal_for(d.spk)
            out = self.chain.utxo(d.outpoint)
            if reveal is not None and out is not None and not self._reserved(d.outpoint):
                coins.append(BridgeCoin(d.outpoint, out, reveal.output(self.signer_set)))
        main = self.signer_set.main_output()
        for txid, vout in self.store.db.execute("SELECT txid, vout FROM change").fetchall():
            op = OutPoint(txid, vout)
            out = self.chain.utxo(op)
            if out is not None and not self._reserved(op):
                coins.append(BridgeCoin(op, out, main))
        return coins

    def _reserved(self, op: OutPoint) -> bool:
        """Spent by a payout we already made, even if it is not confirmed yet."""
        for (raw,) in self.store.db.execute("SELECT raw FROM payouts").fetchall():
            if any(i.prevout == op for i in Tx.from_bytes(bytes(raw)).vin):
                return True
        return False

    def unpaid(self, withdrawals: list[Withdrawal]) -> list[Withdrawal]:
        out = []
        for w in withdrawals:
            row = self.store.db.execute(
                "SELECT payout_txid FROM withdrawals WHERE id=?", (w.id,)
            ).fetchone()
            if row is None or row[0] is None:
                out.append(w)
        return out

    @staticmethod
    def _witness_size(key_path: bool, signer_set: SignerSet, tree: TaprootOutput) -> list[bytes]:
        if key_path:
            return [b"\x00" * 64]
        sigs = [b"\x00" * 64] * signer_set.threshold + [b""] * (signer_set.n - signer_set.threshold)
        return [*sigs, tree.leaves[MULTISIG_LEAF].script, tree.control_block(MULTISIG_LEAF)]

    def build(
        self, withdrawals: list[Withdrawal], fee_rate: float, key_path: bool
    ) -> PayoutRequest:
        if not withdrawals:
            raise PayoutError("nothing to pay")
        coins = sorted(self.bridge_coins(), key=lambda c: -c.output.value)
        outputs = [TxOut(w.amount, w.script_pubkey) for w in withdrawals]
        change = TxOut(0, self.signer_set.main_output().script_pubkey)
        target = sum(w.amount for w in withdrawals)
        chosen: list[BridgeCoin] = []
        for coin in coins:
            chosen.append(coin)
            tx = Tx(2, [TxIn(c.outpoint) for c in chosen], [*outputs, change])
            for txin, c in zip(tx.vin, chosen, strict=True):
                txin.witness = self._witness_size(key_path, self.signer_set, c.tree)
            fee = int(fee_rate * tx.vsize + 0.999)
            total = sum(c.output.value for c in chosen)
            if total >= target + fee + 330:
                change.value = total - target - fee
                unsigned = Tx(2, [TxIn(c.outpoint) for c in chosen], [*outputs, change])
                return PayoutRequest(
                    unsigned,
                    [c.output for c in chosen],
                    [c.tree for c in chosen],
                    list(withdrawals),
                    len(outputs),
                )
        raise InsufficientBridgeFunds(f"bridge cannot pay {target} sats plus fee")

    def pay(
        self, withdrawals: list[Withdrawal], signers: list[SignerNode], fee_rate: float = 1.0
    ) -> PayoutResult | None:
        """Pay every not-yet-paid withdrawal in one transaction; None if nothing is left."""
        todo = self.unpaid(withdrawals)
        if not todo:
            return None
        n, k = self.signer_set.n, self.signer_set.threshold
        if len(signers) < k:
            raise NotEnoughSigners(f"{len(signers)} signers online, threshold {k}")
        key_path = len(signers) == n
        req = self.build(todo, fee_rate, key_path)
        tx = req.tx
        if key_path:
            nonces = [s.commit_nonces(req) for s in signers]
            per_input = [[nonces[j][i] for j in range(n)] for i in range(len(tx.vin))]
            partials = [s.partial_sign(req, per_input) for s in signers]
            for i, tree in enumerate(req.trees):
                msg = tx.sighash_taproot(i, req.spent)
                session = keypath_session(self.signer_set, tree.merkle_root, msg, per_input[i])
                tx.vin[i].witness = [aggregate([p[i] for p in partials], session)]
        else:
            sigs = {s.pubkey: s.script_sign(req) for s in signers[:k]}
            for i, tree in enumerate(req.trees):
                by_key = {pk: s[i] for pk, s in sigs.items()}
                tx.vin[i].witness = self.signer_set.multisig_witness(by_key, tree, MULTISIG_LEAF)
        txid = tx.txid
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO payouts VALUES (?, ?, strftime('%s','now'))", (txid, tx.serialize())
            )
            for w in todo:
                db.execute(
                    "INSERT INTO withdrawals VALUES (?,?,?,?) "
                    "ON CONFLICT(id) DO UPDATE SET payout_txid=?",
                    (w.id, w.amount, w.script_pubkey, txid, txid),
                )
            if req.change_vout is not None:
                db.execute(
                    "INSERT INTO change VALUES (?,?,?,NULL)",
                    (txid, req.change_vout, tx.vout[req.change_vout].value),
                )
        self.chain.broadcast(tx)
        fee = sum(o.value for o in req.spent) - sum(o.value for o in tx.vout)
        log.info(
            "payout %s pays %d withdrawal(s), fee %d, key path %s", txid, len(todo), fee, key_path
        )
        return PayoutResult(tx, todo, key_path, fee)

    def resume(self) -> list[str]:
        """Rebroadcast persisted payouts that are not confirmed (after a restart or reorg)."""
        out = []
        for txid, raw in self.store.db.execute("SELECT txid, raw FROM payouts").fetchall():
            tx = Tx.from_bytes(bytes(raw))
            if self.chain.find_output(OutPoint(txid, 0)) is not None:
                continue
            try:
                self.chain.broadcast(tx)
                out.append(str(txid))
            except Exception as e:  # already in the mempool, or inputs gone: log, go on
                log.info("rebroadcast of %s: %s", txid, e)
        return out
