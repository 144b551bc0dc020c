"""A small JSON-RPC client for the node (the CLI and tests use it)."""

from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.request
from typing import Any


class NodeError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message


class NodeClient:
    def __init__(self, url: str = "http://127.0.0.1:8545/", timeout: float = 30.0) -> None:
        self.url = url
        self.timeout = timeout
        self._ids = itertools.count(1)

    def call(self, method: str, *params: Any) -> Any:
        body = json.dumps(
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        ).encode()
        request = urllib.request.Request(
            self.url, data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                reply = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            reply = json.loads(exc.read() or b"{}")
        if "error" in reply:
            raise NodeError(reply["error"]["code"], reply["error"]["message"])
        return reply["result"]
