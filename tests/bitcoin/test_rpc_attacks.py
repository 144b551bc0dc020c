"""Attacks on the bitcoind-compatible RPC over real HTTP (issue 11 §2, §3)."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bitcoinzk.bitcoin.regtest import RegtestNode
from bitcoinzk.bitcoin.rpc_server import RpcServer
from bitcoinzk.httprpc import MAX_BATCH, MAX_BODY_BYTES, HttpLimits
from tests.httpattack import (
    DEEP_NESTING,
    call,
    open_slow_connections,
    post,
    trickle_until_closed,
)
from tests.pyproc import start_module

TIMEOUT = 1.5


class RpcProcess:
    def __init__(self, datadir: Path, *timeouts: float) -> None:
        self.proc, line = start_module(
            "tests.bitcoin.rpc_process", str(datadir), *(str(t) for t in timeouts), stdin=True
        )
        assert line.startswith("listening"), f"server did not start: {line!r}"
        assert "recursionlimit=100000" in line  # the setting that used to crash
        self.url = f"http://127.0.0.1:{line.split()[1]}/"

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def server_process(tmp_path) -> Iterator[RpcProcess]:
    proc = RpcProcess(tmp_path / "btc")
    yield proc
    proc.stop()


@pytest.fixture
def node(node: RegtestNode) -> RegtestNode:
    """The conftest node with three blocks."""
    node.mine(3)
    return node


@pytest.fixture
def server(node) -> Iterator[RpcServer]:
    with RpcServer(node, port=0) as srv:
        yield srv


def test_deep_nesting_is_refused_and_the_process_lives(server_process):
    tip = call(server_process.url, "getbestblockhash")
    for body in (
        DEEP_NESTING,
        b'{"jsonrpc":"2.0","id":1,"method":"getblock","params":'
        + b"[" * 70_000
        + b"]" * 70_000
        + b"}",
    ):
        status, reply = post(server_process.url, body)
        assert status == 500 and reply["error"]["code"] == -32700, (status, reply)
        assert "nested" in reply["error"]["message"]
    assert server_process.proc.poll() is None
    assert call(server_process.url, "getbestblockhash") == tip
    assert call(server_process.url, "getblockcount") == 2


def test_body_over_the_limit_is_refused_with_one_error(server):
    # The 10 MB array used to be answered item by item (470 MB reply).
    big = b"[" + b",".join([b'{"method":"getblockcount","id":1}'] * 400_000) + b"]"
    assert len(big) > MAX_BODY_BYTES
    status, reply = post(server.url, big)
    assert status == 413 and reply["error"]["code"] == -32600 and reply["id"] is None


def test_over_long_batch_gets_one_error(server):
    item = {"jsonrpc": "2.0", "id": 1, "method": "getblockcount"}
    status, reply = post(server.url, json.dumps([item] * (MAX_BATCH + 1)).encode())
    assert status == 400 and isinstance(reply, dict)
    assert reply["error"]["code"] == -32600 and "batch" in reply["error"]["message"]
    status, reply = post(server.url, json.dumps([item] * MAX_BATCH).encode())
    assert status == 200 and len(reply) == MAX_BATCH and all(r["result"] == 3 for r in reply)


def test_batch_reply_size_is_bounded(node):
    with RpcServer(node, port=0, limits=HttpLimits(max_reply_bytes=20_000)) as server:
        _check_reply_bound(server)


def _check_reply_bound(server: RpcServer) -> None:
    tip = call(server.url, "getbestblockhash")
    item = {"jsonrpc": "2.0", "id": 7, "method": "getblock", "params": [tip, 2]}
    status, reply = post(server.url, json.dumps([item] * 200).encode())
    assert status == 200 and len(reply) == 200
    answered = [r for r in reply if r.get("result") is not None]
    refused = [r for r in reply if r.get("error")]
    assert answered and refused and len(answered) + len(refused) == 200
    assert all(r["id"] == 7 and "too large" in r["error"]["message"] for r in refused)
    # Items run until the reply passes the limit (one item may cross it); the rest are
    # small errors, at most MAX_BATCH of them.
    assert len(answered) == 20_000 // len(json.dumps(answered[0])) + 1


def test_slowloris_connections_are_dropped_and_service_continues(tmp_path):
    srv = RpcProcess(tmp_path / "btc", TIMEOUT, TIMEOUT)
    try:
        heads = open_slow_connections(srv.url, 25, "headers")
        bodies = open_slow_connections(srv.url, 25, "body")
        assert call(srv.url, "getblockcount") == 2  # served while 50 connections stall
        closed = trickle_until_closed(heads + bodies, limit=3 * TIMEOUT + 5)
        assert None not in closed, closed
        # Headers: TIMEOUT from connecting. Body: TIMEOUT after the headers.
        assert max(c for c in closed if c is not None) < 2 * TIMEOUT + 2
        assert call(srv.url, "getblockcount") == 2
        assert srv.proc.poll() is None
    finally:
        srv.stop()


def test_a_client_that_does_not_read_its_reply_is_cut_off(node):
    big = 30_000_000
    with RpcServer(node, port=0, limits=HttpLimits(reply_timeout=TIMEOUT)) as server:
        server.register("big", lambda: "x" * big)
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", server.port))
        body = b'{"jsonrpc":"2.0","id":1,"method":"big","params":[]}'
        s.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        time.sleep(TIMEOUT + 1.5)  # never reading: the reply stays in the server's buffers
        s.settimeout(10)
        received = 0
        try:
            while chunk := s.recv(1 << 20):
                received += len(chunk)
        except ConnectionResetError:
            pass
        s.close()
        assert received < big  # the server gave up on the reply instead of holding it
        assert call(server.url, "getblockcount") == 3
