"""The Layer-2 node's JSON-RPC client: one request and reply format, called from plain
code (`NodeClient`: the CLI, wallets, load generators) or from inside an event loop
(`AsyncNodeClient`: the devnet scenario and tests that run the node in the same loop,
where a blocking call would stall the node it waits for)."""

from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.request
from typing import Any

import aiohttp

from bitcoinzk import safejson

PARSE_ERROR = -32700


class L2RpcError(Exception):
    """An error answered by the Layer-2 node (or a reply that is not JSON-RPC)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message


def request_body(request_id: int, method: str, params: tuple[Any, ...]) -> bytes:
    return json.dumps(
        {"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)}
    ).encode()


def reply_result(raw: bytes) -> Any:
    """The result of a reply body; L2RpcError for an error or anything but JSON-RPC."""
    try:
        reply = safejson.loads(raw)
    except ValueError as exc:
        raise L2RpcError(PARSE_ERROR, f"the node's reply is not JSON: {exc}") from None
    if not isinstance(reply, dict):
        raise L2RpcError(PARSE_ERROR, "the node's reply is not a JSON-RPC object")
    error = reply.get("error")
    if error is not None:
        if not isinstance(error, dict):
            raise L2RpcError(PARSE_ERROR, "the node's reply has a malformed error")
        code = error.get("code")
        raise L2RpcError(
            code if isinstance(code, int) else PARSE_ERROR, str(error.get("message", ""))
        )
    if "result" not in reply:
        raise L2RpcError(PARSE_ERROR, "the node's reply has no result")
    return reply["result"]


class NodeClient:
    def __init__(self, url: str = "http://127.0.0.1:8545/", timeout: float = 30.0) -> None:
        self.url = url
        self.timeout = timeout
        self._ids = itertools.count(1)

    def call(self, method: str, *params: Any) -> Any:
        request = urllib.request.Request(
            self.url,
            data=request_body(next(self._ids), method, params),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:  # a JSON-RPC error may come with any status
            raw = exc.read() or b"{}"
        return reply_result(raw)


class AsyncNodeClient:
    """`await client(method, *params)`, on the caller's aiohttp session."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url
        self._ids = itertools.count(1)

    async def __call__(self, method: str, *params: Any) -> Any:
        body = request_body(next(self._ids), method, params)
        headers = {"Content-Type": "application/json"}
        async with self.session.post(self.url, data=body, headers=headers) as response:
            raw = await response.read()
        return reply_result(raw)
