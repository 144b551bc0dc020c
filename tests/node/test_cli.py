"""The `bzk` client commands against a real node."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from bitcoinzk.cli import app
from bitcoinzk.node.wallet import Wallet
from tests.l2.helpers import key

runner = CliRunner()


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def test_wallet_send_account_block(node, tmp_path):
    proc, _ = node
    url = ["--url", proc.url]
    new = _json(
        runner.invoke(app, ["wallet", "new", "--wallet", str(tmp_path / "w.json"), "--json"])
    )
    assert (
        runner.invoke(app, ["wallet", "new", "--wallet", str(tmp_path / "w.json")]).exit_code == 1
    )

    alice_file = tmp_path / "alice.json"
    Wallet(key(1)).save(alice_file)
    shown = _json(
        runner.invoke(app, ["wallet", "show", "--wallet", str(alice_file), *url, "--json"])
    )
    assert shown["account"]["index"] == 1

    receipt = _json(
        runner.invoke(
            app,
            [
                "send",
                "--to",
                new["pubkey"],
                "--amount",
                "5000",
                "--fee",
                "2",
                "--wallet",
                str(alice_file),
                *url,
                "--json",
            ],
        )
    )
    assert receipt["status"] == "included"
    account = _json(runner.invoke(app, ["account", new["pubkey"], *url, "--json"]))
    assert account["balance"] == 5000 and account["index"] == receipt["recipient"]
    block = _json(runner.invoke(app, ["block", str(receipt["block_number"]), *url, "--json"]))
    assert block["ops"][0]["amount"] == 5000

    stranger = tmp_path / "stranger.json"
    Wallet.create().save(stranger)
    to = ["--to", key(2).public_key().hex()]
    broke = runner.invoke(app, ["send", *to, "--amount", "10", "--wallet", str(stranger), *url])
    assert broke.exit_code == 1 and "no Layer-2 account" in broke.output
    over = runner.invoke(
        app, ["send", *to, "--amount", "10000000", "--wallet", str(alice_file), *url]
    )
    assert over.exit_code == 1 and "InsufficientBalance" in over.output
    odd = runner.invoke(
        app, ["send", *to, "--amount", "1234567", "--wallet", str(alice_file), *url]
    )
    assert odd.exit_code == 1 and "nearest lower: 1234560" in odd.output
