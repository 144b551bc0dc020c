"""The deposit watcher: credits each confirmed deposit to Layer-2 exactly once.

It reads Bitcoin through `BlockSource` (the embedded `RegtestNode` or
`BitcoinRPC` against bitcoind: both have `height`, `block_hash`, `get_block`),
remembers the hash of every block it scanned, and on each `poll`:

1. walks back from its last scanned block until the hashes agree with the
   source (a reorg): deposits found in the abandoned blocks are forgotten if
   not yet credited; a credited one raises an alarm (a reorg deeper than the
   crediting depth is handled loudly, not ignored);
2. scans forward to the tip, recording outputs that pay a revealed deposit
   address, and marking deposits spent before crediting (refunds) as such.  A
   block is recorded only if its parent is the block recorded below it, so the
   scanned blocks always form one hash chain and checking the newest one
   against the source (step 1) checks them all: a reorg in the middle of a
   multi-block scan stops the scan and is followed, never half recorded;
3. credits deposits with `confirmations` or more, through `DepositSink`, and
   marks them credited.  The sink is idempotent per outpoint, so a crash between
   the two steps repeats the call harmlessly: exactly once end to end.

A deposit is credited only while at least `sweep_margin` blocks remain before
its refund leaf matures: the bridge must sweep it into its own custody before
the depositor can take it back (docs/bridge.md, "Sweep margin").  One seen later is
marked `too_late`, never credited, and stays the depositor's to refund.  While a
credited deposit waits for its sweep with less than half the margin left (settlement
or sweeping stalled), or is off the chain after a reorg deeper than the crediting
depth, no new deposit is credited: they wait as `seen`.  It is
credited its amount minus the fee policy's `deposit_fee` (its share of the sweep).

Hostile input is logged and skipped, never fatal: dust to a deposit address,
amounts out of range, unknown addresses, garbage scripts, huge transactions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import coincurve

from ..bitcoin.block import Block
from ..bitcoin.policy import dust_threshold
from ..bitcoin.rpc_client import BitcoinRpcError
from ..bitcoin.rpc_server import RPC_INVALID_PARAMS
from ..bitcoin.tx import MAX_MONEY, TxOut
from .deposit import DepositError, DepositReveal
from .fees import FeePolicy
from .signers import SignerSet
from .store import BridgeStore

log = logging.getLogger(__name__)

MIN_DEPOSIT = 1_000  # sats; smaller deposits are not worth a Layer-2 operation
DEFAULT_SWEEP_MARGIN = 72
"""Blocks that must remain before a deposit's refund leaf matures for it to be
credited (half a day of Bitcoin blocks).  They cover the deposit's Layer-2
block, its proof and settlement finality (the signers sweep only deposits
final on the settlement layer), the sweep's signing, and its confirmation
under fee pressure with time for an operator to react to the deadline alarm
(`SWEEP_ALARM_BLOCKS` before the end).  With the default 144-block timelock
and 6 confirmations, a deposit credited on time leaves 138 blocks."""
SCAN_ATTEMPTS = 5  # reorgs followed within one poll before giving up until the next


class FeeRateChanged(ValueError):
    pass


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
        confirmations: int,  # `bridge.deposit_confirmations` (docs/config.md)
        network: str = "regtest",
        start_height: int | None = None,
        sweep_margin: int = DEFAULT_SWEEP_MARGIN,
        fees: FeePolicy | None = None,
    ) -> None:
        if confirmations < 1:
            raise ValueError("confirmations must be >= 1")
        if sweep_margin < 1:
            raise ValueError("sweep margin must be >= 1 block")
        self.source = source
        self.store = store
        self.sink = sink
        self.signer_set = signer_set
        self.confirmations = confirmations
        self.network = network
        self.sweep_margin = sweep_margin
        self.fees = fees or FeePolicy()
        # the fee rate prices every deposit fee, and each signer checks every credited
        # deposit against it: another rate after a restart would halt every signer on
        # the deposits credited before, so it is a deployment constant
        rate = store.get_meta("fee_rate")
        if rate is None:
            store.set_meta("fee_rate", repr(self.fees.fee_rate))
        elif float(rate) != self.fees.fee_rate:
            raise FeeRateChanged(
                f"the bridge's fee rate is {float(rate)} sat/vB (its deposits were charged "
                f"at it); refusing to start with {self.fees.fee_rate}"
            )
        if store.get_meta("start_height") is None:
            start = source.height() if start_height is None else start_height
            store.set_meta("start_height", str(start))

    # --- reveal ----------------------------------------------------------------------------

    @property
    def min_timelock(self) -> int:
        """A shorter refund timelock would make every deposit too late to credit."""
        return self.confirmations + self.sweep_margin

    def register(self, reveal: DepositReveal) -> str:
        """Record a deposit reveal; returns the address to pay (`bzk_getDepositAddress`)."""
        if reveal.timelock < self.min_timelock:
            raise DepositError(
                f"timelock {reveal.timelock} is below {self.min_timelock} blocks "
                f"({self.confirmations} confirmations + a sweep margin of {self.sweep_margin})"
            )
        try:  # a refund key that is not a point makes the refund leaf unspendable
            coincurve.PublicKeyXOnly(reveal.refund_key)
        except ValueError:
            raise DepositError("refund key is not a valid x-only public key") from None
        spk = reveal.script_pubkey(self.signer_set)
        self.store.add_reveal(spk, reveal)
        return reveal.address(self.signer_set, self.network)

    def rpc_get_deposit_address(
        self, recipient: object, refund_key: object, timelock: object = None
    ) -> dict[str, object]:
        """JSON-RPC `bzk_getDepositAddress(recipient_hex, refund_xonly_hex[, timelock])`.

        Bad input is the caller's error (-32602, with the reason), never an internal one."""
        reveal = self.parse_reveal(recipient, refund_key, timelock)
        try:
            address = self.register(reveal)
        except DepositError as e:
            raise BitcoinRpcError(RPC_INVALID_PARAMS, str(e)) from None
        return {
            "address": address,
            "timelock": reveal.timelock,
            "confirmations": self.confirmations,
            "sweep_margin": self.sweep_margin,
            "min_deposit": MIN_DEPOSIT + self.fees.deposit_fee(self.signer_set),
            **self.fees.describe(self.signer_set),
        }

    @staticmethod
    def parse_reveal(recipient: object, refund_key: object, timelock: object) -> DepositReveal:
        def hex32(value: object, what: str) -> bytes:
            if not isinstance(value, str) or len(value) != 64:
                raise BitcoinRpcError(RPC_INVALID_PARAMS, f"{what} must be 64 hex characters")
            try:
                return bytes.fromhex(value)
            except ValueError:
                raise BitcoinRpcError(RPC_INVALID_PARAMS, f"{what} is not hex") from None

        raw_recipient = hex32(recipient, "recipient")
        raw_refund = hex32(refund_key, "refund_key")
        kwargs: dict[str, int] = {}
        if timelock is not None:
            if type(timelock) is not int:
                raise BitcoinRpcError(RPC_INVALID_PARAMS, "timelock must be an integer")
            kwargs["timelock"] = timelock
        try:
            return DepositReveal(raw_recipient, raw_refund, **kwargs)
        except DepositError as e:
            raise BitcoinRpcError(RPC_INVALID_PARAMS, str(e)) from None

    # --- polling ---------------------------------------------------------------------------

    def _scanned_tip(self) -> tuple[int, str | None]:
        row = self.store.db.execute(
            "SELECT height, hash FROM scanned ORDER BY height DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return int(self.store.get_meta("start_height") or 0) - 1, None
        return int(row[0]), str(row[1])

    def poll(self) -> list[Credit]:
        for _ in range(SCAN_ATTEMPTS):
            self._follow_reorg()
            if self._scan_to(self.source.height()):
                break
        else:
            log.warning("the chain kept reorganising during the scan; retrying next poll")
            return []
        self._follow_reorg()  # a reorg after the scan is unwound before anything is credited
        return self._credit_confirmed(self._scanned_tip()[0])

    def _scan_to(self, tip: int) -> bool:
        """Scan up to `tip`; False if the source stopped agreeing with what was scanned."""
        height, prev = self._scanned_tip()
        for h in range(height + 1, tip + 1):
            try:
                block = self.source.get_block(self.source.block_hash(h))
            except Exception as e:  # the chain got shorter under us: follow the reorg
                log.warning("block %d vanished during the scan (%s)", h, e)
                return False
            if prev is not None and block.header.prev_hash != prev:
                log.warning("reorg during the scan at height %d; following it", h)
                return False
            self._scan_block(block, h)
            prev = block.hash
        return True

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
                        # off the chain until it is mined again (`_consider_output`); no
                        # credit meanwhile: a double-spend of it to the same address would
                        # be credited a second time
                        db.execute(
                            "UPDATE deposits SET block_hash='' WHERE txid=? AND vout=?",
                            (txid, vout),
                        )
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
        cur = self.store.db.execute(
            "INSERT OR IGNORE INTO deposits (txid, vout, spk, amount, height, block_hash, status) "
            "VALUES (?,?,?,?,?,?,'seen')",
            (txid, n, out.script_pubkey, out.value, height, bhash),
        )
        if not cur.rowcount:  # a credited deposit reorged out, mined again: where it is now
            cur = self.store.db.execute(
                "UPDATE deposits SET height=?, block_hash=? WHERE txid=? AND vout=? "
                "AND status='credited' AND block_hash=''",
                (height, bhash, txid, n),
            )
            if cur.rowcount:
                log.warning("credited deposit %s:%d mined again at height %d", txid, n, height)
            return
        log.info("deposit %s:%d of %d sats seen at height %d", txid, n, out.value, height)

    def _credit_hold(self, tip: int) -> str | None:
        """Why no deposit may be credited now, if there is a reason."""
        row = self.store.db.execute(
            "SELECT txid, vout FROM deposits WHERE status='credited' AND block_hash=''"
        ).fetchone()
        if row is not None:
            return f"credited deposit {row[0]}:{row[1]} is off the chain (reorg)"
        stalled = self._stalled_sweep(tip)
        if stalled is not None:
            return (
                f"deposit {stalled} is still unswept with less than half the sweep margin "
                "left (settlement or sweeping stalled)"
            )
        return None

    def _stalled_sweep(self, tip: int) -> str | None:
        """A credited deposit still in no sweep with less than half the sweep margin left:
        settlement or sweeping is stalled, and every new credit would be one more deposit
        its depositor could refund while Layer-2 keeps the balance."""
        rows = self.store.db.execute(
            "SELECT d.txid, d.vout, d.height, r.timelock FROM deposits d "
            "JOIN reveals r ON r.spk = d.spk WHERE d.status='credited' AND NOT EXISTS "
            "(SELECT 1 FROM swept s WHERE s.txid=d.txid AND s.vout=d.vout)"
        ).fetchall()
        for txid, vout, height, timelock in rows:
            left = height + timelock - 1 - tip
            if 0 <= left < self.sweep_margin // 2:
                return f"{txid}:{vout}"
            if left < 0 and self.store.get_meta(f"unswept-past-deadline:{txid}:{vout}") is None:
                # the race is over, whoever won: holding credits longer cannot help, and
                # would freeze deposits for good if Layer-2 never took this one
                log.critical("credited deposit %s:%d unswept past its refund maturity", txid, vout)
                self.store.raise_alarm("unswept-past-deadline", f"{txid}:{vout}")
                self.store.set_meta(f"unswept-past-deadline:{txid}:{vout}", str(tip))
        return None

    def _credit_confirmed(self, tip: int) -> list[Credit]:
        credited: list[Credit] = []
        fee = self.fees.deposit_fee(self.signer_set)
        hold = self._credit_hold(tip)
        for d in self.store.deposits("seen"):
            if tip - d.height + 1 < self.confirmations:
                continue
            reveal = self.store.reveal_for(d.spk)
            assert reveal is not None
            # the refund is valid in the block at height + timelock; the blocks before it
            # are the sweep's only chance
            blocks_left = d.height + reveal.timelock - 1 - tip
            if blocks_left < self.sweep_margin:
                log.warning(
                    "deposit %s:%d seen with %d blocks before its refund matures (< %d): "
                    "never credited, it stays the depositor's to refund",
                    d.outpoint.txid,
                    d.outpoint.vout,
                    blocks_left,
                    self.sweep_margin,
                )
                self.store.db.execute(
                    "UPDATE deposits SET status='too_late' WHERE txid=? AND vout=?",
                    (d.outpoint.txid, d.outpoint.vout),
                )
                continue
            if hold is not None:
                # held, not refused: credited once the cause clears if its own margin
                # still holds then, else `too_late` and the depositor's to refund
                log.warning(
                    "deposit %s:%d not credited yet: %s",
                    d.outpoint.txid,
                    d.outpoint.vout,
                    hold,
                )
                continue
            if d.amount - fee < MIN_DEPOSIT:
                log.warning("deposit %s does not cover its fee %d: not credited", d.outpoint, fee)
                self.store.db.execute(
                    "UPDATE deposits SET status='too_small' WHERE txid=? AND vout=?",
                    (d.outpoint.txid, d.outpoint.vout),
                )
                continue
            credit = Credit(reveal.recipient, d.amount - fee, d.outpoint.txid, d.outpoint.vout)
            try:
                self.sink.credit_deposit(credit.recipient, credit.amount, credit.txid, credit.vout)
            except Exception:  # the sink refused or is down: leave it 'seen', retry next poll
                log.exception(
                    "sink did not take deposit %s:%d; will retry", credit.txid, credit.vout
                )
                continue
            self.store.db.execute(
                "UPDATE deposits SET status='credited', credited_amount=? WHERE txid=? AND vout=?",
                (credit.amount, credit.txid, credit.vout),
            )
            log.info("credited %d sats from %s:%d", credit.amount, credit.txid, credit.vout)
            credited.append(credit)
        return credited
