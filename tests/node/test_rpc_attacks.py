"""Attacks on the Layer-2 node's JSON-RPC over real HTTP (issue 11 §2, §3, §6)."""

from __future__ import annotations

import json

from bitcoinzk.httprpc import MAX_BATCH, MAX_BODY_BYTES
from tests.httpattack import (
    DEEP_NESTING,
    call,
    open_slow_connections,
    post,
    trickle_until_closed,
)

from .conftest import NodeProcess

TIMEOUT = 1.5


def test_deep_nesting_is_refused_and_the_node_lives(node):
    proc, client = node
    root = client.call("bzk_stateRoot")
    wrapped = (
        b'{"jsonrpc":"2.0","id":1,"method":"bzk_sendTransaction","params":' + DEEP_NESTING + b"}"
    )
    for body in (DEEP_NESTING, wrapped, b"{" * 100_000):
        status, reply = post(proc.url, body)
        assert status == 200 and reply["error"]["code"] == -32700, (status, reply)
        assert "nested" in reply["error"]["message"]
    assert proc.proc is not None and proc.proc.poll() is None
    assert client.call("bzk_stateRoot") == root
    assert client.call("bzk_blockNumber") >= 0


def test_size_and_batch_limits(node):
    proc, _ = node
    status, reply = post(proc.url, b"[" + b"1," * MAX_BODY_BYTES + b"1]")
    assert status == 413 and reply["error"]["code"] == -32600
    item = {"jsonrpc": "2.0", "id": 1, "method": "bzk_blockNumber"}
    status, reply = post(proc.url, json.dumps([item] * (MAX_BATCH + 1)).encode())
    assert isinstance(reply, dict) and reply["error"]["code"] == -32600
    status, reply = post(proc.url, json.dumps([item] * MAX_BATCH).encode())
    assert status == 200 and len(reply) == MAX_BATCH


def test_slowloris_connections_are_dropped_and_service_continues(tmp_path, genesis_file):
    proc = NodeProcess(
        tmp_path / "node",
        genesis_file,
        extra_args=("--http-header-timeout", str(TIMEOUT), "--http-body-timeout", str(TIMEOUT)),
    )
    client = proc.start()
    try:
        heads = open_slow_connections(proc.url, 25, "headers")
        bodies = open_slow_connections(proc.url, 25, "body")
        assert call(proc.url, "bzk_blockNumber") >= 0  # served while 50 connections stall
        closed = trickle_until_closed(heads + bodies, limit=3 * TIMEOUT + 5)
        assert None not in closed, closed
        assert max(c for c in closed if c is not None) < 2 * TIMEOUT + 2
        assert client.call("bzk_blockNumber") >= 0
        assert proc.proc is not None and proc.proc.poll() is None
    finally:
        proc.stop()
