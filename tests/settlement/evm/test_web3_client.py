"""The external EVM client against a hostile JSON-RPC endpoint (issue 11 §2): every
unreadable reply is `ChainUnavailable`, and none of them crashes the process."""

from __future__ import annotations

import sys

import pytest

from bitcoinzk.settlement.evm.client import DEFAULT_KEY, ChainUnavailable, RetryPolicy, Web3Client
from tests.httpattack import DEEP_NESTING, HostileServer


@pytest.mark.parametrize("reply", [DEEP_NESTING, b"not json", b"\xff\xfe", b'{"result": NaN}'])
def test_unreadable_replies_are_chain_unavailable(reply: bytes) -> None:
    # py_ecc (imported with the EVM stack) raises the recursion limit: the deep reply
    # is the exact attack that overflowed the C stack in `json.loads`.
    assert sys.getrecursionlimit() > 10_000
    with HostileServer(reply) as server, pytest.raises(ChainUnavailable, match="unreadable"):
        Web3Client(server.url, DEFAULT_KEY, retry=RetryPolicy(attempts=1, backoff_s=0))
