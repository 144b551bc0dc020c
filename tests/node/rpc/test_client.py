"""The node's RPC client against a hostile server (issue 11 §2): typed errors, no crash."""

from __future__ import annotations

import pytest

from bitcoinzk.node.rpc.client import L2RpcError, NodeClient
from tests.httpattack import HOSTILE_REPLIES, HostileServer


@pytest.mark.parametrize("status", [200, 500])
@pytest.mark.parametrize("reply", HOSTILE_REPLIES)
def test_hostile_replies_are_node_errors(reply: bytes, status: int) -> None:
    with HostileServer(reply, status) as server, pytest.raises(L2RpcError):
        NodeClient(server.url, timeout=10).call("bzk_blockNumber")


def test_a_well_formed_error_keeps_its_code() -> None:
    body = b'{"jsonrpc": "2.0", "id": 1, "error": {"code": -32602, "message": "bad"}}'
    with HostileServer(body) as server, pytest.raises(L2RpcError) as err:
        NodeClient(server.url, timeout=10).call("bzk_getBlock", 2**63)
    assert err.value.code == -32602 and err.value.message == "bad"
