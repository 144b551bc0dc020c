"""Gold: the Layer-2 state rebuilt from the Taproot envelopes on Bitcoin, with the STF.

`GoldReader` (bitcoinzk/da/gold.py) reassembles batches from envelopes and accepts one
when it extends the current root, its public input is its own data's and (if given a
verifier) its proof verifies. That says the data is what the proof was about; it does
not give anyone the state. `GoldFollower` also replays each batch with the STF before
accepting it, so it holds every account (balances, nonces, Merkle proofs) and refuses
a batch whose data does not produce its claimed root under the rules — which, without
a verifier (a reader that only trusts the publisher's key), is the only thing standing
between it and a sequencer that publishes a state transition the rules forbid.

`GoldNode` is the same replay as a full node (`bzk fullnode --layer gold`): it reads
the blocks of a Bitcoin chain up to the confirmed height, stores each accepted batch
with its undo record in one SQLite transaction (the Silver follower's store), rolls
batches back when Bitcoin drops the block that completed them, and resumes after a
kill -9 from what it stored.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bitcoinzk import sqlite
from bitcoinzk.bitcoin.block import Block
from bitcoinzk.da.evm import DataUnavailable, PublishedBatch, replay_operations
from bitcoinzk.da.gold import GoldBatch, GoldError, GoldReader, ProofVerifier
from bitcoinzk.fullnode.follower import FollowerError, StoredFollower, SyncReport
from bitcoinzk.sequencer.store import Store, StoredBlock
from bitcoinzk.spec.genesis import Genesis
from bitcoinzk.spec.params import LEVEL_BITS, ChainParams
from bitcoinzk.spec.state import State
from bitcoinzk.spec.types import Operation

log = logging.getLogger(__name__)

GOLD_SOURCE = "gold: Taproot envelopes on Bitcoin"
"""What a Gold data directory follows (the `da_rollup` meta of a Silver one)."""


def replay_gold(
    state: State, batch: GoldBatch, params: ChainParams
) -> tuple[State, list[Operation]]:
    """The STF applied to a Gold batch's operations (a fork of `state`), or GoldError."""
    published = PublishedBatch(
        batch.block_number,
        batch.old_root,
        batch.new_root,
        batch.pubdata,
        batch.proof,
        b"",
        b"",
        (),
        b"",
        0,
    )
    try:
        return replay_operations(state, params, published)
    except DataUnavailable as exc:
        raise GoldError(f"the STF refuses it: {exc}") from None


@dataclass
class GoldFollower(GoldReader):
    """A `GoldReader` that replays every batch it accepts on its own state (in memory)."""

    state: State = field(default_factory=lambda: State(LEVEL_BITS))

    @classmethod
    def from_genesis(
        cls,
        genesis: Genesis,
        verify: ProofVerifier | None = None,
        publisher_key: bytes | None = None,
    ) -> GoldFollower:
        state = genesis.state()
        return cls(
            genesis.params,
            state.root,
            verify=verify,
            publisher_key=publisher_key,
            state=state,
        )

    def check(self, batch: GoldBatch) -> None:
        """`GoldReader.check`, then the STF: the batch must replay to its new root.

        The reader accepts a batch right after it passes this check, so the replayed
        state is adopted here."""
        super().check(batch)
        replayed, _ = replay_gold(self.state, batch, self.params)
        self.state.merge(replayed)


class BlockSource(Protocol):
    """A Bitcoin chain as the full node reads it: `RegtestNode`, `BitcoinRPC`, or
    `IndexBlocks` (an embedded node's data directory)."""

    def height(self) -> int: ...

    def block_hash(self, height: int) -> str: ...

    def get_block(self, block_hash: str) -> Block: ...


class IndexBlocks:
    """The blocks of an embedded regtest node (`RegtestNode`), read from its
    `index.sqlite` as a second reader, so the node may keep running: the index holds
    the active chain and every block's bytes (each validated by libbitcoinkernel)."""

    def __init__(self, data_dir: Path) -> None:
        path = data_dir / "index.sqlite"
        if not path.is_file():
            raise ValueError(f"{path} does not exist: no embedded Bitcoin node there")
        self.db = sqlite.open_db(path, "NORMAL")

    def close(self) -> None:
        self.db.close()

    def height(self) -> int:
        row = self.db.execute("SELECT MAX(height) FROM chain").fetchone()
        return -1 if row[0] is None else int(row[0])

    def block_hash(self, height: int) -> str:
        row = self.db.execute("SELECT hash FROM chain WHERE height=?", (height,)).fetchone()
        if row is None:
            raise IndexError(f"block height {height} out of range")
        return str(row[0])

    def get_block(self, block_hash: str) -> Block:
        row = self.db.execute("SELECT raw FROM rawblocks WHERE hash=?", (block_hash,)).fetchone()
        if row is None:
            raise KeyError(f"unknown block {block_hash}")
        return Block.from_bytes(bytes(row[0]))


class _StoringReader(GoldReader):
    """The reader inside `GoldNode`: a batch that passes its checks is replayed and
    stored before the reader moves its root (a failure to store leaves both behind)."""

    def __init__(self, node: GoldNode) -> None:
        super().__init__(
            node.params,
            node.state.root,
            next_block=node.head + 1,
            verify=node.verify,
            publisher_key=node.publisher_key,
        )
        self.node = node

    def check(self, batch: GoldBatch) -> None:
        super().check(batch)
        self.node._apply(batch)

    def _reject(self, where: str, why: str) -> None:
        if "is already settled" in why:
            return  # an applied batch's pieces, met again when rescanning
        log.warning("refused %s: %s", where, why)
        super()._reject(where, why)


