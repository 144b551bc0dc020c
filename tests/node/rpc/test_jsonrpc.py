"""The Layer-2 dispatcher's batch limits, on a real Dispatcher (issue 11 §3)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from bitcoinzk.httprpc import HttpLimits
from bitcoinzk.node.rpc.jsonrpc import Dispatcher

LIMITS = HttpLimits(max_reply_bytes=5_000)


def dispatcher() -> Dispatcher:
    rpc = Dispatcher(LIMITS)

    @rpc.method("big")
    async def big() -> str:
        return "x" * 1_000

    @rpc.method("slow")
    async def slow() -> int:
        await asyncio.sleep(0.01)
        return 1

    return rpc


def batch(*methods: str) -> bytes:
    return json.dumps(
        [{"jsonrpc": "2.0", "id": i, "method": m} for i, m in enumerate(methods)]
    ).encode()


def test_batch_reply_stops_at_the_reply_limit() -> None:
    replies: Any = asyncio.run(dispatcher().handle(batch(*["big"] * 100)))[0]
    answered = [r for r in replies if "result" in r]
    refused = [r for r in replies if "error" in r]
    assert len(replies) == 100 and [r["id"] for r in replies] == list(range(100))
    assert 5 <= len(answered) <= 6 and len(answered) + len(refused) == 100
    assert all(r["error"]["code"] == -32600 and "not run" in r["error"]["message"] for r in refused)
    assert len(json.dumps(replies)) < 5_000 + 1_100 + 100 * 120


def test_items_that_wait_run_together() -> None:
    # bzk_sendTransaction waits for its signature check: such items all start at once
    # (their group commit shares one fsync); their replies are small.
    replies: Any = asyncio.run(dispatcher().handle(batch(*["slow"] * 300)))[0]
    assert [r["result"] for r in replies] == [1] * 300
