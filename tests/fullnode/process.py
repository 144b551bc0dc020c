"""`bzk fullnode` as a real child process, for the Silver and Gold process tests: started
on a free port, asked over its JSON-RPC, killed or stopped."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from bitcoinzk.procutil import free_port
from tests.pyproc import kill9, start_module


def rpc(url: str, method: str, *params: Any) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    request = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        return json.loads(reply.read())


class FullNodeProcess:
    """`bzk fullnode <args> --data-dir <data_dir>` on a port of its own, polling fast."""

    def __init__(self, data_dir: Path, *args: str) -> None:
        self.data_dir = data_dir
        self.args = args
        self.port = free_port()
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> str:
        """Start it (again, on the same data) and return the line it listens with."""
        self.proc, line = start_module(
            "bitcoinzk.cli",
            "fullnode",
            *self.args,
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
            "--poll",
            "0.1",
        )
        assert "listening" in line, f"fullnode did not start: {line!r}"
        return line

    def head(self) -> int:
        return int(rpc(self.url, "bzk_blockNumber")["result"])

    def wait_head(self, target: int, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while self.head() < target:
            assert time.monotonic() < deadline, f"head {self.head()} < {target}"
            time.sleep(0.1)

    def kill9(self) -> None:
        kill9(self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)
