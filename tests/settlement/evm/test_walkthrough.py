"""docs/settlement.md, "Run against anvil", followed line by line: each line of its
shell block runs as a subprocess with the real `bzk` against a real anvil, in order.

The only changes to the lines: anvil is the fixture's (its URL and port), the node
listens on a free port, and `bzk genesis` makes the test circuit's tree (its key is
cached by the settlement tests). Everything else, including every flag, is the doc's.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bitcoinzk.devnet.devnet import dev_key
from bitcoinzk.node.rpc.client import NodeClient
from bitcoinzk.procutil import free_port
from bitcoinzk.settlement.evm.anvil import Anvil
from bitcoinzk.settlement.evm.client import open_client
from bitcoinzk.settlement.evm.rollup import Deployment, Rollup
from tests.settlement.evm.conftest import running_anvil

ROOT = Path(__file__).resolve().parents[3]
TEST_TREE = ["--tree-depth", "6"]


def walkthrough() -> list[str]:
    """The shell block of docs/settlement.md's "Run against anvil", one command a line."""
    text = (ROOT / "docs" / "settlement.md").read_text()
    section = text[text.index("### Run against anvil") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None, "the walkthrough has no sh block"
    return [line for line in block.group(1).splitlines() if line.strip()]


@pytest.fixture
def anvil() -> Iterator[Anvil]:
    with running_anvil() as node:
        yield node


def _bin(tmp_path: Path) -> Path:
    """A `bzk` on PATH that is this checkout's CLI under this interpreter."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    bzk = bindir / "bzk"
    bzk.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m bitcoinzk.cli "$@"\n')
    bzk.chmod(0o755)
    return bindir


def test_run_against_anvil_as_written(tmp_path: Path, anvil: Anvil) -> None:
    lines = walkthrough()
    port = free_port()
    work = tmp_path / "work"
    work.mkdir()
    env = {
        **os.environ,
        "PATH": f"{_bin(tmp_path)}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "200",
    }
    node: subprocess.Popen[str] | None = None
    outputs: list[str] = []
    try:
        for line in lines:
            command = line.replace("--port 8545", f"--port {port}")
            command = command.replace("127.0.0.1:8545/", f"127.0.0.1:{port}/")
            if command.startswith("anvil "):
                assert "--port 8546" in command  # the doc's anvil: the fixture is it
                continue
            name = re.fullmatch(r"([A-Z]+)=(\S+)", command)
            if name is not None:
                value = name.group(2)
                if name.group(1) == "ANVIL":
                    assert value == "http://127.0.0.1:8546"
                    value = anvil.url.rstrip("/")
                env[name.group(1)] = value
                continue
            if command.startswith("bzk genesis "):
                command += " " + " ".join(TEST_TREE)
            if command.endswith("&"):
                assert command.startswith("bzk node ")
                node = subprocess.Popen(
                    ["/bin/sh", "-c", "exec " + command.removesuffix("&").strip()],
                    cwd=work,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                assert node.stdout is not None
                listening = node.stdout.readline()
                assert "listening" in listening, node.stderr.read() if node.stderr else ""
                continue
            if command.startswith("bzk verify "):
                _wait_proven(f"http://127.0.0.1:{port}/", int(command.split()[2]))
            done = subprocess.run(
                ["/bin/sh", "-c", command],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
            outputs.append(done.stdout)

        # what the walkthrough promises: bob was paid, and block 1 is settled on anvil
        bob = dev_key("bob").public_key().hex()
        account = NodeClient(f"http://127.0.0.1:{port}/").call("bzk_getAccount", bob)
        assert account["balance"] == 10_000_000 + 5000
        assert '"valid": true' in outputs[-1]
        deployment = Deployment.load(work / "data" / "node" / "settlement.json")
        client = open_client(anvil.url, None, work / "unused.sqlite")
        rollup = Rollup(client, deployment)
        deadline = time.monotonic() + 300
        while rollup.batch_count() < 1 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert rollup.batch_count() >= 1
        client.close()
    finally:
        if node is not None:
            node.terminate()
            node.communicate(timeout=60)


def _wait_proven(url: str, number: int, timeout: float = 300) -> None:
    """`bzk verify` checks a proof the node has made: the doc says to wait for it."""
    client = NodeClient(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = client.call("bzk_getBatch", number)
        if batch is not None and batch.get("proof"):
            return
        time.sleep(0.3)
    raise AssertionError(f"block {number} was not proven in {timeout} s")
