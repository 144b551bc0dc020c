"""`bzk bench pipeline`: a proving, settling node under a sustained load.

A real node in this process (sequencer, prover process, embedded py-evm
settlement, JSON-RPC over HTTP) receives signed transfers at a steady rate for
`seconds`. The rate is `load` times the measured proving capacity: one full
block is proven first, through the same pipeline, and capacity = parallel * B /
(its proof time). Block time is B / rate, so blocks are full on average.

Figures (the last line of the CLI is this dict as JSON):
    offered_tps          transactions the node accepted per second of load
    proven_tps           the rate blocks of the load were proven at: their transactions
                         after the first one proven, over the time from it to the last
    final_tps            the same for final: a pipeline that keeps pace makes blocks
                         final one block time apart, one that does not one proof apart
    *_tps_window         transactions proven (final) inside the steady window, per second:
                         moves in steps of a block when the window holds few
    latency_final_p50_s  inclusion (block timestamp) -> final, over every transaction
    latency_final_p95_s  included while the load ran (after draining what was left)
    backlog_max          most blocks waiting for a proof at once (admission's count)
    node_init_s          the node built: genesis state (a 2^D tree), keys found, vk read
    key_load_s           the node started: mostly the prover process loading its key
    load_avg_1m_*        the machine's load at the start and the end (it is shared)
    cpu_s                CPU of this process and its children (prover, witness), all run
The steady window is the load's duration minus a warm-up of one block time plus
two block-proof times (nothing can be final before the first block is proven).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console

from bitcoinzk.crypto.eddsa import PrivateKey
from bitcoinzk.node.pipeline import percentile
from bitcoinzk.node.server import Node, NodeConfig
from bitcoinzk.procutil import free_port
from bitcoinzk.sequencer.sequencer import SequencerConfig
from bitcoinzk.sequencer.store import BatchStatus, Store
from bitcoinzk.spec.genesis import Genesis
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.types import Transfer

BUSY = -32023


def _key(i: int) -> PrivateKey:
    return PrivateKey(hashlib.sha256(b"bzk-pipeline-bench-" + i.to_bytes(4, "big")).digest())


def _transfers(params: ChainParams, senders: int, start: int, count: int) -> list[dict[str, Any]]:
    """Signed transfers number start.. start+count-1 of one sequence, round-robin over
    senders (sender i has index i + 1, its n-th transfer nonce n)."""
    keys = [_key(i) for i in range(senders)]
    pubs = [k.public_key() for k in keys]
    out = []
    for n in range(start, start + count):
        s = n % senders
        nonce = n // senders
        tx = Transfer(s + 1, 0, pubs[(s + 1) % senders], 1_000 + nonce, 1, nonce)
        out.append(tx.signed(keys[s], params.chain_id).to_json())
    return out


async def _send(session: aiohttp.ClientSession, url: str, tx: dict[str, Any]) -> int | None:
    """None if accepted, else the JSON-RPC error code."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "bzk_sendTransaction", "params": [tx]}
    async with session.post(url, json=body) as response:
        reply = await response.json()
    if "result" in reply:
        return None
    return int(reply["error"]["code"])


