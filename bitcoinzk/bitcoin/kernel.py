"""The one place that talks to libbitcoinkernel (`import pbk`).

Every consensus decision of the embedded node is made here by Bitcoin Core's
own code: block connection (`submit_block`), script verification of a single
input with its spent outputs (`verify_input`, used by the mempool), and the
context-free transaction checks (`check_transaction`).

`ChainstateManager.process_block` raises only for early failures: a block
that fails while connecting returns normally and the tip stays where it was.
`submit_block` therefore always reads the tip afterwards and reports what
really happened.
"""

from __future__ import annotations

import ctypes
import enum
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pbk
from pbk.capi.base import KernelOpaquePtr

from .block import Block, BlockHeader
from .tx import OutPoint, Tx, TxIn, TxOut

log = logging.getLogger(__name__)


class KernelError(Exception):
    """The kernel could not be opened or misbehaved."""


class ScriptVerifyError(Exception):
    """An input's script did not verify against its spent output."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"input {index}: {reason}")
        self.index = index
        self.reason = reason


class SubmitStatus(enum.Enum):
    CONNECTED = "connected"  # the block is the new tip (possibly after a reorg)
    SIDE_CHAIN = "inconclusive"  # stored, valid so far, not on the best chain
    DUPLICATE = "duplicate"
    INVALID = "invalid"


@dataclass(frozen=True)
class SubmitResult:
    status: SubmitStatus
    block_hash: str
    reason: str = ""

    @property
    def connected(self) -> bool:
        return self.status is SubmitStatus.CONNECTED


SCRIPT_FLAGS = pbk.ScriptVerificationFlags.ALL


def kernel_block(raw: bytes) -> pbk.Block:
    """`pbk.Block(raw)` hands the bytes to ctypes one argument each (~1.6 s for a 4 MB
    block); this is the same constructor fed a buffer made in one copy."""
    block = pbk.Block.__new__(pbk.Block)
    KernelOpaquePtr.__init__(block, (ctypes.c_ubyte * len(raw)).from_buffer_copy(raw), len(raw))
    return block


class Kernel:
    """A regtest `ChainstateManager` in `datadir`, with block-checked bookkeeping."""

    def __init__(self, datadir: Path | str, worker_threads: int = 0) -> None:
        self.datadir = Path(datadir)
        self.datadir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._checked: dict[str, str] = {}  # block hash -> failure reason
        self._callbacks = pbk.ValidationInterfaceCallbacks(block_checked=self._on_block_checked)
        self._context = pbk.make_context(pbk.ChainType.REGTEST, self._callbacks)
        opts = pbk.ChainstateManagerOptions(
            self._context, str(self.datadir.absolute()), str((self.datadir / "blocks").absolute())
        )
        opts.set_worker_threads_num(worker_threads)
        try:
            self._chainman: pbk.ChainstateManager | None = pbk.ChainstateManager(opts)
        except RuntimeError as e:
            raise KernelError(f"cannot open kernel datadir {self.datadir}: {e}") from e
        self._consensus = pbk.ChainParameters(pbk.ChainType.REGTEST).consensus_params
        self._chain_params = pbk.ChainParameters(pbk.ChainType.REGTEST)

    def _on_block_checked(
        self, _ud: Any, block: pbk.Block, state: pbk.BlockValidationState
    ) -> None:
        if state.validation_mode != pbk.ValidationMode.VALID:
            self._checked[str(block.block_hash)] = state.block_validation_result.name.lower()

    @property
    def chainman(self) -> pbk.ChainstateManager:
        if self._chainman is None:
            raise KernelError("kernel is closed")
        return self._chainman

    def close(self) -> None:
        """Flush and release the datadir (the kernel holds an exclusive lock on it)."""
        with self._lock:
            if self._chainman is not None:
                self._chainman.__del__()
                self._chainman = None

    # --- chain queries -------------------------------------------------------------------

    def height(self) -> int:
        return int(self.chainman.get_active_chain().height)

    def hash_at(self, height: int) -> str:
        chain = self.chainman.get_active_chain()
        if height < 0 or height > chain.height:
            raise IndexError(height)
        return str(chain.block_tree_entries[height].block_hash)

    def tip_hash(self) -> str:
        return self.hash_at(self.height())

    def _entry(self, block_hash: str) -> pbk.BlockTreeEntry:
        key = pbk.BlockHash(bytes.fromhex(block_hash)[::-1])
        try:
            return self.chainman.block_tree_entries[key]
        except KeyError as e:
            raise KeyError(f"unknown block {block_hash}") from e

    def has_block(self, block_hash: str) -> bool:
        try:
            self._entry(block_hash)
        except (KeyError, ValueError):
            return False
        return True

    def block_height(self, block_hash: str) -> int:
        return int(self._entry(block_hash).height)

    def in_active_chain(self, block_hash: str) -> bool:
        entry = self._entry(block_hash)
        return entry in self.chainman.get_active_chain().block_tree_entries

    def read_block(self, block_hash: str) -> bytes:
        return bytes(self.chainman.blocks[self._entry(block_hash)])

    def header(self, block_hash: str) -> BlockHeader:
        from .encoding import Reader

        return BlockHeader.parse(Reader(bytes(self._entry(block_hash).block_header)))

    def median_time_past(self, block_hash: str) -> int:
        """Median of the last 11 block times ending at `block_hash` (BIP-113)."""
        entry = self._entry(block_hash)
        times = []
        for _ in range(11):
            times.append(int(entry.block_header.timestamp.timestamp()))
            if entry.height == 0:
                break
            entry = entry.previous
        return sorted(times)[len(times) // 2]

    # --- validation ----------------------------------------------------------------------

    def submit_block(self, block: Block | bytes) -> SubmitResult:
        """Hand a block to the kernel and report whether it became the tip."""
        raw = block.serialize() if isinstance(block, Block) else block
        with self._lock:
            try:
                kblock = kernel_block(raw)
            except RuntimeError as e:
                return SubmitResult(SubmitStatus.INVALID, "", f"undecodable block: {e}")
            bhash = str(kblock.block_hash)
            self._checked.pop(bhash, None)
            try:
                is_new = self.chainman.process_block(kblock)
            except pbk.ProcessBlockException as e:
                reason = self._checked.pop(bhash, f"rejected (code {e.code})")
                return SubmitResult(SubmitStatus.INVALID, bhash, reason)
            if self.tip_hash() == bhash:
                return SubmitResult(SubmitStatus.CONNECTED, bhash)
            if bhash in self._checked:
                return SubmitResult(SubmitStatus.INVALID, bhash, self._checked.pop(bhash))
            if not is_new:
                return SubmitResult(SubmitStatus.DUPLICATE, bhash, "duplicate")
            if self.has_block(bhash) and self.in_active_chain(bhash):
                return SubmitResult(SubmitStatus.CONNECTED, bhash)  # connected, then extended
            return SubmitResult(SubmitStatus.SIDE_CHAIN, bhash, "inconclusive")

    def check_transaction(self, tx: Tx) -> str | None:
        """Bitcoin Core's context-free CheckTransaction, through CheckBlock on a
        throwaway block holding a dummy coinbase and `tx`.  Returns a reason or None."""
        dummy_cb = Tx(1, [TxIn(OutPoint("00" * 32, 0xFFFFFFFF), b"\x01\x01")], [TxOut(0, b"\x51")])
        block = Block(BlockHeader(1, "00" * 32, b"\x00" * 32, 0), [dummy_cb, tx])
        try:
            kblock = kernel_block(block.serialize())
        except RuntimeError as e:
            return f"undecodable: {e}"
        state = kblock.check(self._consensus, pbk.BlockCheckFlags.BASE)
        if state.validation_mode == pbk.ValidationMode.VALID:
            return None
        return str(state.block_validation_result.name).lower()

    def verify_input(self, tx: Tx, spent: list[TxOut], index: int | None = None) -> None:
        """Run the kernel's script verifier (all consensus flags, Taproot included)
        on one input, or on every input when `index` is None."""
        ktx = pbk.Transaction(tx.serialize())
        kspent = [pbk.TransactionOutput(pbk.ScriptPubkey(o.script_pubkey), o.value) for o in spent]
        pre = pbk.script.PrecomputedTransactionData(ktx, kspent)
        indices = range(len(tx.vin)) if index is None else [index]
        for i in indices:
            try:
                ok = kspent[i].script_pubkey.verify(spent[i].value, ktx, pre, i, SCRIPT_FLAGS)
            except pbk.ScriptVerifyException as e:
                raise ScriptVerifyError(i, e.status.name.lower()) from e
            if not ok:
                raise ScriptVerifyError(i, "script verification failed")
