"""Withdrawals: batched payouts signed by the federation, each withdrawal paid once.

Roles:
- `Signer` is one signer.  Before contributing a signature it re-derives,
  from its *own* sources, that the payout is owed: it reads the finalized
  batches from the settlement layer (`SettlementReader`), checks every
  `Deposit` in them against its own view of Bitcoin (outpoint confirmed,
  paying the revealed address of that recipient, with that amount less the
  deposit fee, credited once, and either unspent or spent by a sweep this
  signer reviewed), and checks that every output pays a finalized withdrawal
  (less the withdrawal fee), or change back to the bridge.  An unbacked deposit
  halts it for good (alarm in the log and in `alarms`): a sequencer that mints
  BTC on Layer-2, or a depositor who refunds a credited deposit, must not be
  able to drain the bridge.  It also remembers which withdrawal and which
  deposit it signed in which transaction and never signs a different payout for
  the same withdrawal or a different sweep for the same deposit.
- `PayoutBuilder` is the coordinator.  It picks bridge UTXOs (swept deposits
  and change: never a raw deposit output), builds one transaction for all unpaid
  withdrawals, runs the signing rounds (MuSig2 key path when all n signers
  answer, the k-of-n leaf otherwise), and persists the payout before
  broadcasting it, so a restart rebroadcasts the same transaction instead of
  paying twice.  Sweeps (`sweep.py`) go through the same signers and rounds.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..bitcoin.policy import dust_threshold
from ..bitcoin.script import TaprootOutput
from ..bitcoin.tx import OutPoint, Tx, TxIn, TxOut
from .chain import BitcoinChain
from .deposit import MULTISIG_LEAF, DepositReveal
from .fees import MAX_SWEEP_INPUTS, FeePolicy, fee_for
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


@dataclass(frozen=True, order=True)
class BatchWithdrawalId:
    """The `position`-th withdrawal of finalized batch `batch`: every signer reads
    the same batches, so every signer names a withdrawal alike."""

    batch: int
    position: int

    def __str__(self) -> str:
        return f"{self.batch}:{self.position}"


@dataclass(frozen=True, order=True)
class ExitWithdrawalId:
    """An exit claim recorded by the settlement contract in exodus: at most one per
    Layer-2 account, so the account names it."""

    account: int

    def __str__(self) -> str:
        return f"exit:{self.account}"


# The text form (`str(id)`) is what the store, the signer state and payout intents
# keep; `parse_withdrawal_id` reads it back.
WithdrawalId = BatchWithdrawalId | ExitWithdrawalId


def parse_withdrawal_id(text: str) -> WithdrawalId:
    head, sep, tail = text.partition(":")
    if not sep:
        raise ValueError(f"not a withdrawal id: {text!r}")
    if head == "exit":
        return ExitWithdrawalId(int(tail))
    return BatchWithdrawalId(int(head), int(tail))


@dataclass(frozen=True)
class FinalizedWithdrawal:
    """A finalized Layer-2 withdrawal: pay `amount` sats to `script_pubkey`, once."""

    id: WithdrawalId
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
    withdrawals: tuple[FinalizedWithdrawal, ...] = ()


class SettlementReader(Protocol):
    """Reads the settlement layer (Silver contract or Gold BitVM game) directly.

    Only implementations that read the settlement layer itself may stand here; the
    sequencer's word is not one. Silver's is `bitcoinzk.bridge.silver.
    SilverSettlementReader` (the rollup contract's events and calldata); Gold has none
    yet (docs/bridge.md, "Missing")."""

    def finalized_batches(self) -> list[FinalizedBatch]: ...

    def finalized_exits(self) -> list[FinalizedWithdrawal]:
        """Exit claims recorded in exodus mode (docs/exit.md), final, each a withdrawal
        with the id `exit:<account>`; empty where the settlement layer has no exodus."""
        ...


@dataclass
class PayoutRequest:
    """What the coordinator asks signers to sign: the unsigned tx, the outputs it
    spends with their Taproot trees, and the withdrawals it claims to pay (a
    payout), or no withdrawals and `sweep` set (a sweep of credited deposits)."""

    tx: Tx
    spent: list[TxOut]
    trees: list[TaprootOutput]
    withdrawals: list[FinalizedWithdrawal]
    change_vout: int | None = None
    sweep: bool = False

    @property
    def fee(self) -> int:
        return sum(o.value for o in self.spent) - sum(o.value for o in self.tx.vout)

    def to_json(self) -> str:
        """The unsigned request, for the store's `intents` (trees are derived again)."""
        return json.dumps(
            {
                "tx": self.tx.serialize().hex(),
                "spent": [[o.value, o.script_pubkey.hex()] for o in self.spent],
                "withdrawals": [
                    [str(w.id), w.amount, w.script_pubkey.hex()] for w in self.withdrawals
                ],
                "change_vout": self.change_vout,
                "sweep": self.sweep,
            }
        )

    @classmethod
    def from_json(cls, text: str, tree_of: Callable[[TxOut], TaprootOutput]) -> PayoutRequest:
        d = json.loads(text)
        spent = [TxOut(int(v), bytes.fromhex(spk)) for v, spk in d["spent"]]
        return cls(
            Tx.from_bytes(bytes.fromhex(d["tx"])),
            spent,
            [tree_of(o) for o in spent],
            [
                FinalizedWithdrawal(parse_withdrawal_id(i), int(a), bytes.fromhex(spk))
                for i, a, spk in d["withdrawals"]
            ],
            d["change_vout"],
            bool(d["sweep"]),
        )


class Signer:
    def __init__(
        self,
        key: SignerKey,
        signer_set: SignerSet,
        settlement: SettlementReader,
        chain: BitcoinChain,
        confirmations: int,
        state_path: Path | None = None,
        fees: FeePolicy | None = None,
    ) -> None:
        if key.pubkey not in signer_set.pubkeys:
            raise PayoutError("key is not a member of the signer set")
        self.key = key
        self.signer_set = signer_set
        self.settlement = settlement
        self.chain = chain
        self.confirmations = confirmations
        self.fees = fees or FeePolicy()
        self.reveals: dict[bytes, DepositReveal] = {}
        self.alarms: list[str] = []
        self.halted = False
        self.state_path = state_path
        self.signed: dict[WithdrawalId, str] = {}  # -> payout txid
        self.swept: dict[str, str] = {}  # "txid:vout" of a deposit -> sweep txid
        if state_path is not None and state_path.exists():
            state = json.loads(state_path.read_text())
            if "withdrawals" in state:
                signed, self.swept = state["withdrawals"], state.get("sweeps", {})
            else:  # the first format: withdrawals only
                signed = state
            self.signed = {parse_withdrawal_id(k): v for k, v in signed.items()}
        self.finalized: dict[OutPoint, FinalizedDeposit] = {}
        self._nonces: dict[tuple[str, int], NonceCommitment] = {}

    def _save(self) -> None:
        if self.state_path is not None:
            signed = {str(k): v for k, v in self.signed.items()}
            state = {"withdrawals": signed, "sweeps": self.swept}
            tmp = self.state_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(state))
            tmp.replace(self.state_path)  # never a half-written file after a crash

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

    def audit(self) -> dict[WithdrawalId, FinalizedWithdrawal]:
        """Check every finalized deposit against Bitcoin; return finalized withdrawals by id."""
        if self.halted:
            raise PayoutRefused("signer halted: " + "; ".join(self.alarms))
        seen: dict[OutPoint, FinalizedDeposit] = {}
        owed: dict[WithdrawalId, FinalizedWithdrawal] = {}
        deposit_fee = self.fees.deposit_fee(self.signer_set)
        for batch in self.settlement.finalized_batches():
            for d in batch.deposits:
                op = OutPoint(d.txid, d.vout)
                if op in seen:
                    raise self._alarm(f"deposit {op} credited twice (batch {batch.batch_id})")
                seen[op] = d
                found = self.chain.find_output(op)
                if found is None:
                    raise self._alarm(
                        f"deposit {op} does not exist on Bitcoin (batch {batch.batch_id})"
                    )
                out, conf = found
                reveal = self.reveals.get(out.script_pubkey)
                if reveal is None or reveal.recipient != d.recipient:
                    raise self._alarm(f"deposit {op} does not pay the address of its recipient")
                if out.value - deposit_fee != d.amount:
                    raise self._alarm(
                        f"deposit {op} is {out.value} sats less a fee of {deposit_fee}, "
                        f"credited {d.amount}"
                    )
                if conf < self.confirmations:
                    # the right deposit, not deep enough on this signer's own view, which
                    # may lag the coordinator's by a block or two: not yet, rather than
                    # halting for good (it halts if the deposit then vanishes)
                    raise PayoutRefused(
                        f"deposit {op} has {conf} < {self.confirmations} confirmations "
                        "on this signer's view of Bitcoin: not yet"
                    )
                if self.chain.utxo(op) is None and not self._swept_by_us(op):
                    # the refund leaf (or anything but our sweep) took a credited deposit:
                    # the bridge owes a Layer-2 balance that it no longer holds
                    raise self._alarm(
                        f"deposit {op} was spent by something other than the bridge's sweep"
                    )
            for w in batch.withdrawals:
                owed[w.id] = w
        # exits are owed like withdrawals: the claim's amount is the account's balance at
        # the last committed root, which already excludes every withdrawal of its batches
        for w in self.settlement.finalized_exits():
            owed.setdefault(w.id, w)
        self.finalized = seen
        return owed

    def _swept_by_us(self, op: OutPoint) -> bool:
        sweep = self.swept.get(f"{op.txid}:{op.vout}")
        return sweep is not None and self.chain.find_output(OutPoint(sweep, 0)) is not None

    def review(self, req: PayoutRequest) -> None:
        if req.sweep:
            self.review_sweep(req)
        else:
            self.review_payout(req)

    def review_payout(self, req: PayoutRequest) -> None:
        """Refuse anything that is not exactly: finalized withdrawals, each less the
        withdrawal fee, + change to the bridge, spending only the bridge's own outputs,
        for no more fee than the withdrawals were charged."""
        owed = self.audit()
        txid = req.tx.txid
        main_spk = self.signer_set.main_output().script_pubkey
        withdrawal_fee = self.fees.withdrawal_fee(self.signer_set)
        paid_outputs: set[int] = set()
        if not req.withdrawals:
            raise PayoutRefused("a payout must pay withdrawals")
        ids = [w.id for w in req.withdrawals]
        if len(set(ids)) != len(ids):
            # each copy would match its own output below: one withdrawal paid twice
            raise PayoutRefused("a withdrawal is listed twice")
        for w in req.withdrawals:
            if owed.get(w.id) != w:
                raise PayoutRefused(f"withdrawal {w.id} is not finalized as requested")
            if self.signed.get(w.id, txid) != txid:
                raise PayoutRefused(f"withdrawal {w.id} already signed in {self.signed[w.id]}")
            match = [
                i
                for i, o in enumerate(req.tx.vout)
                if i not in paid_outputs
                and o.value == w.amount - withdrawal_fee
                and o.script_pubkey == w.script_pubkey
            ]
            if not match:
                raise PayoutRefused(f"withdrawal {w.id} is not paid by the transaction")
            paid_outputs.add(match[0])
        extra = [i for i in range(len(req.tx.vout)) if i not in paid_outputs]
        if any(req.tx.vout[i].script_pubkey != main_spk for i in extra) or len(extra) > 1:
            raise PayoutRefused("transaction pays something other than withdrawals and change")
        for spent, tree in zip(req.spent, req.trees, strict=True):
            # deposits reach the reserves only through a sweep; a payout spending one
            # directly would leave it unaccounted for in every signer's audit
            if spent.script_pubkey != main_spk or tree.script_pubkey != main_spk:
                raise PayoutRefused("input is not one of the bridge's own outputs")
        if req.fee > withdrawal_fee * len(req.withdrawals):
            raise PayoutRefused(f"fee {req.fee} exceeds what the withdrawals were charged")
        for w in req.withdrawals:
            self.signed[w.id] = txid
        self._save()

    def review_sweep(self, req: PayoutRequest) -> None:
        """Refuse anything that is not exactly: credited (finalized), revealed, unspent
        deposits into the bridge's main output, for no more fee than they were charged."""
        self.audit()
        txid = req.tx.txid
        main_spk = self.signer_set.main_output().script_pubkey
        if req.withdrawals or not req.tx.vin or len(req.tx.vin) > MAX_SWEEP_INPUTS:
            raise PayoutRefused("not a sweep")
        keys = []
        for txin, spent, tree in zip(req.tx.vin, req.spent, req.trees, strict=True):
            op = txin.prevout
            key = f"{op.txid}:{op.vout}"
            if op not in self.finalized:
                raise PayoutRefused(f"deposit {op} is not credited on the settlement layer")
            if self.swept.get(key, txid) != txid:
                raise PayoutRefused(f"deposit {op} already swept by {self.swept[key]}")
            reveal = self.reveals.get(spent.script_pubkey)
            if reveal is None or reveal.recipient != self.finalized[op].recipient:
                raise PayoutRefused(f"deposit {op} does not pay its recipient's address")
            if tree.script_pubkey != spent.script_pubkey or self.chain.utxo(op) != spent:
                raise PayoutRefused(f"deposit {op} is not that unspent output")
            keys.append(key)
        if len(set(keys)) != len(keys):
            raise PayoutRefused("a deposit is swept twice")
        if len(req.tx.vout) != 1 or req.tx.vout[0].script_pubkey != main_spk:
            raise PayoutRefused("a sweep pays the bridge's main output and nothing else")
        if req.fee > self.fees.deposit_fee(self.signer_set) * len(keys):
            raise PayoutRefused(f"fee {req.fee} exceeds what the deposits were charged")
        for key in keys:
            self.swept[key] = txid
        self._save()

    def learn_sweep(self, req: PayoutRequest) -> None:
        """A sweep signed while this signer was offline: review it all the same, so
        that its audit knows the deposits it spends went to the bridge."""
        self.review_sweep(req)

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


