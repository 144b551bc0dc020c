"""No process outlives the node or the devnet that started it (issue 11, section 5).

Real processes: a `bzk node --prove` and a `bzk devnet --keep-running` in a
subprocess each, their children (signature workers, block producer, the prover
holding its key, multiprocessing's resource tracker) read from /proc, then the
parent is killed with -9 (mid-proof for the node) or stopped with SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bitcoinzk.node.rpc.client import NodeClient
from bitcoinzk.procutil import free_port
from bitcoinzk.spec.types import Transfer
from tests.procfs import cmdlines, descendants, gone_within
from tests.settlement.evm.conftest import ALICE, BOB, PARAMS, Batches, genesis


def _spawn(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bitcoinzk.cli", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
    )


def _wait_line(proc: subprocess.Popen[str], needle: str) -> None:
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if needle in line:
            return
    raise AssertionError(f"no {needle!r} in the output: {seen}")


def test_node_killed_mid_proof_leaves_no_process(tmp_path: Path, batches: Batches) -> None:
    genesis_path = tmp_path / "genesis.json"
    genesis_path.write_text(json.dumps(genesis().to_json()))
    port = free_port()
    node = _spawn(
        [
            "node",
            "--data-dir",
            str(tmp_path / "node"),
            "--genesis",
            str(genesis_path),
            "--port",
            str(port),
            "--block-time",
            "0.2",
            "--verify-workers",
            "1",
            "--prove",
        ],
        Path.cwd(),
    )
    try:
        _wait_line(node, "listening")
        client = NodeClient(f"http://127.0.0.1:{port}/", timeout=30)
        op = Transfer(1, 2, BOB.public_key(), 1_000, 10, 0).signed(ALICE, PARAMS.chain_id)
        client.call("bzk_sendTransaction", op.to_json())
        deadline = time.monotonic() + 60
        while (client.call("bzk_getBatch", 1) or {}).get("status") != "proving":
            assert time.monotonic() < deadline, "block 1 was never being proven"
            time.sleep(0.05)
        children = descendants(node.pid)
        commands = cmdlines(children)
        assert any("resource_tracker" in c for c in commands), commands
        assert sum("spawn_main" in c for c in commands) >= 3, commands  # verify, produce, prove
        node.send_signal(signal.SIGKILL)
        node.wait(timeout=10)
        assert not gone_within(children, 10), "children outlived a kill -9 of the node"
    finally:
        if node.poll() is None:
            node.kill()
            node.wait()


def _devnet(tmp_path: Path) -> subprocess.Popen[str]:
    config = tmp_path / "devnet.toml"
    config.write_text(
        "[chain]\ntree_depth = 6\nblock_slots = 2\nblock_records = 1\n"
        f"[node]\nport = {free_port()}\nblock_time = 0.2\n"
        f"[bitcoin]\nrpc_port = {free_port()}\nblock_time = 0.5\n"
    )
    devnet = _spawn(
        ["devnet", "--keep-running", "--config", str(config), "--data-dir", str(tmp_path / "d")],
        tmp_path,
    )
    _wait_line(devnet, "running; Ctrl-C or SIGTERM to stop")
    return devnet


def test_devnet_stops_cleanly_on_sigterm(tmp_path: Path, batches: Batches) -> None:
    devnet = _devnet(tmp_path)
    try:
        children = descendants(devnet.pid)
        assert any("spawn_main" in c for c in cmdlines(children))
        devnet.send_signal(signal.SIGTERM)
        assert devnet.wait(timeout=60) == 0
        assert devnet.stdout is not None and "stopped (SIGTERM)" in devnet.stdout.read()
        assert not gone_within(children, 10), "children outlived the devnet's SIGTERM"
    finally:
        if devnet.poll() is None:
            devnet.kill()
            devnet.wait()


def test_devnet_killed_leaves_no_process(tmp_path: Path, batches: Batches) -> None:
    devnet = _devnet(tmp_path)
    try:
        children = descendants(devnet.pid)
        assert any("spawn_main" in c for c in cmdlines(children))
        devnet.send_signal(signal.SIGKILL)
        devnet.wait(timeout=10)
        assert not gone_within(children, 10), "children outlived a kill -9 of the devnet"
    finally:
        if devnet.poll() is None:
            devnet.kill()
            devnet.wait()
