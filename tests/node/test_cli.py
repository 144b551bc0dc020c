"""The `bzk` client commands against a real node."""

from __future__ import annotations

import json
from typing import Any, cast

from typer.testing import CliRunner, Result

from bitcoinzk.cli import app
from bitcoinzk.node.wallet import L2Wallet
from bitcoinzk.sequencer.store import BatchStatus
from tests.spec.helpers import key

runner = CliRunner()


def _json(result: Result) -> dict[str, Any]:
    """The command's last output line, a JSON object."""
    assert result.exit_code == 0, result.output
    return cast(dict[str, Any], json.loads(result.output.strip().splitlines()[-1]))


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
    L2Wallet(key(1)).save(alice_file)
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
    L2Wallet.create().save(stranger)
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


def test_prove_refuses_every_block_but_a_pending_one(tmp_path):
    """`bzk prove N` on a settled block would replace the proof its settlement
    transaction carries (and move it back to proven): refused, nothing changed."""
    from bitcoinzk.sequencer.sequencer import Sequencer, SequencerConfig
    from bitcoinzk.sequencer.store import Store
    from tests.spec.helpers import genesis, transfer

    data = tmp_path / "node"
    store = Store(data / "node.sqlite")
    sequencer = Sequencer(store, genesis(), SequencerConfig())
    for nonce in range(3):
        op = transfer(1, 2, 10, nonce=nonce)
        assert sequencer.admit([(op, sequencer.tx_hash(op))])[0].error is None
        assert sequencer.produce_block() is not None
    settled = bytes(range(256))
    store.update_batch(1, BatchStatus.FINAL, settled, settlement_tx="0x" + "ab" * 32)
    store.update_batch(2, BatchStatus.COMMITTED, settled, settlement_tx="0x" + "cd" * 32)
    store.update_batch(3, BatchStatus.PROVEN, settled)
    before = [store.get_batch(n) for n in (1, 2, 3)]
    for number, status in ((1, "final"), (2, "committed"), (3, "proven")):
        result = runner.invoke(app, ["prove", str(number), "--data-dir", str(data)])
        assert result.exit_code == 1
        assert result.output.strip() == (
            f"error: block {number} is {status}: only a pending block is proven here"
        )
    assert [store.get_batch(n) for n in (1, 2, 3)] == before
    result = runner.invoke(app, ["prove", "9", "--data-dir", str(data)])
    assert result.exit_code == 1 and "no block 9" in result.output
    store.close()
    missing = tmp_path / "nowhere"
    result = runner.invoke(app, ["prove", "1", "--data-dir", str(missing)])
    assert result.exit_code == 1 and "no node data" in result.output
    assert not missing.exists()
