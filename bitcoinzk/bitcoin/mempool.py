"""The embedded node's mempool: what a Bitcoin Core node would accept for relay.

Acceptance runs, in order: decoding; the kernel's context-free
CheckTransaction; standardness (`policy.check_standard`); inputs exist
(confirmed UTXO index or an unconfirmed parent) and are not already spent by
another mempool transaction (no replacement); coinbase maturity, finality
and BIP-68 sequence locks as policy (the kernel decides them again, for real,
when the transaction is mined); amounts; the minimum relay fee; and finally
every input's script through the kernel's script verifier with all spent
outputs (Taproot needs them all).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .index import Coin
from .kernel import Kernel, ScriptVerifyError
from .policy import COINBASE_MATURITY, MIN_RELAY_FEE, PolicyError, check_standard
from .tx import MAX_MONEY, OutPoint, Tx, TxOut

SEQUENCE_LOCKTIME_DISABLE = 1 << 31
SEQUENCE_LOCKTIME_TYPE_FLAG = 1 << 22
SEQUENCE_LOCKTIME_MASK = 0xFFFF
LOCKTIME_THRESHOLD = 500_000_000


class MempoolRejection(Exception):
    """A transaction refused by the mempool. `reason` uses Bitcoin Core's reject strings,
    `code` its RPC error code (-26 verify rejected, -25 verify error, -27 already in chain)."""

    def __init__(self, reason: str, code: int = -26) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass
class MempoolEntry:
    tx: Tx
    fee: int
    vsize: int
    time: int
    parents: set[str] = field(default_factory=set)

    @property
    def fee_rate(self) -> float:
        return self.fee / self.vsize


@dataclass(frozen=True)
class ChainContext:
    """What acceptance needs to know about the chain the next block extends."""

    next_height: int
    tip_mtp: int
    mtp_at: Callable[[int], int]  # median time past of the block at a height


class BitcoinMempool:
    def __init__(self, kernel: Kernel, min_relay_fee: int = MIN_RELAY_FEE) -> None:
        self.kernel = kernel
        self.min_relay_fee = min_relay_fee
        self.entries: dict[str, MempoolEntry] = {}  # insertion order = topological order
        self.spends: dict[OutPoint, str] = {}

    def __contains__(self, txid: str) -> bool:
        return txid in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, txid: str) -> Tx | None:
        e = self.entries.get(txid)
        return None if e is None else e.tx

    def output(self, op: OutPoint) -> TxOut | None:
        e = self.entries.get(op.txid)
        if e is None or op.vout >= len(e.tx.vout):
            return None
        return e.tx.vout[op.vout]

    def accept(
        self, tx: Tx, get_coin: Callable[[OutPoint], Coin | None], ctx: ChainContext, now: int
    ) -> MempoolEntry:
        txid = tx.txid
        if txid in self.entries:
            raise MempoolRejection("txn-already-in-mempool", -27)
        if tx.is_coinbase():
            raise MempoolRejection("coinbase")
        reason = self.kernel.check_transaction(tx)
        if reason is not None:
            raise MempoolRejection(f"bad-txns ({reason})")
        try:
            check_standard(tx)
        except PolicyError as e:
            raise MempoolRejection(str(e)) from e

        spent: list[TxOut] = []
        parents: set[str] = set()
        for txin in tx.vin:
            op = txin.prevout
            if op in self.spends:
                raise MempoolRejection("txn-mempool-conflict")
            coin = get_coin(op)
            if coin is not None:
                if coin.coinbase and ctx.next_height - coin.height < COINBASE_MATURITY:
                    raise MempoolRejection("bad-txns-premature-spend-of-coinbase")
                height = coin.height
                spent.append(coin.output)
            else:
                out = self.output(op)
                if out is None:
                    if all(get_coin(OutPoint(txid, n)) is None for n in range(len(tx.vout))):
                        raise MempoolRejection("missing-inputs", -25)
                    raise MempoolRejection("txn-already-known", -27)
                parents.add(op.txid)
                height = ctx.next_height
                spent.append(out)
            self._check_sequence_lock(tx, txin.sequence, height, ctx)
        self._check_final(tx, ctx)

        value_in = sum(o.value for o in spent)
        value_out = sum(o.value for o in tx.vout)
        if value_in > MAX_MONEY or value_out > value_in:
            raise MempoolRejection("bad-txns-in-belowout")
        fee = value_in - value_out
        if fee < self.min_relay_fee * tx.vsize:
            raise MempoolRejection("min relay fee not met")
        try:
            self.kernel.verify_input(tx, spent)
        except ScriptVerifyError as e:
            raise MempoolRejection(f"mandatory-script-verify-flag-failed ({e})") from e

        entry = MempoolEntry(tx, fee, tx.vsize, now, parents)
        self.entries[txid] = entry
        for txin in tx.vin:
            self.spends[txin.prevout] = txid
        return entry

    @staticmethod
    def _check_final(tx: Tx, ctx: ChainContext) -> None:
        if tx.locktime == 0 or all(i.sequence == 0xFFFFFFFF for i in tx.vin):
            return
        limit = ctx.next_height if tx.locktime < LOCKTIME_THRESHOLD else ctx.tip_mtp
        if tx.locktime >= limit:
            raise MempoolRejection("non-final")

    @staticmethod
    def _check_sequence_lock(tx: Tx, sequence: int, coin_height: int, ctx: ChainContext) -> None:
        """BIP-68 as policy, with Core's arithmetic (CalculateSequenceLocks)."""
        if tx.version < 2 or sequence & SEQUENCE_LOCKTIME_DISABLE:
            return
        value = sequence & SEQUENCE_LOCKTIME_MASK
        if sequence & SEQUENCE_LOCKTIME_TYPE_FLAG:
            coin_mtp = ctx.mtp_at(max(coin_height - 1, 0))
            if coin_mtp + (value << 9) - 1 >= ctx.tip_mtp:
                raise MempoolRejection("non-BIP68-final")
        elif coin_height + value - 1 >= ctx.next_height:
            raise MempoolRejection("non-BIP68-final")

    def remove(self, txid: str, with_descendants: bool = True) -> list[str]:
        """Remove a transaction (and everything spending it). Returns the removed txids."""
        entry = self.entries.pop(txid, None)
        if entry is None:
            return []
        removed = [txid]
        for txin in entry.tx.vin:
            if self.spends.get(txin.prevout) == txid:
                del self.spends[txin.prevout]
        if with_descendants:
            for n in range(len(entry.tx.vout)):
                child = self.spends.get(OutPoint(txid, n))
                if child is not None:
                    removed += self.remove(child)
        return removed

    def remove_for_block(self, txs: list[Tx]) -> list[str]:
        """Drop mined transactions and anything that conflicts with the block."""
        removed: list[str] = []
        for tx in txs:
            txid = tx.txid
            if txid in self.entries:
                removed += self.remove(txid, with_descendants=False)
                for e in self.entries.values():
                    e.parents.discard(txid)
            for txin in tx.vin:
                other = self.spends.get(txin.prevout)
                if other is not None and other != txid:
                    removed += self.remove(other)
        return removed

    def select(self, max_weight: int = 3_990_000) -> list[Tx]:
        """Transactions for a block template, parents before children, within a weight budget."""
        chosen: list[Tx] = []
        chosen_ids: set[str] = set()
        weight = 0
        for txid, e in self.entries.items():
            if not e.parents <= chosen_ids:
                continue
            w = e.tx.weight
            if weight + w > max_weight:
                continue
            chosen.append(e.tx)
            chosen_ids.add(txid)
            weight += w
        return chosen

    def clear(self) -> list[Tx]:
        txs = [e.tx for e in self.entries.values()]
        self.entries.clear()
        self.spends.clear()
        return txs