class GoldNode(StoredFollower):
    """The Layer-2 state of a Gold rollup, rebuilt from a Bitcoin chain's envelopes."""

    def __init__(
        self,
        store: Store,
        genesis: Genesis,
        blocks: BlockSource,
        verify: ProofVerifier | None = None,
        publisher_key: bytes | None = None,
        confirmations: int = 1,
        from_height: int = 0,
        owns_blocks: bool = False,
    ) -> None:
        if verify is None and publisher_key is None:
            # Signatures are not published: without the proof or the publisher's key,
            # anyone could publish a batch that moves other people's money.
            raise FollowerError(
                "a Gold full node needs the verifying key (proofs checked) or the "
                "sequencer's publisher key (--verifying-key or --publisher-key)"
            )
        self.blocks = blocks
        self.verify = verify
        self.publisher_key = publisher_key
        self.confirmations = max(1, confirmations)
        self.from_height = max(0, from_height)
        self.owns_blocks = owns_blocks
        """Close `blocks` with the node (it was opened for it, not lent by the caller)."""
        super().__init__(store, genesis, GOLD_SOURCE)
        self._current: tuple[int, str] = (-1, "")
        self._transfers = 0
        self._restart()

    def _restart(self) -> None:
        """Scan again from `from_height`: the pieces of the next batch may sit in any
        block since then (they are kept only in memory); applied batches are skipped."""
        self.reader = _StoringReader(self)
        self.scanned = self.from_height - 1
        self.scanned_hash: str | None = None

    @property
    def rejected(self) -> list[str]:
        return self.reader.rejected

    def info(self) -> dict[str, Any]:
        return {
            "layer": "gold",
            "bitcoin_height": self.scanned,
            "confirmations": self.confirmations,
            "proofs_checked": self.verify is not None,
            "publisher_key": None if self.publisher_key is None else self.publisher_key.hex(),
        }

    def close(self) -> None:
        self.store.close()
        close = getattr(self.blocks, "close", None)
        if self.owns_blocks and close is not None:
            close()

    def _hash_at(self, height: int, tip: int) -> str | None:
        return self.blocks.block_hash(height) if 0 <= height <= tip else None

    # --- following ---

    def sync_once(self, max_batches: int | None = None) -> SyncReport:
        """Scan every confirmed block not scanned yet (after undoing a reorg's batches)."""
        with self.busy:
            tip = self.blocks.height()
            rolled = self._undo_reorg(tip)
            head, transfers = self.head, 0
            safe = tip - self.confirmations + 1
            while self.scanned < safe:
                height = self.scanned + 1
                block_hash = self.blocks.block_hash(height)
                self._current = (height, block_hash)
                self._transfers = 0
                try:
                    self.reader.scan_block(self.blocks.get_block(block_hash))
                except BaseException:
                    # the reader may hold a batch it took out of its queue: start afresh
                    self._restart()
                    raise
                transfers += self._transfers
                self.scanned, self.scanned_hash = height, block_hash
                applied = self.head - head
                if self.stopping.is_set() or (max_batches is not None and applied >= max_batches):
                    break
            self.synced_at = time.time()
            return SyncReport(self.head - head, rolled, self.head, transfers)

    def _apply(self, batch: GoldBatch) -> None:
        """Replay an accepted batch and store it with the Bitcoin block that completed it."""
        replayed, ops = replay_gold(self.state, batch, self.params)
        height, block_hash = self._current
        digest = hashlib.sha256(batch.blob()).digest()
        stored = StoredBlock(
            number=batch.block_number,
            old_root=batch.old_root,
            new_root=batch.new_root,
            timestamp=time.time(),
            ops=[op.to_json() for op in ops],
            pubdata=batch.pubdata.to_bytes(),
            public_input=batch.public_input,
            fees=sum(getattr(op, "fee", 0) for op in ops),
        )
        info = {
            "bitcoin_block": height,
            "bitcoin_block_hash": block_hash,
            "blob_sha256": "0x" + digest.hex(),
            "source": "gold",
            "tx_count": len(ops),
        }
        self._transfers += self._store_batch(
            stored,
            ops,
            replayed,
            batch.proof,
            info,
            # (block, block hash, "transaction": the blob's digest, "chain hash": the
            # public input, which binds the number, both roots and the pubdata)
            (height, bytes.fromhex(block_hash), digest, batch.public_input.to_bytes(32, "big")),
        )

    # --- reorgs ---

    def _undo_reorg(self, tip: int) -> int:
        """Roll back the batches whose Bitcoin block left the active chain; their number.

        Checked at every poll against the last block scanned, and at start-up (a reorg
        may have happened while the node was down) against the head batch's block."""
        if self.scanned_hash is not None and self._hash_at(self.scanned, tip) == (
            self.scanned_hash
        ):
            return 0
        rolled = 0
        while self.head > 0:
            row = self._batch_row(self.head)
            if row is not None and self._hash_at(row[0], tip) == row[1].hex():
                break
            log.warning("Bitcoin reorg: rolling back batch %d", self.head)
            self._roll_back_head()
            rolled += 1
        if rolled or self.scanned_hash is not None:
            self._restart()
        return rolled


def open_gold_node(
    data_dir: Path,
    genesis: Genesis,
    blocks: BlockSource,
    verify: ProofVerifier | None = None,
    publisher_key: bytes | None = None,
    confirmations: int = 1,
    from_height: int = 0,
    owns_blocks: bool = False,
) -> GoldNode:
    """The store in `data_dir` and the node on it (`owns_blocks`: close `blocks` with it)."""
    store = Store(data_dir / "fullnode.sqlite")
    try:
        return GoldNode(
            store, genesis, blocks, verify, publisher_key, confirmations, from_height, owns_blocks
        )
    except BaseException:
        store.close()
        raise
