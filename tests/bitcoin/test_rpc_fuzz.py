"""Fuzz every method of the bitcoind-compatible RPC over real HTTP (issue 11 §6, §7).

Hostile parameters get Core's typed errors (-3 type, -8 parameter, -5 not found,
-22 decode, -1 wrong number of parameters), never an internal error with a logged
traceback; the chain tip and the mempool do not move.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bitcoinzk.bitcoin.regtest import RegtestNode
from bitcoinzk.bitcoin.rpc_server import NodeRPC, RpcServer
from tests.httpattack import post
from tests.rpcfuzz import FUZZ, params_for

METHODS = {
    name.removeprefix("rpc_"): [p for p in inspect.signature(fn).parameters if p != "self"]
    for name, fn in inspect.getmembers(NodeRPC, inspect.isfunction)
    if name.startswith("rpc_")
}


class Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RpcServer, Errors]]:
    node = RegtestNode(tmp_path_factory.mktemp("btcfuzz") / "node")
    node.mine(3)
    errors = Errors()
    logging.getLogger("bitcoinzk.httprpc").addHandler(errors)
    with RpcServer(node, port=0) as srv:
        yield srv, errors
    logging.getLogger("bitcoinzk.httprpc").removeHandler(errors)
    node.close()


def snapshot(srv: RpcServer) -> tuple[Any, ...]:
    node = srv.rpc.node
    return node.tip_hash(), node.height(), sorted(node.mempool.entries)


def call(srv: RpcServer, method: str, params: Any, version: str = "2.0") -> dict[str, Any]:
    body = {"jsonrpc": version, "id": 1, "method": method, "params": params}
    status, reply = post(srv.url, json.dumps(body).encode())
    assert isinstance(reply, dict), (status, reply)
    error = reply.get("error")
    if error is not None:
        assert not error["message"].startswith("internal error"), (method, params, error)
    return reply


def test_every_method_is_fuzzed() -> None:
    assert {"getblock", "gettxout", "scantxoutset", "sendrawtransaction", "submitblock"} <= set(
        METHODS
    )


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_with_hostile_params(server, method: str) -> None:
    srv, errors = server
    before = snapshot(srv)

    @FUZZ
    @given(params_for(METHODS[method]), st.sampled_from(["1.0", "2.0"]))
    @example([2**64], "2.0")
    @example(["00" * 32, 2**64], "2.0")
    @example(["ab " * 31 + "ab"], "2.0")
    @example(["start", "notalist"], "1.0")
    @example(["start", [{"nodesc": 1}]], "1.0")
    @example(["start", [5]], "1.0")
    @example([10**9, "bcrt1qqqqq"], "2.0")
    def run(params: Any, version: str) -> None:
        call(srv, method, params, version)

    run()
    assert snapshot(srv) == before
    assert not errors.records, [r.getMessage() for r in errors.records]


def test_generate_is_bounded(server) -> None:
    srv, _ = server
    from bitcoinzk.bitcoin.script import BURN_SCRIPT, address_from_script

    address = address_from_script(BURN_SCRIPT)
    reply = call(srv, "generatetoaddress", [10**9, address])
    assert reply["error"]["code"] == -8
