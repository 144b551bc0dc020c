"""The embedded regtest node: libbitcoinkernel for validity, ours for the rest.

`RegtestNode` owns a `Kernel` (blocks and chainstate, Bitcoin Core's files), a
`ChainIndex` (SQLite: active chain, UTXO set, tx index, undo, mempool) and a
`BitcoinMempool`.  After every block submission it reads the kernel's active chain
and moves its own index to match: disconnecting down to the fork point and
connecting up to the new tip.  The same routine runs on start-up, so a crash
between the kernel's write and ours heals itself, and a reorg is just a sync
that disconnects first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .block import Block, build_block
from .encoding import DecodeError
from .index import ChainIndex, Coin, TxLookup
from .kernel import Kernel, SubmitResult, SubmitStatus
from .mempool import BitcoinMempool, ChainContext, MempoolRejection
from .script import BURN_SCRIPT
from .tx import OutPoint, Tx

log = logging.getLogger(__name__)

TipListener = Callable[[list[Block], list[Block]], None]


class RegtestNode:
    """A regtest Bitcoin node whose every block is validated by libbitcoinkernel."""

    network = "regtest"

    def __init__(self, datadir: Path | str, clock: Callable[[], float] = time.time) -> None:
        self.datadir = Path(datadir)
        self.datadir.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self._lock = threading.RLock()
        self.kernel = Kernel(self.datadir / "kernel")
        self.index = ChainIndex(self.datadir / "index.sqlite")
        self.mempool = BitcoinMempool(self.kernel)
        self._listeners: list[TipListener] = []
        self._replay_into_kernel()
        self._sync()
        self._reload_mempool()

    def close(self) -> None:
        with self._lock:
            self.kernel.close()
            self.index.close()

    def __enter__(self) -> RegtestNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def lock(self) -> threading.RLock:
        """Held by every mutation; RPC threads take it for whole calls."""
        return self._lock

    def add_listener(self, fn: TipListener) -> None:
        """`fn(disconnected, connected)` after every tip change, under the node's lock."""
        self._listeners.append(fn)

    # --- chain queries -------------------------------------------------------------------

    def height(self) -> int:
        return self.index.height()

    def tip_hash(self) -> str:
        h = self.index.hash_at(self.index.height())
        assert h is not None
        return h

    def block_hash(self, height: int) -> str:
        h = self.index.hash_at(height)
        if h is None:
            raise IndexError(f"block height {height} out of range")
        return h

    def get_block(self, block_hash: str) -> Block:
        if self.kernel.has_block(block_hash):
            return Block.from_bytes(self.kernel.read_block(block_hash))
        raw = self.index.raw_block(block_hash)
        if raw is None:
            raise KeyError(f"unknown block {block_hash}")
        return Block.from_bytes(raw)

    def block_height(self, block_hash: str) -> int:
        return self.kernel.block_height(block_hash)

    def in_active_chain(self, block_hash: str) -> bool:
        return self.kernel.has_block(block_hash) and self.kernel.in_active_chain(block_hash)

    def confirmations(self, block_hash: str) -> int:
        """Bitcoin Core's meaning: tip height - block height + 1, or -1 off the active chain."""
        if not self.in_active_chain(block_hash):
            return -1
        return self.height() - self.block_height(block_hash) + 1

    def get_coin(self, op: OutPoint) -> Coin | None:
        return self.index.get_coin(op)

    def coins_for_script(self, spk: bytes) -> list[Coin]:
        return self.index.coins_for_script(spk)

    def spent_in_mempool(self, op: OutPoint) -> bool:
        return op in self.mempool.spends

    def get_tx(self, txid: str) -> TxLookup | None:
        with self._lock:
            mtx = self.mempool.get(txid)
            if mtx is not None:
                return TxLookup(mtx, None, None)
            loc = self.index.tx_location(txid)
            if loc is None:
                return None
            block = self.get_block(loc[0])
            return TxLookup(block.txs[loc[1]], loc[0], self.block_height(loc[0]))

    def median_time_past(self, block_hash: str | None = None) -> int:
        return self.kernel.median_time_past(block_hash or self.tip_hash())

    def chain_context(self) -> ChainContext:
        tip = self.tip_hash()
        return ChainContext(
            next_height=self.height() + 1,
            tip_mtp=self.kernel.median_time_past(tip),
            mtp_at=lambda h: self.kernel.median_time_past(self.block_hash(h)),
        )

    # --- transactions --------------------------------------------------------------------

    def send_raw_transaction(self, tx: Tx | bytes | str) -> str:
        """Accept into the mempool or raise `MempoolRejection`."""
        if not isinstance(tx, Tx):
            try:
                tx = Tx.from_bytes(tx) if isinstance(tx, bytes) else Tx.from_hex(tx)
            except DecodeError as e:
                raise MempoolRejection(f"TX decode failed: {e}", -22) from e
        with self._lock:
            txid = tx.txid
            if self.index.tx_location(txid) is not None:
                raise MempoolRejection("Transaction already in block chain", -27)
            self.mempool.accept(tx, self.index.get_coin, self.chain_context(), int(self.clock()))
            self.index.save_mempool_tx(txid, tx.serialize())
            return txid

    # --- blocks --------------------------------------------------------------------------

    def next_block_time(self, parent: str) -> int:
        return max(int(self.clock()), self.kernel.median_time_past(parent) + 1)

    def build_block(
        self,
        txs: list[Tx] | None = None,
        payout_script: bytes = BURN_SCRIPT,
        parent: str | None = None,
        block_time: int | None = None,
        extra: bytes = b"",
    ) -> Block:
        """A solved block on `parent` (default: tip) with `txs` (default: from the mempool).

        Fees are computed from the index and mempool where the inputs are known;
        a tx spending unknown outputs contributes no fee (the kernel judges it)."""
        with self._lock:
            parent = parent or self.tip_hash()
            height = self.kernel.block_height(parent) + 1
            txs = self.mempool.select() if txs is None else txs
            fees = 0
            created = {t.txid: t for t in txs}
            for t in txs:
                value_in = 0
                for txin in t.vin:
                    coin = self.index.get_coin(txin.prevout)
                    src = created.get(txin.prevout.txid)
                    out = coin.output if coin else (src.vout[txin.prevout.vout] if src else None)
                    value_in += out.value if out else 0
                fees += max(0, value_in - sum(o.value for o in t.vout))
            when = block_time if block_time is not None else self.next_block_time(parent)
            return build_block(parent, height, when, txs, fees, payout_script, extra)

    def submit_block(self, block: Block | bytes) -> SubmitResult:
        with self._lock:
            result = self.kernel.submit_block(block)
            if result.status in (SubmitStatus.CONNECTED, SubmitStatus.SIDE_CHAIN):
                self._sync()
            if result.status is SubmitStatus.INVALID:
                log.warning("block %s rejected by the kernel: %s", result.block_hash, result.reason)
            return result

    def mine(self, n: int = 1, payout_script: bytes = BURN_SCRIPT) -> list[str]:
        """Mine `n` blocks on the tip from the mempool. A template the kernel refuses
        (it should not happen: the mempool mirrors consensus) is retried transaction by
        transaction and the offenders are evicted."""
        hashes = []
        with self._lock:
            for _ in range(n):
                block = self.build_block(payout_script=payout_script)
                result = self.submit_block(block)
                if not result.connected:
                    log.error("template rejected (%s); rebuilding tx by tx", result.reason)
                    result = self._mine_carefully(payout_script)
                hashes.append(result.block_hash)
        return hashes

    def _mine_carefully(self, payout_script: bytes) -> SubmitResult:
        """One transaction per block, in mempool order; what the kernel refuses is evicted."""
        last: SubmitResult | None = None
        for tx in self.mempool.select():
            if tx.txid not in self.mempool:
                continue  # evicted with a parent
            result = self.submit_block(self.build_block([tx], payout_script))
            if result.connected:
                last = result
            else:
                log.error(
                    "evicting %s: the kernel refused it in a block (%s)", tx.txid, result.reason
                )
                self.index.drop_mempool_txs(self.mempool.remove(tx.txid))
        if last is None:
            last = self.submit_block(self.build_block([], payout_script))
            if not last.connected:
                raise RuntimeError(f"kernel refused an empty block: {last.reason}")
        return last

    # --- index synchronisation -----------------------------------------------------------

    def _sync(self) -> None:
        """Move the SQLite index to the kernel's active chain (reorgs included)."""
        k_height = self.kernel.height()
        fork = min(self.index.height(), k_height)
        while fork >= 0 and self.index.hash_at(fork) != self.kernel.hash_at(fork):
            fork -= 1
        disconnected: list[Block] = []
        while self.index.height() > fork:
            h = self.index.disconnect_tip()
            disconnected.append(self.get_block(h))
        connected: list[Block] = []
        for height in range(fork + 1, k_height + 1):
            raw = self.kernel.read_block(self.kernel.hash_at(height))
            block = Block.from_bytes(raw)
            self.index.connect(block, height, raw)
            connected.append(block)
        if not disconnected and not connected:
            return
        if disconnected:
            log.info(
                "reorg: %d block(s) disconnected, %d connected", len(disconnected), len(connected)
            )
            self._rebuild_mempool([t for b in reversed(disconnected) for t in b.txs[1:]])
        else:
            removed = []
            for block in connected:
                removed += self.mempool.remove_for_block(block.txs)
            self.index.drop_mempool_txs(removed)
        for fn in self._listeners:
            fn(disconnected, connected)

    def _replay_into_kernel(self) -> None:
        """After a hard kill the kernel may have lost its unflushed block index and come
        back behind our index: hand it our copies of the missing blocks, each validated
        again and checked to become the tip."""
        ours, theirs = self.index.height(), self.kernel.height()
        if ours <= theirs:
            return
        start = theirs
        while start >= 0 and self.index.hash_at(start) != self.kernel.hash_at(start):
            start -= 1
        log.warning(
            "kernel at height %d, index at %d: replaying %d block(s)", theirs, ours, ours - start
        )
        for height in range(start + 1, ours + 1):
            bhash = self.index.hash_at(height)
            raw = self.index.raw_block(bhash) if bhash else None
            if raw is None or not self.kernel.submit_block(raw).connected:
                log.error("replay stopped at height %d; the index will follow the kernel", height)
                return

    def _rebuild_mempool(self, returning: list[Tx]) -> None:
        """After a reorg: disconnected transactions first, then the old mempool, each
        re-accepted against the new chain; whatever is no longer valid is dropped."""
        old = self.mempool.clear()
        self.index.clear_mempool()
        for tx in [*returning, *old]:
            if self.index.tx_location(tx.txid) is not None:
                continue
            try:
                self.send_raw_transaction(tx)
            except MempoolRejection as e:
                log.info("dropping %s after reorg: %s", tx.txid, e.reason)

    def _reload_mempool(self) -> None:
        raws = self.index.load_mempool()
        self.index.clear_mempool()
        for raw in raws:
            try:
                self.send_raw_transaction(raw)
            except MempoolRejection as e:
                log.info("mempool entry not reloaded: %s", e.reason)
