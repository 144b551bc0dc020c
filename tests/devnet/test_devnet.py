"""The devnet scenario end to end (issue: one-command devnet), at the smallest circuit.

BTC in on Bitcoin, Layer-2 transfers, every block proven and settled on the
embedded EVM, BTC out on Bitcoin, and every balance reconciled to the sat.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from rich.console import Console

from bitcoinzk.devnet.devnet import Devnet
from bitcoinzk.devnet.scenario import play
from bitcoinzk.node.config import Config
from bitcoinzk.node.rpc.client import AsyncNodeClient
from bitcoinzk.procutil import free_port


async def _run(data_dir: Path) -> None:
    config = Config.from_dict(
        {
            "chain": {"tree_depth": 6, "block_slots": 2, "block_records": 1, "chain_id": 7},
            "node": {"port": free_port(), "block_time": 0.2},
            "bridge": {"deposit_confirmations": 2},
        }
    )
    devnet = Devnet(config, data_dir)
    await devnet.start()
    try:
        report = await play(devnet, transfers=2, console=Console(quiet=True))
        async with aiohttp.ClientSession() as session:
            fees = await AsyncNodeClient(session, devnet.node.url)("bzk_getBridgeFees")
    finally:
        await devnet.stop()
    assert report.reconciled, report.checks
    assert len(report.checks) == 10
    assert report.batches and all(b["status"] == "final" for b in report.batches)
    assert all(b["commit_gas"] > 0 and len(b["proof"]) == 2 + 512 for b in report.batches)
    assert report.sweep_fee > 0 and report.withdrawal > report.withdrawal_charge > 0
    assert fees["withdrawal_fee"] == report.withdrawal_charge
    assert fees["deposit_fee"] == report.deposit_charge
    assert (
        report.btc_after["bob"]
        == report.btc_before["bob"] + report.withdrawal - report.withdrawal_charge
    )


def test_devnet_scenario_reconciles_to_the_sat(tmp_path):
    asyncio.run(_run(tmp_path / "devnet"))


def test_config_rejects_unknown_and_mistyped_settings(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[chain]\ntree_depth = 'deep'\n")
    for text, needle in (
        ("[chain]\ntree_depth = 'deep'\n", "must be int"),
        ("[chain]\ndepth = 4\n", "chain.depth is not a setting"),
        ("[nope]\n", "[nope] is not a section"),
    ):
        bad.write_text(text)
        try:
            Config.load(bad)
        except ValueError as exc:
            assert needle in str(exc)
        else:
            raise AssertionError(text)
    good = tmp_path / "good.toml"
    good.write_text("[chain]\ntree_depth = 6\n[bridge]\npayout_fee_rate = 3\n")
    cfg = Config.load(good)
    assert cfg.chain.tree_depth == 6 and cfg.bridge.payout_fee_rate == 3.0
