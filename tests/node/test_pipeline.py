"""Every block proven, verified on an EVM, and rebuildable from the contract's data alone."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import aiohttp

from bitcoinzk.da.evm import EvmBatchReader
from bitcoinzk.node.rpc.client import AsyncNodeClient
from bitcoinzk.node.server import Node
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.types import UserOperation
from tests.node.conftest import proving_config, send_until_final
from tests.spec.helpers import genesis, transfer, withdraw

# The smallest real circuit: the same shape the prover and settlement tests cache keys for.
PARAMS = ChainParams(chain_id=7, tree_depth=6, block_slots=2, block_records=1, fee_account=0)


async def _run(data_dir: Path) -> None:
    gen = genesis(params=PARAMS)
    config = proving_config(data_dir, settlement="embedded")
    node = Node(config, gen)
    await node.start()
    try:
        async with aiohttp.ClientSession() as session:
            rpc = AsyncNodeClient(session, node.url)
            ops: list[UserOperation] = [
                transfer(1, 2, 1_000, params=PARAMS),
                withdraw(2, 2_000, params=PARAMS),
            ]
            batches = await send_until_final(rpc, ops)
            for b in batches:
                assert b["proof"] and len(bytes.fromhex(b["proof"][2:])) == 256
                assert b["settlement_tx"].startswith("0x") and b["commit_gas"] > 200_000
                assert node.prover is not None
                assert node.prover.verify(bytes.fromhex(b["proof"][2:]), int(b["public_input"], 16))
            assert node.rollup is not None
            assert node.rollup.batch_count() == len(batches)
            assert node.rollup.state_root() == int(await rpc("bzk_stateRoot"), 16)
            rebuilt = EvmBatchReader(node.rollup, PARAMS).rebuild(gen.state())
            assert rebuilt.root == int(await rpc("bzk_stateRoot"), 16)
    finally:
        await node.stop()


def test_blocks_are_proven_committed_and_final(tmp_path):
    asyncio.run(_run(tmp_path / "node"))


async def _kill_worker_mid_proof(data_dir: Path) -> None:
    config = proving_config(data_dir)
    node = Node(config, genesis(params=PARAMS))
    await node.start()
    try:
        async with aiohttp.ClientSession() as session:
            rpc = AsyncNodeClient(session, node.url)
            await rpc("bzk_sendTransaction", transfer(1, 2, 1_000, params=PARAMS).to_json())
            for _ in range(600):
                batch = await rpc("bzk_getBatch", 1)
                if batch is not None and batch["status"] == "proving":
                    break
                await asyncio.sleep(0.1)
            assert node.prover is not None
            pool = node.prover._pool  # type: ignore[attr-defined]
            workers = list(pool._processes)
            assert workers
            for pid in workers:
                os.kill(pid, signal.SIGKILL)
            for _ in range(1200):
                batch = await rpc("bzk_getBatch", 1)
                if batch["status"] == "proven":
                    break
                await asyncio.sleep(0.2)
            assert batch["status"] == "proven", batch
            assert node.prover.verify(
                bytes.fromhex(batch["proof"][2:]), int(batch["public_input"], 16)
            )
    finally:
        await node.stop()


def test_a_prover_worker_killed_mid_proof_is_replaced_and_the_block_proven(tmp_path):
    """kill -9 of the prover's worker alone (OOM killer, operator): its pool is broken
    for good, so the block must go back to pending and a new worker prove it."""
    asyncio.run(_kill_worker_mid_proof(tmp_path / "node"))
