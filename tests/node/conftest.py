"""A real node subprocess on a free port with a real SQLite file."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from bitcoinzk.node.rpc.client import AsyncNodeClient, NodeClient
from bitcoinzk.node.server import NodeConfig
from bitcoinzk.procutil import free_port
from bitcoinzk.sequencer.sequencer import SequencerConfig
from bitcoinzk.spec.types import UserOperation
from tests.pyproc import kill9, start_module
from tests.settlement.evm.conftest import anvil_url, batches  # noqa: F401 - shared fixtures
from tests.spec.helpers import genesis


class NodeProcess:
    def __init__(
        self,
        data_dir: Path,
        genesis_path: Path,
        block_time: float = 0.2,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.extra_args = extra_args
        self.data_dir = data_dir
        self.genesis_path = genesis_path
        self.block_time = block_time
        self.port = free_port()
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> NodeClient:
        self.proc, line = start_module(
            "bitcoinzk.cli",
            "node",
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
            "--genesis",
            str(self.genesis_path),
            "--block-time",
            str(self.block_time),
            "--verify-workers",
            "1",
            *self.extra_args,
        )
        assert "listening" in line, f"node did not start: {line!r}"
        return NodeClient(self.url, timeout=30)

    def kill9(self) -> None:
        kill9(self.proc)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def proving_config(data_dir: Path, settlement: str | None = None) -> NodeConfig:
    """An in-process node that proves every block (0.2 s blocks, one verify worker)."""
    return NodeConfig(
        data_dir=data_dir,
        port=free_port(),
        sequencer=SequencerConfig(block_time=0.2),
        verify_workers=1,
        prove=True,
        settlement=settlement,
    )


async def send_until_final(
    rpc: AsyncNodeClient, ops: Sequence[UserOperation]
) -> list[dict[str, Any]]:
    """Send the operations to a proving, settling node and wait until every block holding
    them is final; its batches (`bzk_getBatch`), in order."""
    for op in ops:
        await rpc("bzk_sendTransaction", op.to_json())
    for _ in range(600):
        head = await rpc("bzk_blockNumber")
        blocks = [await rpc("bzk_getBlock", n, False) for n in range(1, head + 1)]
        summaries = [await rpc("bzk_getBatch", n) for n in range(1, head + 1)]
        assert not any(b["status"] == "failed" for b in summaries), summaries
        included = sum(b["tx_count"] for b in blocks)
        if included == len(ops) and all(b["status"] == "final" for b in summaries):
            return summaries
        await asyncio.sleep(0.5)
    raise AssertionError(f"batches did not all become final: {summaries}")


@pytest.fixture
def genesis_file(tmp_path: Path) -> Path:
    path = tmp_path / "genesis.json"
    path.write_text(json.dumps(genesis().to_json()))
    return path


@pytest.fixture
def node(tmp_path: Path, genesis_file: Path) -> Iterator[tuple[NodeProcess, NodeClient]]:
    proc = NodeProcess(tmp_path / "node", genesis_file)
    client = proc.start()
    try:
        yield proc, client
    finally:
        proc.stop()


def wait_receipts(
    client: NodeClient, hashes: list[str], timeout: float = 30
) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    done: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline and len(done) < len(hashes):
        for h in hashes:
            if h not in done:
                r = client.call("bzk_getTransactionReceipt", h)
                if r and r["status"] != "pending":
                    done[h] = r
        time.sleep(0.1)
    return done
