"""The devnet scenario against an external bitcoind-compatible node (issue 6: `bitcoin.rpc`).

The "external bitcoind" is an embedded regtest node served over HTTP by
`RpcServer` in this process, with auth; the devnet reaches it only through
its URL (watcher over `BitcoinRPC`, signers and payouts over `RpcChain`, the
scenario over `RemoteBitcoin`), and owns no chain of its own.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from rich.console import Console

from bitcoinzk.bitcoin.regtest import RegtestNode
from bitcoinzk.bitcoin.remote import RemoteBitcoin
from bitcoinzk.bitcoin.rpc_server import RpcServer
from bitcoinzk.devnet.devnet import Devnet
from bitcoinzk.devnet.scenario import play
from bitcoinzk.node.config import Config
from bitcoinzk.procutil import free_port


async def _run(data_dir: Path, url: str) -> None:
    config = Config.from_dict(
        {
            "chain": {"tree_depth": 6, "block_slots": 2, "block_records": 1, "chain_id": 7},
            "node": {"port": free_port(), "block_time": 0.2},
            "bitcoin": {"rpc": url},
            "bridge": {"deposit_confirmations": 2},
        }
    )
    devnet = Devnet(config, data_dir)
    assert isinstance(devnet.btc, RemoteBitcoin)
    await devnet.start()
    try:
        report = await play(devnet, transfers=2, console=Console(quiet=True))
        view = devnet.bridge_view()
    finally:
        await devnet.stop()
    assert report.reconciled, report.checks
    assert len(report.checks) == 10
    assert report.batches and all(b["status"] == "final" for b in report.batches)
    assert (
        report.btc_after["bob"]
        == report.btc_before["bob"] + report.withdrawal - report.withdrawal_charge
    )
    assert [d["confirmations"] for d in view["deposits"]] and all(
        d["confirmations"] >= 2 for d in view["deposits"]
    )
    assert [w["confirmations"] for w in view["withdrawals"]] == [1]


def test_devnet_scenario_over_bitcoin_rpc(tmp_path):
    bitcoind = RegtestNode(tmp_path / "bitcoind")
    server = RpcServer(bitcoind, port=0, user="bzk", password="secret")
    server.start()
    try:
        url = f"http://bzk:secret@127.0.0.1:{server.port}/"
        asyncio.run(_run(tmp_path / "devnet", url))
        assert not (tmp_path / "devnet" / "bitcoin").exists()
        assert bitcoind.height() >= 101 + 2 + 1
    finally:
        server.stop()
        bitcoind.close()
