"""The devnet scenario behind `make demo`.

Today it covers the Layer-2 leg: a node on embedded defaults, dev accounts
funded by the devnet genesis, a stream of signed transfers sent over HTTP,
blocks and receipts printed as they are produced, balances reconciled to the
sat, clean stop. (Bitcoin deposits/withdrawals, proofs and settlement join
this scenario as those components land.)
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console
from rich.table import Table

from bitcoinzk.l2.params import ChainParams
from bitcoinzk.l2.sequencer import SequencerConfig
from bitcoinzk.l2.types import Transfer
from bitcoinzk.node.devnet import DEV_NAMES, dev_genesis, dev_key
from bitcoinzk.node.server import Node, NodeConfig

DEVNET_PARAMS = ChainParams(chain_id=1337, tree_depth=24, block_slots=16, block_records=4)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Rpc:
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url
        self.ids = 0

    async def __call__(self, method: str, *params: Any) -> Any:
        self.ids += 1
        body = {"jsonrpc": "2.0", "id": self.ids, "method": method, "params": list(params)}
        async with self.session.post(self.url, json=body) as response:
            reply = await response.json()
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']['message']}")
        return reply["result"]


async def run_devnet(
    console: Console, data_dir: Path | None, transfers: int, scenario: bool, port: int
) -> int:
    tmp = None
    if data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="bzk-devnet-")
        data_dir = Path(tmp.name)
    config = NodeConfig(
        data_dir=data_dir,
        port=port or free_port(),
        sequencer=SequencerConfig(block_time=0.5, min_fee=1),
    )
    genesis = dev_genesis(DEVNET_PARAMS)
    node = Node(config, genesis)
    await node.start()
    console.print(f"[bold]bitcoinzk devnet[/bold] node at {node.url} data {data_dir}")
    try:
        if not scenario:
            console.print("running; Ctrl-C to stop")
            await asyncio.Event().wait()
        return await _scenario(console, node, transfers)
    finally:
        await node.stop()
        if tmp is not None:
            tmp.cleanup()


async def _scenario(console: Console, node: Node, transfers: int) -> int:
    chain_id = node.params.chain_id
    keys = {name: dev_key(name) for name in DEV_NAMES}
    rng = random.Random(7)
    async with aiohttp.ClientSession() as session:
        rpc = Rpc(session, node.url)
        before = {n: await rpc("bzk_getAccount", k.public_key().hex()) for n, k in keys.items()}
        fee_before = (await rpc("bzk_getAccount", node.params.fee_account))["balance"]
        nonces = {n: before[n]["nonce"] for n in DEV_NAMES}
        sent: list[tuple[str, str, int, int, str]] = []
        for _ in range(transfers):
            src, dst = rng.sample(DEV_NAMES, 2)
            amount, fee = rng.randrange(1_000, 50_000), rng.choice([1, 2, 5, 10])
            op = Transfer(
                before[src]["index"], 0, keys[dst].public_key(), amount, fee, nonces[src]
            ).signed(keys[src], chain_id)
            tx_hash = (await rpc("bzk_sendTransaction", op.to_json()))["hash"]
            nonces[src] += 1
            sent.append((src, dst, amount, fee, tx_hash))
        console.print(f"sent {len(sent)} signed transfers over JSON-RPC")
        receipts: dict[str, Any] = {}
        shown = 0
        while len(receipts) < len(sent):
            await asyncio.sleep(0.2)
            head = await rpc("bzk_blockNumber")
            while shown < head:
                shown += 1
                blk = await rpc("bzk_getBlock", shown, False)
                console.print(
                    f"block {blk['number']:>3}  txs {blk['tx_count']:>3}  fees {blk['fees']:>4}  "
                    f"pubdata {len(blk['pubdata']) // 2 - 1:>4} B  root {blk['new_root'][:18]}…"
                )
            for *_, h in sent:
                if h not in receipts:
                    r = await rpc("bzk_getTransactionReceipt", h)
                    if r and r["status"] != "pending":
                        receipts[h] = r
        table = Table(title="receipts (first 10)")
        for col in ("hash", "from", "to", "amount", "fee", "status", "block"):
            table.add_column(col)
        for src, dst, amount, fee, h in sent[:10]:
            r = receipts[h]
            table.add_row(
                h[:12] + "…", src, dst, str(amount), str(fee), r["status"], str(r["block_number"])
            )
        console.print(table)
        after = {n: await rpc("bzk_getAccount", k.public_key().hex()) for n, k in keys.items()}
        fee_after = (await rpc("bzk_getAccount", node.params.fee_account))["balance"]
    return _reconcile(console, sent, receipts, before, after, fee_after - fee_before)


def _reconcile(
    console: Console,
    sent: list[tuple[str, str, int, int, str]],
    receipts: dict[str, Any],
    before: dict[str, Any],
    after: dict[str, Any],
    fees_collected: int,
) -> int:
    expected = {n: before[n]["balance"] for n in before}
    fees = 0
    failed = 0
    for src, dst, amount, fee, h in sent:
        if receipts[h]["status"] != "included":
            failed += 1
            continue
        expected[src] -= amount + fee
        expected[dst] += amount
        fees += fee
    table = Table(title="balances (sats)")
    for col in ("account", "before", "after", "expected", "ok"):
        table.add_column(col)
    ok = failed == 0 and fees == fees_collected
    for n in before:
        good = after[n]["balance"] == expected[n]
        ok &= good
        table.add_row(
            n,
            str(before[n]["balance"]),
            str(after[n]["balance"]),
            str(expected[n]),
            "yes" if good else "NO",
        )
    table.add_row(
        "fees", "", str(fees_collected), str(fees), "yes" if fees == fees_collected else "NO"
    )
    console.print(table)
    console.print(json.dumps({"transfers": len(sent), "failed": failed, "reconciled": ok}))
    return 0 if ok else 1
