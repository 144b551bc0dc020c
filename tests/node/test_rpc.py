"""JSON-RPC over real HTTP against a node subprocess."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import replace
from typing import Any

import pytest

from bitcoinzk.node.rpc.client import L2RpcError
from bitcoinzk.spec.tree import compute_root
from bitcoinzk.spec.types import UserOperation
from tests.spec.helpers import PARAMS, key, transfer, withdraw

from .conftest import wait_receipts


def raw_post(url: str, body: bytes) -> tuple[int, Any]:
    """Status and decoded JSON reply (any shape: the reply's shape is what is under test)."""
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            data = r.read()
            return r.status, json.loads(data) if data else None
    except urllib.error.HTTPError as exc:
        data = exc.read()
        return exc.code, json.loads(data) if data else None


def test_transfers_are_included_with_correct_receipts(node):
    _, client = node
    info = client.call("bzk_chainInfo")
    assert info["chain_id"] == PARAMS.chain_id and info["head"] == 0
    ops: list[UserOperation] = [
        transfer(1, 2, 1_000, fee=2, nonce=0),
        transfer(1, 2, 2_000, fee=1, nonce=1),
        transfer(2, 3, 500, fee=1, nonce=0, dst_index=3),
        withdraw(1, 5_000, fee=1, nonce=2),
    ]
    hashes = [client.call("bzk_sendTransaction", op.to_json())["hash"] for op in ops]
    receipts = wait_receipts(client, hashes)
    assert [receipts[h]["status"] for h in hashes] == ["included"] * 4
    assert receipts[hashes[2]]["recipient"] == 3  # a new account for key(3)
    alice = client.call("bzk_getAccount", 1)
    assert alice["balance"] == 100_000 - 1_002 - 2_001 - 5_001 and alice["nonce"] == 3
    carol = client.call("bzk_getAccount", key(3).public_key().hex())
    assert carol["index"] == 3 and carol["balance"] == 500
    assert compute_root(3, int(carol["leaf"], 16), [int(s, 16) for s in carol["siblings"]]) == int(
        client.call("bzk_stateRoot"), 16
    )
    head = client.call("bzk_blockNumber")
    block = client.call("bzk_getBlock", receipts[hashes[0]]["block_number"])
    assert block["tx_count"] >= 1 and block["ops"][0]["type"] in ("transfer", "withdraw")
    assert client.call("bzk_getBlock", head)["new_root"] == client.call("bzk_stateRoot")
    assert client.call("bzk_getAccount", 0)["balance"] == 5
    assert client.call("bzk_getBatch", head)["status"] in ("pending", "proving", "proven")


def test_bad_input_gets_its_error_and_changes_nothing(node):
    proc, client = node
    root = client.call("bzk_stateRoot")
    url = proc.url

    status, reply = raw_post(url, b"{not json")
    assert reply["error"]["code"] == -32700
    status, reply = raw_post(url, b'{"jsonrpc":"2.0","id":1,"method":"nope","params":[]}')
    assert reply["error"]["code"] == -32601
    status, reply = raw_post(url, b'{"jsonrpc":"1.0","id":1,"method":"bzk_blockNumber"}')
    assert reply["error"]["code"] == -32600
    status, reply = raw_post(url, b"[]")
    assert reply["error"]["code"] == -32600
    status, reply = raw_post(
        url, b'{"jsonrpc":"2.0","id":1,"method":"bzk_getBlock","params":["x"]}'
    )
    assert reply["error"]["code"] == -32602
    status, reply = raw_post(
        url, b'{"jsonrpc":"2.0","id":1,"method":"bzk_getBlock","params":[1,2,3]}'
    )
    assert reply["error"]["code"] == -32602
    status, reply = raw_post(url, b"[" + b"1," * 700_000 + b"1]")
    assert status == 413

    good = transfer(1, 2, 1_000)
    cases = {
        "wrong types": ({**good.to_json(), "amount": "1000"}, -32001),
        "not an object": ([1, 2], -32001),
        "deposit from the API": ({"type": "deposit", "recipient": 1}, -32001),
        "bad signature": (replace(good, amount=2_000).to_json(), -32002),
        "wrong nonce": (transfer(1, 2, 1_000, nonce=3).to_json(), -32003),
        "overspend": (transfer(1, 2, 200_000).to_json(), -32004),
        "amount overflow": ({**good.to_json(), "amount": 2**70}, -32001),
        "amount above supply": (transfer(1, 2, 10**16).to_json(), -32005),
        "self transfer": (transfer(1, 1, 10, dst_index=0).to_json(), -32007),
        "unrepresentable fee": (transfer(1, 2, 1_000, fee=9).to_json(), -32005),
        "unknown sender": (transfer(3, 1, 10).to_json(), -32006),
    }
    for name, (tx, code) in cases.items():
        with pytest.raises(L2RpcError) as info:
            client.call("bzk_sendTransaction", tx)
        assert info.value.code == code, name
    assert client.call("bzk_stateRoot") == root
    assert client.call("bzk_chainInfo")["mempool"] == 0

    first = client.call("bzk_sendTransaction", good.to_json())["hash"]
    with pytest.raises(L2RpcError) as info:
        client.call("bzk_sendTransaction", good.to_json())  # replay while pending
    assert info.value.code == -32020
    wait_receipts(client, [first])
    with pytest.raises(L2RpcError) as info:
        client.call("bzk_sendTransaction", good.to_json())  # replay after inclusion
    assert info.value.code in (-32003, -32020)


def test_batch_requests_answer_each_item(node):
    proc, _ = node
    body = json.dumps(
        [
            {"jsonrpc": "2.0", "id": 1, "method": "bzk_blockNumber"},
            {"jsonrpc": "2.0", "id": 2, "method": "nope"},
            {"jsonrpc": "2.0", "method": "bzk_blockNumber"},  # notification: no reply
            {
                "jsonrpc": "2.0",
                "id": 3,
                "method": "bzk_sendTransaction",
                "params": [transfer(1, 2, 10).to_json()],
            },
        ]
    ).encode()
    _, reply = raw_post(proc.url, body)
    by_id = {r["id"]: r for r in reply}
    assert set(by_id) == {1, 2, 3}
    assert by_id[1]["result"] == 0
    assert by_id[2]["error"]["code"] == -32601
    assert by_id[3]["result"]["hash"].startswith("0x")
