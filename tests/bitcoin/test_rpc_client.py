"""The Bitcoin RPC client against a hostile server (issue 11 §2): typed errors, no crash."""

from __future__ import annotations

import pytest

from bitcoinzk.bitcoin.rpc_client import BitcoinRPC, BitcoinRpcError, RPCTransportError
from tests.httpattack import HOSTILE_REPLIES, HostileServer


@pytest.mark.parametrize("status", [200, 500])
@pytest.mark.parametrize("reply", HOSTILE_REPLIES)
def test_hostile_replies_are_transport_errors(reply: bytes, status: int) -> None:
    with HostileServer(reply, status) as server, pytest.raises(RPCTransportError):
        BitcoinRPC(server.url, timeout=10).call("getblockcount")


def test_a_well_formed_error_keeps_its_code() -> None:
    body = b'{"result": null, "error": {"code": -8, "message": "out of range"}, "id": 1}'
    with HostileServer(body, 500) as server, pytest.raises(BitcoinRpcError) as err:
        BitcoinRPC(server.url, timeout=10).call("getblockhash", 10**9)
    assert err.value.code == -8
