"""Fuzz every JSON-RPC method of the Layer-2 node over real HTTP (issue 11 §6, §7).

Hostile parameters (wrong types, huge and negative numbers, odd strings, nesting,
garbage bodies) get a JSON-RPC error that names the problem (-32602 invalid params,
-32700, -32600, the operation's own code), never -32603 Internal error; the node stays
up and its state does not move.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bitcoinzk.node.rpc.client import NodeClient
from bitcoinzk.spec.types import Transfer, Withdraw
from tests.httpattack import post
from tests.rpcfuzz import FUZZ, HUGE, params_for, values
from tests.spec.helpers import genesis, key, transfer, withdraw

from .conftest import NodeProcess

INTERNAL_ERROR = -32603
METHODS = {
    "bzk_sendTransaction": ["tx"],
    "bzk_getTransactionReceipt": ["tx_hash"],
    "bzk_getAccount": ["account"],
    "bzk_getBlock": ["number", "full"],
    "bzk_blockNumber": [],
    "bzk_stateRoot": [],
    "bzk_chainInfo": [],
    "bzk_getBatch": ["number"],
}


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NodeProcess, NodeClient]]:
    tmp = tmp_path_factory.mktemp("rpcfuzz")
    genesis_path = tmp / "genesis.json"
    genesis_path.write_text(json.dumps(genesis().to_json()))
    proc = NodeProcess(tmp / "node", genesis_path)
    client = proc.start()
    yield proc, client
    proc.stop()


def snapshot(client: NodeClient) -> tuple[Any, ...]:
    info = client.call("bzk_chainInfo")
    return info["state_root"], info["mempool"], info["stats"]["accepted"], info["accounts"]


def rpc(url: str, method: str, params: Any) -> dict[str, Any]:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    status, reply = post(url, body.encode())
    assert isinstance(reply, dict) and reply.get("id") in (1, None), (status, reply)
    if "error" in reply:
        assert reply["error"]["code"] != INTERNAL_ERROR, (method, params, reply)
    return reply


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_with_hostile_params(node, method: str) -> None:
    proc, client = node
    before = snapshot(client)

    @FUZZ
    @given(params_for(METHODS[method]))
    @example([2**63])
    @example([2**64])
    @example([-(2**64)])
    @example([-1])
    @example({"number": 2**63})
    def run(params: Any) -> None:
        rpc(proc.url, method, params)

    run()
    assert proc.proc is not None and proc.proc.poll() is None
    assert snapshot(client) == before


def test_the_reported_numbers_are_invalid_params(node) -> None:
    proc, _ = node
    for method, arg in [("bzk_getBlock", 2**63), ("bzk_getBatch", 2**64)]:
        assert rpc(proc.url, method, [arg])["error"]["code"] == -32602
    assert rpc(proc.url, "bzk_getBatch", [-(2**64)])["error"]["code"] == -32602
    assert rpc(proc.url, "bzk_getBlock", [2**63 - 1])["result"] is None  # no such block


# Signed by a key that owns no account: whatever the mutation, nothing may be admitted.
STRANGER = key(9)
FIELDS = ["type", "sender", "recipient", "recipient_pubkey", "amount", "fee", "nonce"]
FIELDS += ["signature", "script_pubkey"]


@st.composite
def forged_ops(draw: st.DrawFn) -> dict[str, Any]:
    choices: list[Transfer | Withdraw] = [transfer(1, 2, 1_000), withdraw(1, 5_000)]
    op = draw(st.sampled_from(choices))
    tx: dict[str, Any] = op.signed(STRANGER, 7).to_json()
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
        if draw(st.booleans()):
            tx[name] = draw(values | st.sampled_from(HUGE))
        else:
            tx.pop(name, None)
    return tx


def test_forged_and_malformed_transactions_change_nothing(node) -> None:
    proc, client = node
    before = snapshot(client)

    @FUZZ
    @given(forged_ops())
    def run(tx: dict[str, Any]) -> None:
        reply = rpc(proc.url, "bzk_sendTransaction", [tx])
        assert "error" in reply and reply["error"]["code"] <= -32000, reply

    run()
    assert snapshot(client) == before


def test_garbage_bodies(node) -> None:
    proc, client = node
    before = snapshot(client)

    @FUZZ
    @given(st.binary(max_size=200) | st.text(alphabet='[]{}",:0123456789ae-.tnrul', max_size=80))
    def run(body: bytes | str) -> None:
        raw = body if isinstance(body, bytes) else body.encode()
        status, reply = post(proc.url, raw)
        if reply is None:
            assert status == 204  # a notification-only batch
            return
        items = reply if isinstance(reply, list) else [reply]
        assert all(i["error"]["code"] != INTERNAL_ERROR for i in items if "error" in i)

    run()
    assert proc.proc is not None and proc.proc.poll() is None
    assert snapshot(client) == before
