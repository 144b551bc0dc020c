"""`bzk bench sequencer`: a node subprocess under load from signed transfers.

The load is signed before the clock starts (signing is the wallet's cost, not
the node's), then sent over HTTP as JSON-RPC batch requests by concurrent
connections. Each sender's transactions travel on one connection, one per
batch, so nonces arrive in order as a real wallet would send them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console

from bitcoinzk import safejson
from bitcoinzk.crypto.eddsa import PrivateKey, verify, verify_batch
from bitcoinzk.node.rpc.client import NodeClient
from bitcoinzk.procutil import free_port
from bitcoinzk.spec.genesis import Genesis
from bitcoinzk.spec.params import CHUNK_BYTES, ChainParams
from bitcoinzk.spec.types import Transfer

PARAMS = ChainParams(chain_id=1337, tree_depth=24, block_slots=256, block_records=64)


def _key(i: int) -> PrivateKey:
    return PrivateKey(hashlib.sha256(b"bzk-bench-" + i.to_bytes(4, "big")).digest())


def _sign_range(args: tuple[int, int, int, int]) -> list[list[dict[str, Any]]]:
    """Sign `per_sender` transfers for senders [lo, hi) (sender i has index i+1)."""
    lo, hi, per_sender, n_senders = args
    out = []
    for i in range(lo, hi):
        key = _key(i)
        to = _key((i + 1) % n_senders).public_key()
        out.append(
            [
                Transfer(i + 1, 0, to, 1_000, 1, n).signed(key, PARAMS.chain_id).to_json()
                for n in range(per_sender)
            ]
        )
    return out


def _sig_verify_rate() -> dict[str, float]:
    items = []
    for i in range(256):
        key = _key(i)
        items.append((key.public_key(), i, key.sign(i)))
    t = time.perf_counter()
    for pub, msg, sig in items[:64]:
        verify(pub, msg, sig)
    single = 64 / (time.perf_counter() - t)
    t = time.perf_counter()
    verify_batch(items)
    batched = 256 / (time.perf_counter() - t)
    return {"single": single, "batch_256": batched}


async def _client(
    url: str,
    queues: list[list[dict[str, Any]]],
    batch: int,
    deadline: float,
    counts: dict[str, int],
) -> None:
    async with aiohttp.ClientSession() as session:
        pos = [0] * len(queues)
        ids = 0
        order = list(range(len(queues)))
        while time.monotonic() < deadline:
            body: list[dict[str, Any]] = []
            for s in order:
                if pos[s] < len(queues[s]) and len(body) < batch:
                    ids += 1
                    body.append(
                        {
                            "jsonrpc": "2.0",
                            "id": ids,
                            "method": "bzk_sendTransaction",
                            "params": [queues[s][pos[s]]],
                        }
                    )
                    pos[s] += 1
            if not body:
                return
            order = order[batch:] + order[:batch]
            async with session.post(url, json=body) as response:
                replies = await response.json(loads=safejson.loads)
            for r in replies:
                counts["accepted" if "result" in r else "rejected"] += 1


def run(
    seconds: float = 60.0,
    clients: int = 8,
    batch: int = 50,
    console: Console | None = None,
    block_time: float = 0.5,
) -> dict[str, Any]:
    rate_goal = 4_000  # sign enough to never starve the node below this rate
    senders = clients * batch * 2
    per_sender = max(1, int(seconds * rate_goal / senders) + 1)
    say = console.print if console else (lambda *a, **k: None)
    say(f"signing {senders * per_sender} transfers from {senders} senders …")
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        step = max(1, senders // (4 * (os.cpu_count() or 1)))
        ranges = [
            (lo, min(senders, lo + step), per_sender, senders) for lo in range(0, senders, step)
        ]
        queues = [q for part in pool.map(_sign_range, ranges) for q in part]
    sig_rates = _sig_verify_rate()
    with tempfile.TemporaryDirectory(prefix="bzk-bench-") as tmp:
        operator = _key(10**6).public_key()
        allocations = tuple((_key(i).public_key(), 10**12) for i in range(senders))
        genesis = Genesis(PARAMS, operator, allocations)
        gpath = Path(tmp) / "genesis.json"
        gpath.write_text(json.dumps(genesis.to_json()))
        port = free_port()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bitcoinzk.cli",
                "node",
                "--data-dir",
                str(Path(tmp) / "node"),
                "--port",
                str(port),
                "--genesis",
                str(gpath),
                "--block-time",
                str(block_time),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert proc.stdout is not None
            proc.stdout.readline()  # "listening" once the genesis is built
            url = f"http://127.0.0.1:{port}/"
            counts = {"accepted": 0, "rejected": 0}
            say(f"loading {url} for {seconds:.0f} s with {clients} connections …")
            start = time.monotonic()
            deadline = start + seconds
            per_client = len(queues) // clients

            async def load() -> None:
                await asyncio.gather(
                    *(
                        _client(
                            url,
                            queues[c * per_client : (c + 1) * per_client],
                            batch,
                            deadline,
                            counts,
                        )
                        for c in range(clients)
                    )
                )

            asyncio.run(load())
            elapsed = time.monotonic() - start
            info = _call(url, "bzk_chainInfo")
            included = 0
            chunks = 0
            end_time = time.time()
            for n in range(1, info["head"] + 1):
                blk = _call(url, "bzk_getBlock", n, False)
                if blk["timestamp"] <= end_time:
                    included += blk["tx_count"]
                    pubdata = bytes.fromhex(blk["pubdata"][2:])
                    chunks += int.from_bytes(pubdata[0:2], "big")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    result = {
        "seconds": round(elapsed, 1),
        "clients": clients,
        "batch": batch,
        "accepted": counts["accepted"],
        "rejected": counts["rejected"],
        "accepted_tps": round(counts["accepted"] / elapsed, 1),
        "included_tps": round(included / elapsed, 1),
        "sig_verify_per_s": round(sig_rates["batch_256"], 1),
        "sig_verify_single_per_s": round(sig_rates["single"], 1),
        "pubdata_bytes_per_transfer": CHUNK_BYTES * chunks / max(1, included),
        "cores": os.cpu_count(),
    }
    say(result)
    return result


def _call(url: str, method: str, *params: Any) -> Any:
    return NodeClient(url, timeout=60).call(method, *params)
