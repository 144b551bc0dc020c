"""The embedded node's bitcoind-compatible RPC, through our client and a third-party one."""

from __future__ import annotations

import json
import urllib.request
from decimal import Decimal
from typing import Any

import bitcoin
import bitcoin.rpc
import pytest

from bitcoinzk.bitcoin.rpc_client import BitcoinRPC, BitcoinRpcError, RPCTransportError
from bitcoinzk.bitcoin.rpc_server import RpcServer
from bitcoinzk.bitcoin.script import BURN_SCRIPT, address_from_script
from bitcoinzk.bitcoin.tx import OutPoint, Tx, TxOut


@pytest.fixture
def server(funded):
    node, _ = funded
    srv = RpcServer(node, user="alice", password="s3cret")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def rpc(server):
    return BitcoinRPC(server.url, user="alice", password="s3cret")


def test_chain_queries(rpc, funded):
    node, _ = funded
    assert rpc.getblockcount() == node.height() == 103
    info = rpc.getblockchaininfo()
    assert info["chain"] == "regtest" and info["bestblockhash"] == node.tip_hash()
    h = rpc.getblockhash(5)
    b1 = rpc.getblock(h)
    assert b1["height"] == 5 and b1["confirmations"] == 99 and len(b1["tx"]) == 1
    assert b1["previousblockhash"] == rpc.getblockhash(4) and b1[
        "nextblockhash"
    ] == rpc.getblockhash(6)
    b2 = rpc.getblock(h, 2)
    assert b2["tx"][0]["txid"] == b1["tx"][0] and "coinbase" in b2["tx"][0]["vin"][0]
    assert rpc.get_block(h).hash == h  # verbosity 0 parsed by our Block
    with pytest.raises(BitcoinRpcError) as e:
        rpc.getblockhash(10_000)
    assert e.value.code == -8
    with pytest.raises(BitcoinRpcError) as e:
        rpc.getblock("00" * 32)
    assert e.value.code == -5


def test_transactions_mempool_and_txout(rpc, funded):
    node, wallet = funded
    tx = wallet.create_transaction([TxOut(20_000, BURN_SCRIPT)], 4, node)
    assert rpc.send_transaction(tx) == tx.txid
    assert rpc.getrawmempool() == [tx.txid]
    assert rpc.getrawmempool(True)[tx.txid]["vsize"] == tx.vsize
    assert rpc.get_txout(tx.vin[0].prevout) is None  # spent in the mempool
    out = rpc.gettxout(tx.txid, 0)
    assert out["confirmations"] == 0 and out["value"] == Decimal("0.0002")
    assert rpc.estimate_fee_rate() >= 4.0
    with pytest.raises(BitcoinRpcError) as e:
        rpc.send_transaction(tx)
    assert e.value.code == -27
    rpc.generate_to_address(1, address_from_script(BURN_SCRIPT))
    assert rpc.getrawmempool() == []
    verbose = rpc.getrawtransaction(tx.txid, True)
    assert verbose["confirmations"] == 1 and verbose["blockhash"] == node.tip_hash()
    assert rpc.get_transaction(tx.txid).txid == tx.txid
    [coin] = [c for c in rpc.scan_script(BURN_SCRIPT) if c.outpoint == OutPoint(tx.txid, 0)]
    assert coin.output.value == 20_000


def test_rejections_carry_bitcoind_codes(rpc, funded):
    node, wallet = funded
    tx = wallet.create_transaction([TxOut(20_000, BURN_SCRIPT)], 4, node)
    tx.vin[0].witness = [bytes(64)]
    with pytest.raises(BitcoinRpcError) as e:
        rpc.send_transaction(tx)
    assert e.value.code == -26 and "script-verify" in e.value.message
    with pytest.raises(BitcoinRpcError) as e:
        rpc.sendrawtransaction("00")
    assert e.value.code == -22
    with pytest.raises(BitcoinRpcError) as e:
        rpc.getrawtransaction("11" * 32)
    assert e.value.code == -5
    with pytest.raises(BitcoinRpcError) as e:
        rpc.nosuchmethod()
    assert e.value.code == -32601


def test_wrong_password_is_refused(server):
    with pytest.raises(RPCTransportError):
        BitcoinRPC(server.url, user="alice", password="nope").getblockcount()


def post(server: RpcServer, body: dict[str, Any] | list[dict[str, Any]]) -> tuple[int, Any]:
    """Status and decoded JSON reply of a raw POST (the reply's shape is what is under test)."""
    req = urllib.request.Request(server.url, json.dumps(body).encode())
    req.add_header("Authorization", "Basic YWxpY2U6czNjcmV0")
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_jsonrpc_shapes(server, funded):
    node, _ = funded
    status, reply = post(server, {"jsonrpc": "2.0", "id": 7, "method": "getblockcount"})
    assert status == 200 and reply == {"jsonrpc": "2.0", "result": 103, "id": 7}
    status, reply = post(
        server, {"jsonrpc": "2.0", "id": 8, "method": "getblockhash", "params": [999]}
    )
    assert status == 200 and reply["error"]["code"] == -8 and "result" not in reply
    status, reply = post(server, {"id": 9, "method": "getblockhash", "params": [999]})
    assert status == 500 and reply["result"] is None and reply["error"]["code"] == -8
    status, reply = post(
        server,
        {"id": 1, "method": "getblock", "params": {"blockhash": node.tip_hash(), "verbosity": 1}},
    )
    assert status == 200 and reply["result"]["height"] == 103
    status, reply = post(
        server, [{"id": 1, "method": "getblockcount"}, {"id": 2, "method": "nope"}]
    )
    assert status == 200 and reply[0]["result"] == 103 and reply[1]["error"]["code"] == -32601


def test_python_bitcoinlib_rawproxy_talks_to_embedded_node(server, funded):
    """A third-party client (python-bitcoinlib) over HTTP, unchanged."""
    node, wallet = funded
    bitcoin.SelectParams("regtest")
    proxy = bitcoin.rpc.RawProxy(service_url=f"http://alice:s3cret@127.0.0.1:{server.port}")
    assert proxy.getblockcount() == 103
    tip = proxy.getbestblockhash()
    block = proxy.getblock(tip)
    assert block["hash"] == tip and block["height"] == 103
    tx = wallet.create_transaction([TxOut(30_000, BURN_SCRIPT)], 2, node)
    assert proxy.sendrawtransaction(tx.hex()) == tx.txid
    assert Tx.from_hex(proxy.getrawtransaction(tx.txid)).txid == tx.txid
    hashes = proxy.generatetoaddress(2, address_from_script(BURN_SCRIPT))
    assert len(hashes) == 2 and proxy.getblockcount() == 105
    assert proxy.getrawtransaction(tx.txid, 1)["confirmations"] == 2
    with pytest.raises(bitcoin.rpc.JSONRPCError) as e:
        proxy.getblockhash(500)
    assert e.value.error["code"] == -8
