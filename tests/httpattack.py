"""Raw-socket HTTP attacks shared by the tests of both JSON-RPC servers."""

from __future__ import annotations

import http.client
import json
import select
import socket
import time
from typing import Any
from urllib.parse import urlsplit

DEEP_NESTING = b"[" * 70_000 + b"]" * 70_000
"""The issue's request: 140 KB, under the body limit; segfaulted both servers."""


def post(url: str, body: bytes, auth: str | None = None, timeout: float = 60) -> tuple[int, Any]:
    """POST `body` as is; (HTTP status, parsed JSON reply or None)."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = auth
    try:
        conn.request("POST", parts.path or "/", body, headers)
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    return resp.status, json.loads(data) if data else None


def call(url: str, method: str, *params: Any, auth: str | None = None) -> Any:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    status, reply = post(url, json.dumps(body).encode(), auth)
    assert status == 200 and "result" in reply, (status, reply)
    return reply["result"]


def open_slow_connections(url: str, n: int, stage: str) -> list[socket.socket]:
    """`n` connections that start a request and stall: `stage` "headers" (request line and
    one header, never the blank line) or "body" (full headers, 1 of 100000 body bytes)."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    start = {
        "headers": b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ",
        "body": (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n["
        ),
    }[stage]
    socks = []
    for _ in range(n):
        s = socket.create_connection((parts.hostname, parts.port), timeout=5)
        s.sendall(start)
        socks.append(s)
    return socks


def trickle_until_closed(
    socks: list[socket.socket], limit: float, every: float = 0.25
) -> list[float | None]:
    """Send one byte on every open connection each `every` seconds (a slowloris) until the
    server has closed them all or `limit` seconds passed; the seconds after which each one
    was closed (None: still open)."""
    began = time.monotonic()
    closed: list[float | None] = [None] * len(socks)
    while time.monotonic() - began < limit and None in closed:
        open_ = [s for s, c in zip(socks, closed, strict=True) if c is None]
        readable, _, _ = select.select(open_, [], [], every)
        now = time.monotonic() - began
        for i, s in enumerate(socks):
            if closed[i] is not None:
                continue
            try:
                if s in readable:
                    s.recv(65536)  # a reply (408) or EOF: either way the server gave up
                    closed[i] = now
                    continue
                s.send(b"1")
            except OSError:
                closed[i] = now
    for s in socks:
        s.close()
    return closed


class HostileServer:
    """A real HTTP server that answers every POST with `body` (and `status`): what a
    compromised or impostor node would send to our RPC clients."""

    def __init__(self, body: bytes, status: int = 200) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from threading import Thread

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> HostileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


HOSTILE_REPLIES = [
    DEEP_NESTING,
    b'{"result": ' + DEEP_NESTING + b', "error": null, "id": 1}',
    b"not json",
    b"\xff\xfe",
    b"[1, 2]",
    b"null",
    b'{"error": "boom", "id": 1}',
    b'{"error": {"code": "x", "message": 1}, "id": 1}',
    b'{"error": [], "id": 1}',
    b'{"id": 1}',
    b'{"result": NaN, "id": 1}',
]
"""Replies a client must turn into its typed error (not crash, not KeyError)."""
