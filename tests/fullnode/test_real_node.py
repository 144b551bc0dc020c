"""A real sequencer node proves, commits and finalizes blocks on the embedded EVM; a full
node reading only that EVM's file (another connection, as another process would) reaches
the sequencer's root and answers `bzk_getAccount` exactly as the sequencer does."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from bitcoinzk.fullnode.server import FullNode, FullNodeConfig, open_follower
from bitcoinzk.node.rpc.client import AsyncNodeClient
from bitcoinzk.node.server import Node, NodeConfig
from bitcoinzk.procutil import free_port
from bitcoinzk.sequencer.sequencer import SequencerConfig
from bitcoinzk.spec.params import ChainParams
from tests.spec.helpers import genesis, transfer, withdraw

# The smallest real circuit, whose keys the prover and settlement tests cache.
PARAMS = ChainParams(chain_id=7, tree_depth=6, block_slots=2, block_records=1, fee_account=0)


async def _run(tmp_path: Path) -> None:
    gen = genesis(params=PARAMS)
    node = Node(
        NodeConfig(
            data_dir=tmp_path / "node",
            port=free_port(),
            sequencer=SequencerConfig(block_time=0.2),
            verify_workers=1,
            prove=True,
            settlement="embedded",
        ),
        gen,
    )
    await node.start()
    full: FullNode | None = None
    try:
        async with aiohttp.ClientSession() as session:
            rpc = AsyncNodeClient(session, node.url)
            hashes = [
                (await rpc("bzk_sendTransaction", op.to_json()))["hash"]
                for op in (transfer(1, 2, 1_000, params=PARAMS), withdraw(2, 2_000, params=PARAMS))
            ]
            # the full node starts while the sequencer is still proving: it follows along
            config = FullNodeConfig(
                tmp_path / "fullnode", evm_data=tmp_path / "node", poll_s=0.2, port=free_port()
            )
            follower = await asyncio.to_thread(open_follower, config, gen)
            full = FullNode(config, follower)
            await full.start()
            fn = AsyncNodeClient(session, full.url)
            deadline = time.monotonic() + 600
            while True:
                assert time.monotonic() < deadline, "the sequencer's batches never became final"
                head = await rpc("bzk_blockNumber")
                batches = [await rpc("bzk_getBatch", n) for n in range(1, head + 1)]
                assert not any(b["status"] == "failed" for b in batches), batches
                blocks = [await rpc("bzk_getBlock", n, False) for n in range(1, head + 1)]
                included = sum(b["tx_count"] for b in blocks)
                if included == 2 and all(b["status"] == "final" for b in batches):
                    if await fn("bzk_blockNumber") == head:
                        break
                await asyncio.sleep(0.5)
            assert await fn("bzk_stateRoot") == await rpc("bzk_stateRoot")
            for index in range(4):
                mine, theirs = await fn("bzk_getAccount", index), await rpc("bzk_getAccount", index)
                assert mine == theirs, index
            for tx_hash in hashes:  # the hash is the signed message: fields alone give it
                mine = await fn("bzk_getTransactionReceipt", tx_hash)
                theirs = await rpc("bzk_getTransactionReceipt", tx_hash)
                assert mine == theirs and mine["status"] == "included", (mine, theirs)
            for n in range(1, head + 1):
                a, b = await fn("bzk_getBlock", n, False), await rpc("bzk_getBlock", n, False)
                assert (a["pubdata"], a["new_root"], a["public_input"]) == (
                    b["pubdata"],
                    b["new_root"],
                    b["public_input"],
                )
    finally:
        if full is not None:
            await full.stop()
        await node.stop()


def test_full_node_from_nothing_reaches_the_sequencers_root(tmp_path: Path) -> None:
    asyncio.run(_run(tmp_path))
