"""Exodus end to end: the sequencer stops, a user's forced withdrawal misses its deadline,
anyone starts exodus, every account owner exits through `bzk exit`'s own code path
(a full node synced from the contract alone, its witness, the exit proof, the claim),
and the bridge signers pay each claim once on Bitcoin.

Real parts throughout: the devnet (regtest Bitcoin on libbitcoinkernel, the bridge's
MuSig2 signers, a proving node settling every batch to the Rollup contract on
py-evm), real batch proofs at the smallest circuit, real exit proofs.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from bitcoinzk.bitcoin.regtest import RegtestNode
from bitcoinzk.bitcoin.tx import OutPoint
from bitcoinzk.bridge.payout import ExitWithdrawalId, FinalizedWithdrawal
from bitcoinzk.bridge.sweep import reserves
from bitcoinzk.cli import app
from bitcoinzk.devnet.devnet import Devnet, dev_bitcoin_wallet, dev_key
from bitcoinzk.devnet.scenario import play
from bitcoinzk.fullnode.exit import (
    AlreadyExited,
    ExitResult,
    NotInExodus,
    exit_account,
    synced_store,
)
from bitcoinzk.fullnode.server import FullNodeConfig
from bitcoinzk.node.config import Config
from bitcoinzk.node.wallet import L2Wallet
from bitcoinzk.procutil import free_port
from bitcoinzk.settlement.evm.anvil import DEV_KEYS
from bitcoinzk.settlement.evm.rollup import Rollup
from bitcoinzk.spec.types import ForcedWithdraw, Withdraw

NAMES = ("operator", "alice", "bob", "carol", "dave")


def paid_to(node: RegtestNode, spk: bytes, since: int) -> list[int]:
    """The values of confirmed outputs paying `spk` from height `since` on."""
    out = []
    for height in range(since, node.height() + 1):
        block = node.get_block(node.block_hash(height))
        out += [o.value for tx in block.txs for o in tx.vout if o.script_pubkey == spk]
    return out


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, ["exit", *args])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("error: ")]
    return line


async def _until(check: object, seconds: float, what: str) -> None:
    for _ in range(int(seconds / 0.2)):
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def _run(root: Path) -> None:
    config = Config.from_dict(
        {
            "chain": {"tree_depth": 6, "block_slots": 2, "block_records": 1, "chain_id": 7},
            "node": {"port": free_port(), "block_time": 0.2},
            "bridge": {"deposit_confirmations": 2},
        }
    )
    devnet = Devnet(config, root / "devnet")
    node_dir = root / "devnet" / "l2"
    await devnet.start()
    try:
        report = await play(devnet, transfers=2, console=Console(quiet=True))
        assert report.reconciled, report.checks
        paid_before = {str(w.id) for p in devnet.payouts for w in p.paid}
        assert paid_before and all(not i.startswith("exit:") for i in paid_before)

        # the sequencer stops: no block, no proof, no batch from here on
        for task in devnet.node.tasks:
            task.cancel()
        rollup = devnet.node.rollup
        assert rollup is not None
        params, genesis = devnet.params, devnet.genesis
        config_fn = FullNodeConfig(root / "fullnode", evm_data=node_dir)
        store = synced_store(config_fn, genesis, rollup)
        final = {i: a for i, a in ((i, store_account(store, i)) for i in range(64)) if a}
        store.close()
        supply = sum(balance for _, balance in final.values())
        book = reserves(devnet.bridge_store)
        assert supply == book.credited - book.withdrawn > 0  # what the bridge owes

        # before exodus `bzk exit` refuses, on the command line in one line
        alice_wallet = root / "alice.json"
        L2Wallet(dev_key("alice")).save(alice_wallet)
        alice_spk = dev_bitcoin_wallet("alice").new_key().script_pubkey
        genesis_file = root / "genesis.json"
        genesis_file.write_text(json.dumps(genesis.to_json()))
        chain = ["--evm-data", str(node_dir), "--data-dir", str(root / "fullnode")]
        chain += ["--genesis", str(genesis_file), "--script-pubkey", alice_spk.hex()]
        assert "not in exodus mode" in _cli("--wallet", str(alice_wallet), *chain)
        with pytest.raises(NotInExodus):
            synced = synced_store(config_fn, genesis, rollup)
            try:
                exit_account(synced, rollup, params.tree_depth, dev_key("alice"), alice_spk)
            finally:
                synced.close()

        # the sequencer ignores Alice's withdrawal: she queues it on the contract
        alice = dev_key("alice").public_key()
        index = next(i for i, (key, _) in final.items() if key == alice.hex())
        nonce = nonce_of(root / "fullnode", index)
        signed = Withdraw(index, alice_spk, 1_000, 1, nonce).signed(
            dev_key("alice"), params.chain_id
        )
        assert signed.signature is not None
        user: Rollup = rollup.with_client(rollup.client.with_key(DEV_KEYS[1]))
        forced = user.force_withdraw(
            ForcedWithdraw(0, index, alice_spk, 1_000, 1, nonce, signed.signature)
        )
        # nothing processes it; once it is overdue anyone starts exodus
        rollup.client.chain.env.evm.patch.timestamp = forced.deadline + 1  # type: ignore[attr-defined]
        assert rollup.forced_due()
        user.activate_exodus()

        # every owner exits with exactly their balance, through `bzk exit`'s path
        results: dict[str, ExitResult] = {}
        scripts = {}
        for name in NAMES:
            key = dev_key(name)
            idx = next((i for i, (k, _) in final.items() if k == key.public_key().hex()), None)
            if idx is None:
                continue
            scripts[name] = dev_bitcoin_wallet(name).new_key().script_pubkey
            synced = synced_store(config_fn, genesis, user)
            try:
                results[name] = exit_account(
                    synced, user, params.tree_depth, key, scripts[name], idx
                )
            finally:
                synced.close()
            assert results[name].claim.balance == final[idx][1]
            assert results[name].gas_used <= 500_000
        assert sum(r.claim.balance for r in results.values()) == supply

        # a second exit: refused before any gas, by the library and the command line
        synced = synced_store(config_fn, genesis, user)
        with pytest.raises(AlreadyExited):
            exit_account(synced, user, params.tree_depth, dev_key("alice"), alice_spk)
        synced.close()
        assert "has already exited" in _cli("--wallet", str(alice_wallet), *chain)
        stranger = root / "stranger.json"
        L2Wallet(dev_key("mallory")).save(stranger)
        assert "no account holds the key" in _cli("--wallet", str(stranger), *chain)

        # the bridge pays every claim once, from the contract's events alone
        btc = devnet.btc
        assert isinstance(btc, RegtestNode)
        fee = devnet.fees.withdrawal_fee(devnet.signer_set)
        since = btc.height() + 1
        payable = {
            name
            for name, r in results.items()
            if devnet.payout_builder.payable(
                FinalizedWithdrawal(
                    ExitWithdrawalId(r.claim.account), r.claim.balance, scripts[name]
                )
            )
        }

        def all_paid() -> bool:
            btc.mine(1)
            rows = dict(
                devnet.bridge_store.db.execute(
                    "SELECT id, payout_txid FROM withdrawals WHERE id LIKE 'exit:%'"
                ).fetchall()
            )
            return len(rows) == len(results) and all(rows.values())

        assert {"alice", "bob"} <= payable and len(payable) >= 3
        await _until(all_paid, 120, "the exit payouts")
        btc.mine(1)
        for name, result in results.items():
            got = paid_to(btc, scripts[name], since)
            if name in payable:
                assert got == [result.claim.balance - fee], name
            else:  # below fee + dust: burnt as surplus, recorded, never paid
                assert got == [], name
        # more bridge cycles, events read again: nothing more is paid
        await asyncio.sleep(1.0)
        assert await devnet.pay_withdrawals() is None
        btc.mine(2)
        for name in results:
            assert len(paid_to(btc, scripts[name], since)) == (name in payable)
        # earlier withdrawals were not paid again
        paid_after = [str(w.id) for p in devnet.payouts for w in p.paid]
        assert len(paid_after) == len(set(paid_after))
        book = reserves(devnet.bridge_store)
        assert book.credited - book.withdrawn == 0  # the bridge owes nothing more
        for coin_op, amount in book.outpoints:
            coin = btc.get_coin(OutPoint(coin_op.txid, coin_op.vout))
            assert coin is not None and coin.output.value == amount
    finally:
        await devnet.stop()


def store_account(store: object, index: int) -> tuple[str, int] | None:
    row = store.db.execute(  # type: ignore[attr-defined]
        "SELECT pubkey, balance FROM accounts WHERE idx=?", (index,)
    ).fetchone()
    return None if row is None else (str(row[0]), int(row[1]))


def nonce_of(data_dir: Path, index: int) -> int:
    from bitcoinzk.sequencer.store import Store

    store = Store(data_dir / "fullnode.sqlite")
    try:
        (nonce,) = store.db.execute("SELECT nonce FROM accounts WHERE idx=?", (index,)).fetchone()
        return int(nonce)
    finally:
        store.close()


def test_sequencer_stops_exodus_every_user_exits_once_with_their_balance(tmp_path: Path) -> None:
    asyncio.run(_run(tmp_path))
