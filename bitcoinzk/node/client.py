"""A small JSON-RPC client for the node (the CLI and tests use it)."""

from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.request
from typing import Any

from bitcoinzk import safejson

PARSE_ERROR = -32700


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
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    reply = safejson.loads(response.read())
            except urllib.error.HTTPError as exc:
                reply = safejson.loads(exc.read() or b"{}")
        except ValueError as exc:
            raise NodeError(PARSE_ERROR, f"the node's reply is not JSON: {exc}") from None
        if not isinstance(reply, dict):
            raise NodeError(PARSE_ERROR, "the node's reply is not a JSON-RPC object")
        error = reply.get("error")
        if error is not None:
            if not isinstance(error, dict):
                raise NodeError(PARSE_ERROR, "the node's reply has a malformed error")
            code = error.get("code")
            raise NodeError(
                code if isinstance(code, int) else PARSE_ERROR, str(error.get("message", ""))
            )
        if "result" not in reply:
            raise NodeError(PARSE_ERROR, "the node's reply has no result")
        return reply["result"]
