"""Settlement keeps pace with proving: commit what is proven at once, several per transaction,
and refuse new transactions while the prover is too far behind.

Real prover (the B=2 test circuit, cached key), real py-evm contract, real node over HTTP.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from bitcoinzk.da.evm import EvmBatchReader
from bitcoinzk.node.pipeline import (
    final_latency,
    percentile,
    ready_run,
)
from bitcoinzk.node.server import Node, NodeConfig
from bitcoinzk.procutil import free_port
from bitcoinzk.sequencer.sequencer import SequencerConfig
from bitcoinzk.sequencer.store import BatchStatus
from bitcoinzk.spec.params import ChainParams
from tests.spec.helpers import genesis, transfer

PARAMS = ChainParams(chain_id=7, tree_depth=6, block_slots=2, block_records=1, fee_account=0)


def test_ready_run_is_the_gapless_prefix_after_the_contract() -> None:
    assert ready_run([], 0, 16) == []
    assert ready_run([1, 2, 3], 0, 16) == [1, 2, 3]
    assert ready_run([2, 3], 0, 16) == []  # block 1 not proven yet: nothing can go
    assert ready_run([1, 2, 4, 5], 0, 16) == [1, 2]
    assert ready_run([3, 4, 5], 2, 2) == [3, 4]
    # proven but already on chain (restart between commit and record) come first
    assert ready_run([2, 3, 4], 2, 1) == [2, 3]


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.95) == 95.0
    assert percentile([7.0], 0.95) == 7.0


def _node(
    data_dir: Path, max_backlog: int = 32, block_time: float = 0.2, max_block_txs: int = 1
) -> Node:
    config = NodeConfig(
        data_dir=data_dir,
        port=free_port(),
        sequencer=SequencerConfig(block_time=block_time, max_block_txs=max_block_txs),
        verify_workers=1,
        prove=True,
        settlement="embedded",
        producer_process=False,
        max_backlog=max_backlog,
    )
    return Node(config, genesis(params=PARAMS))


def test_commits_each_proven_run_while_later_blocks_wait(tmp_path: Path) -> None:
    """Block 1 is committed while blocks 2 and 3 still wait for their proofs; then 2 and 3,
    proven meanwhile, go in one commitBatches transaction."""
    node = _node(tmp_path / "node")
    assert node.prover is not None and node.rollup is not None
    pipeline = node.pipeline
    seq = node.sequencer
    try:
        for nonce in range(3):
            op = transfer(1, 2, 1_000 + nonce, nonce=nonce, params=PARAMS)
            assert seq.admit([(op, seq.tx_hash(op))])[0].error is None
            assert seq.produce_block() is not None
        assert node.store.batches_with_status(BatchStatus.PENDING) == [1, 2, 3]
        assert pipeline.refresh_backlog() == 3

        async def drive() -> None:
            assert await pipeline.prove_step()
            assert node.store.batches_with_status(BatchStatus.PROVEN) == [1]
            assert await pipeline.settle_step()
            assert node.store.batches_with_status(BatchStatus.PENDING) == [2, 3]
            settled = [BatchStatus.COMMITTED, BatchStatus.FINAL]
            assert [n for s in settled for n in node.store.batches_with_status(s)] == [1]
            assert await pipeline.prove_step() and await pipeline.prove_step()
            assert pipeline.backlog == 0
            assert await pipeline.settle_step()
            while await pipeline.settle_step():
                pass

        asyncio.run(drive())
        batches = [node.store.get_batch(n) for n in (1, 2, 3)]
        assert all(b is not None and b.status == BatchStatus.FINAL for b in batches)
        info = [b.info for b in batches if b is not None]
        assert info[0]["batches_in_tx"] == 1
        assert info[1]["batches_in_tx"] == info[2]["batches_in_tx"] == 2
        assert info[1]["settlement_tx"] == info[2]["settlement_tx"] != info[0]["settlement_tx"]
        assert node.rollup.batch_count() == 3
        assert node.rollup.chain_hash_of(3).hex() == info[2]["chain_hash"][2:]
        assert node.rollup.chain_hash_of(2) == bytes(32)  # inside a call: no slot of its own
        assert EvmBatchReader(node.rollup, PARAMS).rebuild(genesis(params=PARAMS).state()).root == (
            seq.state.root
        )
        latency = final_latency(node.store)
        assert latency["transactions"] == 3 and latency["p95_s"] >= latency["p50_s"] > 0
    finally:
        node.prover.close()
        node.store.close()


async def _send(session: aiohttp.ClientSession, url: str, tx: object) -> dict[str, object]:
    body = {"jsonrpc": "2.0", "id": 1, "method": "bzk_sendTransaction", "params": [tx]}
    async with session.post(url, json=body) as response:
        reply: dict[str, object] = await response.json()
        return reply


def test_admission_refuses_while_the_proving_backlog_is_at_its_bound(tmp_path: Path) -> None:
    """The first transaction waits in the mempool (a block of 2 slots, an hour's block
    time): one block of work no prover has done yet, the bound. The second is refused;
    once a block is cut and proven, admission reopens. (The wait is made by the block
    time, not by the prover's speed: a native proof of this circuit beats an HTTP reply.)"""
    bound = 1

    async def run() -> None:
        node = _node(tmp_path / "node", max_backlog=bound, block_time=3600, max_block_txs=2)
        await node.start()
        try:
            async with aiohttp.ClientSession() as session:
                first = await _send(
                    session, node.url, transfer(1, 2, 1_000, params=PARAMS).to_json()
                )
                assert "result" in first, first
                assert node.proving_backlog() == 1, (node.pipeline.backlog, node.sequencer.head)
                second = transfer(1, 2, 2_000, nonce=1, params=PARAMS).to_json()
                busy = await _send(session, node.url, second)
                error = busy.get("error")
                assert isinstance(error, dict), busy
                assert error["code"] == -32023
                assert str(error["message"]).startswith(
                    f"ProvingBacklog: busy: proving backlog 1 >= {bound} blocks"
                )
                # the refused transaction was not kept
                assert len(node.sequencer.mempool) == 1 and node.sequencer.head == 0
                node.sequencer.config.block_time = 0.1  # cut the block: the prover catches up
                for _ in range(600):
                    batch = node.store.get_batch(1)
                    if batch is not None and batch.status == BatchStatus.FINAL:
                        break
                    await asyncio.sleep(0.1)
                assert node.proving_backlog() == 0
                again = await _send(session, node.url, second)
                assert "result" in again, again
                info = final_latency(node.store)
                assert info["transactions"] == 1
                assert node.stats["busy"] == 1
        finally:
            await node.stop()

    asyncio.run(run())
