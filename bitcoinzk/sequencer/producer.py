"""Block building in a process of its own.

Building a block costs about a millisecond of Poseidon hashing per transfer
(two leaf writes at depth 24), which would otherwise stall admission on the
node's event loop and leave the second core idle. The producer process keeps
its own copy of the state, loaded from the store at start; after each build it
adopts the block's changes, and the node stores the block and adopts the same
changes in its copy. If the node fails to store a block, it restarts the
producer so both copies come from the store again.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from bitcoinzk.procutil import exit_with_parent
from bitcoinzk.sequencer.sequencer import BuiltBlock, build_block
from bitcoinzk.sequencer.store import Store
from bitcoinzk.spec.genesis import Genesis
from bitcoinzk.spec.state import State
from bitcoinzk.spec.stf import BlockTrace
from bitcoinzk.spec.types import Operation

Witness = Callable[[BlockTrace], dict[str, Any]]

_STATE: State | None = None
_GENESIS: Genesis | None = None
_WITNESS: Witness | None = None


def _init(store_path: str, genesis_json: str, witness: Witness | None, parent: int) -> None:
    global _STATE, _GENESIS, _WITNESS
    exit_with_parent(parent)
    _GENESIS = Genesis.from_json(json.loads(genesis_json))
    _WITNESS = witness
    store = Store(store_path)
    try:
        _STATE = store.load_state(_GENESIS.params.tree_depth)
    finally:
        store.close()


def _build(
    number: int, candidates: list[tuple[bytes, Operation]], max_txs: int
) -> BuiltBlock | None:
    assert _STATE is not None and _GENESIS is not None, "producer started without a state"
    built = build_block(_STATE, _GENESIS.params, number, candidates, max_txs, _WITNESS)
    if built is not None and built.included:
        _STATE.adopt(built.accounts, built.nodes)
    return built


def _root() -> int:
    assert _STATE is not None
    return _STATE.root


class BlockProducer:
    def __init__(self, store_path: Path, genesis: Genesis, witness: Witness | None) -> None:
        self.store_path = store_path
        self.genesis = genesis
        self.witness = witness
        self.pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        self.pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=mp.get_context("spawn"),
            initializer=_init,
            initargs=(
                str(self.store_path),
                json.dumps(self.genesis.to_json()),
                self.witness,
                os.getpid(),
            ),
        )

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None

    def restart(self) -> None:
        self.close()
        self.start()

    async def root(self) -> int:
        assert self.pool is not None
        return await asyncio.get_running_loop().run_in_executor(self.pool, _root)

    async def build(
        self, number: int, candidates: list[tuple[bytes, Operation]], max_txs: int
    ) -> BuiltBlock | None:
        assert self.pool is not None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, _build, number, candidates, max_txs)