class RefusalLog:
    """How a bridge loop reports signers that refuse: a halted signer refuses every
    round until an operator steps in, so its halt is said once (with its reason, by
    `Signer._alarm`) and then its state every `interval` seconds, never a
    traceback per cycle."""

    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self.last: float | None = None

    def report(self, signers: list[Signer], error: PayoutRefused) -> None:
        halted = [s for s in signers if s.halted]
        if not halted:
            log.warning("signers refused a bridge transaction: %s", error)
            return
        now = self.clock()
        if self.last is not None and now - self.last < self.interval:
            return
        self.last = now
        for s in halted:
            log.critical(
                "signer %s is halted (%s); sweeps and payouts stop until it is cleared",
                s.pubkey.hex()[:16],
                "; ".join(s.alarms),
            )


@dataclass
class BridgeCoin:
    outpoint: OutPoint
    output: TxOut
    tree: TaprootOutput


@dataclass
class PayoutResult:
    tx: Tx
    paid: list[FinalizedWithdrawal]
    key_path: bool
    fee: int = 0
    skipped: list[WithdrawalId] = field(default_factory=list)


def sign(signer_set: SignerSet, req: PayoutRequest, signers: list[Signer]) -> bool:
    """Run the signing rounds on `req.tx` in place: MuSig2 key path when all n signers
    take part, else the k-of-n leaf with the first k.  Each signer reviews `req` on
    its own first.  Returns whether the key path was used."""
    n, k = signer_set.n, signer_set.threshold
    if len(signers) < k:
        raise NotEnoughSigners(f"{len(signers)} signers online, threshold {k}")
    tx = req.tx
    key_path = len(signers) == n
    if key_path:
        nonces = [s.commit_nonces(req) for s in signers]
        per_input = [[nonces[j][i] for j in range(n)] for i in range(len(tx.vin))]
        partials = [s.partial_sign(req, per_input) for s in signers]
        for i, tree in enumerate(req.trees):
            msg = tx.sighash_taproot(i, req.spent)
            session = keypath_session(signer_set, tree.merkle_root, msg, per_input[i])
            tx.vin[i].witness = [aggregate([p[i] for p in partials], session)]
    else:
        sigs = {s.pubkey: s.script_sign(req) for s in signers[:k]}
        for i, tree in enumerate(req.trees):
            by_key = {pk: s[i] for pk, s in sigs.items()}
            tx.vin[i].witness = signer_set.multisig_witness(by_key, tree, MULTISIG_LEAF)
    return key_path