def _cpu_s() -> float:
    """CPU of this process and its reaped children (the prover process and its witness
    calculators, once the node has stopped): what the run cost, whatever the load."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _rate(store: Store, numbers: list[int], field: str, t_end: float) -> float | None:
    """Transactions per second at which the blocks made during the load reached `field`
    (a timestamp): the transactions after the first block to get there, over the time
    from it to the last. Unlike a count in a fixed window it needs two blocks, not many,
    to say something. The leftovers of the load, in a block made once it ended (after a
    block time of waiting for more), are not the steady state and do not count."""
    points: list[tuple[float, int]] = []
    for n in numbers:
        batch = store.get_batch(n)
        block = store.get_block(n)
        if batch is None or block is None or batch.info.get(field) is None:
            continue
        if block.timestamp > t_end:
            continue
        points.append((float(batch.info[field]), len(block.ops)))
    points.sort()
    if len(points) < 2 or points[-1][0] <= points[0][0]:
        return None
    return sum(count for _, count in points[1:]) / (points[-1][0] - points[0][0])


def _count(store: Store, numbers: list[int], field: str, lo: float, hi: float) -> int:
    """Transactions of the blocks whose `field` timestamp lies in [lo, hi]."""
    total = 0
    for n in numbers:
        batch = store.get_batch(n)
        block = store.get_block(n)
        if batch is None or block is None:
            continue
        at = batch.info.get(field)
        if at is not None and lo <= float(at) <= hi:
            total += len(block.ops)
    return total


async def _bench(
    params: ChainParams,
    seconds: float,
    load: float,
    rate: float | None,
    parallel: int,
    max_backlog: int,
    say: Any,
    data_dir: Path,
    backend: str = "auto",
) -> dict[str, Any]:
    b = params.block_slots
    senders = min(64, 2**params.tree_depth // 2)  # indices 1..senders; 0 is the operator
    txs = _transfers(params, senders, 0, b)
    genesis = Genesis(
        params,
        _key(10**6).public_key(),
        tuple((_key(i).public_key(), 10**12) for i in range(senders)),
    )
    config = NodeConfig(
        data_dir=data_dir,
        port=free_port(),
        # Calibration: a block only once it is full, however long sending B takes.
        sequencer=SequencerConfig(block_time=3600.0, max_block_txs=b),
        verify_workers=1,
        prove=True,
        prove_parallel=parallel,
        settlement="embedded",
        max_backlog=max_backlog,
        prover_backend=backend,
    )
    started = time.perf_counter()
    node = Node(config, genesis)
    node_init_s = time.perf_counter() - started
    started = time.perf_counter()
    await node.start()
    key_load_s = time.perf_counter() - started
    say(f"node built in {node_init_s:.1f} s, started (key loaded) in {key_load_s:.1f} s")
    sent = 0
    try:
        async with aiohttp.ClientSession() as session:
            # 1. capacity: one full block through prover and settlement
            say("calibrating: one full block proven and settled …")
            for tx in txs[:b]:
                assert await _send(session, node.url, tx) is None
            sent = b
            deadline = time.monotonic() + 3600
            while time.monotonic() < deadline:
                batch = node.store.get_batch(1)
                if batch is not None and batch.status == BatchStatus.FINAL:
                    break
                if batch is not None and batch.status == BatchStatus.FAILED:
                    raise RuntimeError(f"calibration block failed: {batch.info.get('error')}")
                await asyncio.sleep(0.2)
            else:
                raise RuntimeError("the calibration block was not final within an hour")
            assert batch is not None
            proof_s = float(batch.info["prove_s"])
            capacity = parallel * b / proof_s
            offered_rate = rate if rate is not None else load * capacity
            block_time = max(0.2, b / offered_rate)
            node.sequencer.config.block_time = block_time
            count = int(seconds * offered_rate * 1.2) + 16
            say(f"signing {count} transfers …")
            txs += await asyncio.to_thread(_transfers, params, senders, b, count)
            first_block = node.sequencer.head + 1
            say(
                f"block proof {proof_s:.1f} s: capacity {capacity:.2f} tx/s; offering "
                f"{offered_rate:.2f} tx/s for {seconds:.0f} s, block time {block_time:.1f} s"
            )
            # 2. the sustained load, paced; a refused (busy) transaction is retried in order
            accepted = busy = other = 0
            backlog_max = 0
            t0 = time.time()
            start = time.monotonic()
            while time.monotonic() - start < seconds:
                due = start + (accepted + busy + other) / offered_rate
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                backlog_max = max(backlog_max, node.proving_backlog())
                if sent >= len(txs):
                    break
                code = await _send(session, node.url, txs[sent])
                if code is None:
                    accepted += 1
                    sent += 1
                elif code == BUSY:
                    busy += 1
                else:
                    other += 1
                    sent += 1
            t_end = time.time()
            load_s = t_end - t0
            # 3. drain: everything included during the load becomes final
            say("load done; draining …")
            drain_deadline = time.monotonic() + max(120.0, 20 * proof_s)
            while time.monotonic() < drain_deadline:
                backlog_max = max(backlog_max, node.proving_backlog())
                head = node.sequencer.head
                statuses = [node.store.get_batch(n) for n in range(first_block, head + 1)]
                if len(node.sequencer.mempool) == 0 and all(
                    s is not None and s.status in (BatchStatus.FINAL, BatchStatus.FAILED)
                    for s in statuses
                ):
                    break
                await asyncio.sleep(0.5)
            head = node.sequencer.head
            figures = _figures(
                node.store,
                list(range(first_block, head + 1)),
                t0,
                t_end,
                load_s,
                accepted,
                busy,
                other,
                proof_s,
                capacity,
                offered_rate,
                block_time,
                backlog_max,
                params,
                parallel,
                max_backlog,
                backend,
            )
    finally:
        await node.stop()
    figures["node_init_s"] = round(node_init_s, 2)
    figures["key_load_s"] = round(key_load_s, 2)
    return figures


def _figures(
    store: Store,
    numbers: list[int],
    t0: float,
    t_end: float,
    load_s: float,
    accepted: int,
    busy: int,
    other: int,
    proof_s: float,
    capacity: float,
    offered_rate: float,
    block_time: float,
    backlog_max: int,
    params: ChainParams,
    parallel: int,
    max_backlog: int,
    params_backend: str = "auto",
) -> dict[str, Any]:
    warmup = min(load_s / 2, block_time + 2 * proof_s)
    window = load_s - warmup
    proven = _count(store, numbers, "proven_at", t0 + warmup, t_end)
    final = _count(store, numbers, "final_at", t0 + warmup, t_end)
    final_blocks = sum(
        1
        for n in numbers
        if (batch := store.get_batch(n)) is not None
        and t0 + warmup <= float(batch.info.get("final_at") or 0) <= t_end
    )
    latencies: list[float] = []
    proofs: list[float] = []
    per_commit: list[int] = []
    gas_per_transfer: list[float] = []
    not_final = 0
    for n in numbers:
        batch = store.get_batch(n)
        block = store.get_block(n)
        if batch is None or block is None or block.timestamp > t_end:
            continue
        info = batch.info
        if batch.status != BatchStatus.FINAL:
            not_final += len(block.ops)
            continue
        latencies += [float(info["latency_final_s"])] * len(block.ops)
        proofs.append(float(info["prove_s"]))
        per_commit.append(int(info.get("batches_in_tx", 1)))
        if info.get("commit_gas") and block.ops:
            share = float(info["commit_gas"]) / int(info.get("batches_in_tx", 1))
            gas_per_transfer.append(share / len(block.ops))
    block_proof_s = statistics.median(proofs) if proofs else proof_s
    p50 = percentile(latencies, 0.5) if latencies else None
    p95 = percentile(latencies, 0.95) if latencies else None
    offered_tps = accepted / load_s
    final_tps_window = final / window if window > 0 else 0.0
    proven_rate = _rate(store, numbers, "proven_at", t_end)
    final_rate = _rate(store, numbers, "final_at", t_end)
    final_tps = final_rate if final_rate is not None else final_tps_window
    return {
        "shape": {
            "block_slots": params.block_slots,
            "block_records": params.block_records,
            "tree_depth": params.tree_depth,
        },
        "prover_parallel": parallel,
        "prover_backend": params_backend,
        "seconds": round(load_s, 1),
        "warmup_s": round(warmup, 1),
        "block_proof_s": round(block_proof_s, 2),
        "proving_capacity_tps": round(capacity, 3),
        "load_fraction": round(offered_rate / capacity, 2),
        "block_time_s": round(block_time, 2),
        "offered_tps": round(offered_tps, 3),
        "proven_tps": round(proven_rate, 3) if proven_rate is not None else None,
        "final_tps": round(final_tps, 3),
        "proven_tps_window": round(proven / window, 3) if window > 0 else 0.0,
        "final_tps_window": round(final_tps_window, 3),
        "final_over_offered": round(final_tps / offered_tps, 3) if offered_tps else None,
        # the sample final_tps_window rests on: with few blocks it moves in steps
        "blocks_final_in_window": final_blocks,
        "latency_final_p50_s": round(p50, 2) if p50 is not None else None,
        "latency_final_p95_s": round(p95, 2) if p95 is not None else None,
        "latency_final_p95_in_block_proofs": (
            round(p95 / block_proof_s, 2) if p95 is not None else None
        ),
        "backlog_max": backlog_max,
        "max_backlog": max_backlog,
        "accepted": accepted,
        "refused_busy": busy,
        "refused_other": other,
        "not_final_after_drain": not_final,
        "blocks": len(numbers),
        "batches_per_commit_mean": (round(statistics.mean(per_commit), 2) if per_commit else None),
        "commit_gas_per_transfer_mean": (
            round(statistics.mean(gas_per_transfer)) if gas_per_transfer else None
        ),
        "goal_final_tps_ge_95pct_offered": bool(offered_tps and final_tps >= 0.95 * offered_tps),
        "goal_p95_le_3_block_proofs": bool(p95 is not None and p95 <= 3 * block_proof_s),
        "method": (
            "a real node in-process (prover process with the key in memory, embedded py-evm "
            "settlement, JSON-RPC over HTTP); the offered rate is load_fraction times the "
            "capacity measured on one full block; proven/final tps from the first block of "
            "the load to reach that state to the last block made during the load (window: "
            "over the load minus warm-up); "
            "latency "
            "per transaction from its block's timestamp to final, for every transaction "
            "included during the load"
        ),
    }


def run(
    batch_size: int = 2,
    block_records: int | None = None,
    tree_depth: int = 6,
    seconds: float = 120.0,
    load: float = 0.8,
    rate: float | None = None,
    parallel: int = 1,
    max_backlog: int = 32,
    console: Console | None = None,
    backend: str = "auto",
) -> dict[str, Any]:
    """Run the benchmark; the dict of figures (see the module docstring)."""
    params = ChainParams(
        chain_id=1337,
        tree_depth=tree_depth,
        block_slots=batch_size,
        block_records=block_records if block_records is not None else max(1, batch_size // 16),
        fee_account=0,
    )
    say = console.print if console else (lambda *a, **k: None)
    load_start = os.getloadavg()[0]
    cpu_start = _cpu_s()
    with tempfile.TemporaryDirectory(prefix="bzk-pipeline-") as tmp:
        figures = asyncio.run(
            _bench(
                params, seconds, load, rate, parallel, max_backlog, say, Path(tmp) / "node", backend
            )
        )
    figures["cpu_s"] = round(_cpu_s() - cpu_start, 1)
    figures["load_avg_1m_start"] = round(load_start, 2)
    figures["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    return figures
