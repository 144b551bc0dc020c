"""A local `anvil` node (npm @foundry-rs/anvil) for tests and devnets.

scripts/setup-extra.sh installs the npm package into build/anvil/; its
postinstall (which npm blocks) would only have copied the platform binary,
so we run `@foundry-rs/anvil-linux-amd64/bin/anvil` directly. The node listens
on a free 127.0.0.1 port and is stopped by its own PID, never by name.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from eth_account import Account

from bitcoinzk.settlement.evm.client import DEFAULT_KEY

PROJECT_ROOT = Path(__file__).resolve().parents[3]
DEV_KEYS = (DEFAULT_KEY, hashlib.sha256(b"bitcoinzk devnet other").digest())
"""Public test keys; `start_anvil` funds them with anvil_setBalance."""


class AnvilUnavailable(RuntimeError):
    """No anvil binary is installed (run scripts/setup-extra.sh)."""


def find_anvil() -> Path | None:
    env = os.environ.get("BZK_ANVIL")
    candidates = [Path(env)] if env else []
    for base in (PROJECT_ROOT / "build" / "anvil", PROJECT_ROOT):
        candidates.append(
            base / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
        )
    on_path = shutil.which("anvil")
    if on_path:
        candidates.append(Path(on_path))
    return next((c for c in candidates if c.is_file() and os.access(c, os.X_OK)), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Anvil:
    """A running anvil process; `stop()` ends exactly that process."""

    process: subprocess.Popen[bytes]
    port: int
    keys: tuple[bytes, ...] = field(default=DEV_KEYS)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _rpc(url: str, method: str, params: list[object]) -> object:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def _fund(node: Anvil) -> None:
    for key in node.keys:
        address = Account.from_key(key).address
        _rpc(node.url, "anvil_setBalance", [address, hex(10**24)])


def start_anvil(
    chain_id: int = 31337, block_time: float | None = None, timeout_s: float = 20.0
) -> Anvil:
    """Start anvil on a free loopback port and wait until it answers JSON-RPC."""
    binary = find_anvil()
    if binary is None:
        raise AnvilUnavailable(
            "anvil not found; run scripts/setup-extra.sh (npm @foundry-rs/anvil)"
        )
    port = free_port()
    args = [
        str(binary),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--chain-id",
        str(chain_id),
        "--silent",
        "--code-size-limit",
        "100000",
        "--gas-limit",
        "60000000",
    ]
    if block_time is not None:
        args += ["--block-time", str(block_time)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    node = Anvil(proc, port)
    deadline = time.monotonic() + timeout_s
    body = b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}'
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AnvilUnavailable(f"anvil exited with {proc.returncode}")
        try:
            req = urllib.request.Request(node.url, body, {"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=1) as resp:
                if resp.status == 200:
                    _fund(node)
                    return node
        except OSError:
            time.sleep(0.1)
    node.stop()
    raise AnvilUnavailable("anvil did not answer in time")