def witness_estimate(key_path: bool, signer_set: SignerSet, tree: TaprootOutput) -> list[bytes]:
    """A witness of the final size, to price the transaction before it is signed."""
    if key_path:
        return [b"\x00" * 64]
    sigs = [b"\x00" * 64] * signer_set.threshold + [b""] * (signer_set.n - signer_set.threshold)
    return [*sigs, tree.leaves[MULTISIG_LEAF].script, tree.control_block(MULTISIG_LEAF)]


class BridgeTxBuilder:
    """What a builder of bridge transactions (payouts, sweeps) works from."""

    def __init__(
        self,
        store: BridgeStore,
        signer_set: SignerSet,
        chain: BitcoinChain,
        fees: FeePolicy | None = None,
    ) -> None:
        self.store = store
        self.signer_set = signer_set
        self.chain = chain
        self.fees = fees or FeePolicy()


class PayoutBuilder(BridgeTxBuilder):
    def bridge_coins(self) -> list[BridgeCoin]:
        """The reserves that can be spent now: swept deposits and payout change that are
        confirmed and unspent on Bitcoin and not already spent by a payout of ours.
        Raw deposit outputs are never spent by a payout: they reach the reserves
        through a sweep (`sweep.py`)."""
        coins = []
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

    def unpaid(self, withdrawals: list[FinalizedWithdrawal]) -> list[FinalizedWithdrawal]:
        out: list[FinalizedWithdrawal] = []
        for w in withdrawals:
            if any(o.id == w.id for o in out):
                continue  # listed twice: paid once
            row = self.store.db.execute(
                "SELECT payout_txid FROM withdrawals WHERE id=?", (str(w.id),)
            ).fetchone()
            if row is None or row[0] is None:
                out.append(w)
        return out

    def net(self, w: FinalizedWithdrawal) -> TxOut:
        """What the withdrawal is paid on Bitcoin: its amount less the withdrawal fee."""
        return TxOut(w.amount - self.fees.withdrawal_fee(self.signer_set), w.script_pubkey)

    def payable(self, w: FinalizedWithdrawal) -> bool:
        out = self.net(w)
        return out.value >= dust_threshold(out)

    def build(
        self, withdrawals: list[FinalizedWithdrawal], fee_rate: float, key_path: bool
    ) -> PayoutRequest:
        if not withdrawals:
            raise PayoutError("nothing to pay")
        coins = sorted(self.bridge_coins(), key=lambda c: -c.output.value)
        outputs = [self.net(w) for w in withdrawals]
        change = TxOut(0, self.signer_set.main_output().script_pubkey)
        target = sum(o.value for o in outputs)
        budget = self.fees.withdrawal_fee(self.signer_set) * len(withdrawals)
        chosen: list[BridgeCoin] = []
        for coin in coins:
            chosen.append(coin)
            tx = Tx(2, [TxIn(c.outpoint) for c in chosen], [*outputs, change])
            for txin, c in zip(tx.vin, chosen, strict=True):
                txin.witness = witness_estimate(key_path, self.signer_set, c.tree)
            fee = fee_for(fee_rate, tx.vsize)
            if fee > budget:
                raise PayoutError(
                    f"a payout spending {len(chosen)} reserve outputs costs {fee} sats, more "
                    f"than the {budget} its withdrawals were charged"
                )
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

    def _record_unpayable(self, withdrawals: list[FinalizedWithdrawal]) -> None:
        """A withdrawal worth less than its fee plus dust cannot be paid on Bitcoin: it
        is burnt on Layer-2 and kept as surplus, recorded like a payout of nothing."""
        with self.store.transaction() as db:
            for w in withdrawals:
                log.warning("withdrawal %s of %d sats is below fee + dust", w.id, w.amount)
                db.execute(
                    "INSERT INTO withdrawals VALUES (?,?,?,'unpayable') "
                    "ON CONFLICT(id) DO UPDATE SET payout_txid='unpayable'",
                    (str(w.id), w.amount, w.script_pubkey),
                )
                db.execute(
                    "INSERT OR IGNORE INTO ledger VALUES (?, 'unpayable', ?, 0)",
                    (f"unpayable:{w.id}", w.amount),
                )

    def pay(
        self,
        withdrawals: list[FinalizedWithdrawal],
        signers: list[Signer],
        fee_rate: float | None = None,
    ) -> PayoutResult | None:
        """Pay every not-yet-paid withdrawal in one transaction; None if nothing is left.

        A payout whose signing round was cut short (a signer refused or lagged, the
        coordinator was killed) is finished first, as the very same transaction: the
        signers that reviewed it refuse any other for its withdrawals, and a new one
        could not be told apart from a double payout."""
        k = self.signer_set.threshold
        req = self._intent()
        if req is None:
            todo = self.unpaid(withdrawals)
            self._record_unpayable([w for w in todo if not self.payable(w)])
            todo = [w for w in todo if self.payable(w)]
            if not todo:
                return None
            if len(signers) < k:
                raise NotEnoughSigners(f"{len(signers)} signers online, threshold {k}")
            rate = self.fees.fee_rate if fee_rate is None else fee_rate
            req, skipped = self._build_fitting(todo, rate, len(signers) == self.signer_set.n)
            self.store.set_intent("payout", req.to_json())
        else:
            skipped = []
            log.info("finishing the signing of payout %s", req.tx.txid)
            if len(signers) < k:
                raise NotEnoughSigners(f"{len(signers)} signers online, threshold {k}")
        todo = req.withdrawals
        key_path = sign(self.signer_set, req, signers)
        tx = req.tx
        txid = tx.txid
        fee = req.fee
        charged = self.fees.withdrawal_fee(self.signer_set) * len(todo)
        with self.store.transaction() as db:
            db.execute("DELETE FROM intents WHERE kind='payout'")
            db.execute(
                "INSERT INTO payouts VALUES (?, ?, strftime('%s','now'))", (txid, tx.serialize())
            )
            db.execute("INSERT INTO ledger VALUES (?, 'payout', ?, ?)", (txid, charged, fee))
            for w in todo:
                db.execute(
                    "INSERT INTO withdrawals VALUES (?,?,?,?) "
                    "ON CONFLICT(id) DO UPDATE SET payout_txid=?",
                    (str(w.id), w.amount, w.script_pubkey, txid, txid),
                )
            if req.change_vout is not None:
                db.execute(
                    "INSERT INTO change VALUES (?,?,?,NULL)",
                    (txid, req.change_vout, tx.vout[req.change_vout].value),
                )
        try:
            self.chain.broadcast(tx)
        except Exception as e:  # persisted: `resume` rebroadcasts it
            log.warning("payout %s not broadcast yet (%s); resume will retry", txid, e)
        log.info(
            "payout %s pays %d withdrawal(s), fee %d, key path %s", txid, len(todo), fee, key_path
        )
        return PayoutResult(tx, todo, key_path, fee, [w.id for w in skipped])

    def _build_fitting(
        self, todo: list[FinalizedWithdrawal], fee_rate: float, key_path: bool
    ) -> tuple[PayoutRequest, list[FinalizedWithdrawal]]:
        """One payout for as many withdrawals as the reserves can pay within their fees.

        A withdrawal the confirmed reserves cannot pay within its fee (a large one
        against reserves in many small outputs, or before a sweep confirms) must not
        hold back every other: the largest is left out until the rest fits, and waits
        for a later cycle.  Alone, its error is raised."""
        batch = list(todo)
        skipped: list[FinalizedWithdrawal] = []
        while True:
            try:
                return self.build(batch, fee_rate, key_path), skipped
            except PayoutError as e:  # InsufficientBridgeFunds too
                if len(batch) == 1:
                    raise
                largest = max(batch, key=lambda w: w.amount)
                log.warning("withdrawal %s of %d sats waits: %s", largest.id, largest.amount, e)
                batch.remove(largest)
                skipped.append(largest)

    def _intent(self) -> PayoutRequest | None:
        text = self.store.intent("payout")
        if text is None:
            return None
        main = self.signer_set.main_output()
        return PayoutRequest.from_json(text, lambda _: main)

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
