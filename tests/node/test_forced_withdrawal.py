"""Issue 14 §2 end to end: a sequencer that ignores a user's withdrawal cannot keep her BTC.

Alice deposits on Bitcoin; the sequencer never takes her Layer-2 withdrawal, so she queues
the same signed withdrawal on the Rollup contract (`forceWithdraw`, her own EVM key paying
the gas). The real node reads the queue from the contract's events, processes the request
in slot 0 of its next block, proves and commits it before the deadline, and the bridge
signers pay it on Bitcoin from the settled batch, exactly as a normal withdrawal.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path

import aiohttp

from bitcoinzk.bitcoin.regtest import RegtestNode
from bitcoinzk.bitcoin.tx import OutPoint, TxOut
from bitcoinzk.devnet.devnet import Devnet, dev_bitcoin_wallet, dev_key
from bitcoinzk.fullnode.server import FullNodeConfig, open_follower
from bitcoinzk.node.config import Config
from bitcoinzk.node.rpc.client import AsyncNodeClient
from bitcoinzk.procutil import free_port
from bitcoinzk.spec.types import ForcedWithdraw, Withdraw

USER_EVM_KEY = hashlib.sha256(b"bitcoinzk test: alice's own EVM key").digest()
DEADLINE = 900


async def _until(predicate: object, timeout: float, what: str) -> None:
    assert callable(predicate)
    end = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        await asyncio.sleep(0.3)


async def _run(data_dir: Path) -> None:
    config = Config.from_dict(
        {
            "chain": {"tree_depth": 6, "block_slots": 2, "block_records": 1, "chain_id": 7},
            "node": {"port": free_port(), "block_time": 0.2},
            "bridge": {"deposit_confirmations": 2},
            "settlement": {"forced_deadline": DEADLINE},
        }
    )
    devnet = Devnet(config, data_dir)
    await devnet.start()
    try:
        btc, alice, alice_btc = devnet.btc, dev_key("alice"), dev_bitcoin_wallet("alice")
        assert isinstance(btc, RegtestNode)
        node, rollup = devnet.node, devnet.node.rollup
        assert rollup is not None
        btc.mine(1, alice_btc.new_key().script_pubkey)
        btc.mine(100)
        async with aiohttp.ClientSession() as session:
            rpc = AsyncNodeClient(session, node.url)

            async def l2_account() -> dict[str, int] | None:
                found = await rpc("bzk_getAccount", alice.public_key().hex())
                return None if found is None else dict(found)

            reveal = devnet.deposit_address(alice, alice_btc)
            tx = alice_btc.create_transaction(
                [TxOut(5_000_000, reveal.script_pubkey(devnet.signer_set))], 2, btc
            )
            btc.send_raw_transaction(tx)
            btc.mine(config.bridge.deposit_confirmations)

            async def credited() -> bool:
                return (await l2_account()) is not None

            await _until(credited, 120, "the deposit credit")
            account = await l2_account()
            assert account is not None

            # The sequencer censors Alice: her withdrawal never gets into a block. She
            # signs it as for the sequencer and queues it on the contract instead.
            amount, fee = 1_000_000, 10
            spk = dev_bitcoin_wallet("alice-cold").new_key().script_pubkey
            w = Withdraw(account["index"], spk, amount, fee, account["nonce"])
            w = w.signed(alice, config.chain.chain_id)
            assert w.signature is not None
            request = ForcedWithdraw(0, w.sender, spk, amount, fee, w.nonce, w.signature)
            user = rollup.with_client(rollup.client.with_key(USER_EVM_KEY))
            queued = await node.pipeline.run_settlement(user.force_withdraw, request)
            assert queued.index == 0 and queued.gas_used > 0
            print(f"forced_request_gas={queued.gas_used}")

            async def processed() -> bool:
                return bool(await node.pipeline.run_settlement(rollup.forced_head) == 1)

            await _until(processed, 600, "the node to commit the forced withdrawal")
            assert time.time() < queued.deadline  # the embedded EVM's clock is this one
            assert not await node.pipeline.run_settlement(rollup.forced_due)
            after = await l2_account()
            assert after is not None
            assert after["balance"] == account["balance"] - amount - fee
            assert after["nonce"] == account["nonce"] + 1

            # A full node rebuilt from the contract's data alone follows the forced block.
            (data_dir / "fullnode").mkdir()
            follower = open_follower(FullNodeConfig(data_dir / "fullnode"), devnet.genesis, rollup)
            try:
                await node.pipeline.run_settlement(follower.sync_once)
                assert follower.state.root == await node.pipeline.run_settlement(rollup.state_root)
                mine = follower.state.get(account["index"])
                assert mine is not None and mine.balance == after["balance"]
            finally:
                follower.store.close()

            # The bridge pays it from the settled batch: sweep the deposit, then pay.
            async def swept() -> bool:
                return bool(devnet.sweeps)

            await _until(swept, 120, "the sweep")
            btc.mine(1)

            async def paid() -> bool:
                return any(out.script_pubkey == spk for p in devnet.payouts for out in p.tx.vout)

            await _until(paid, 120, "the payout of the forced withdrawal")
            payout = next(
                p for p in devnet.payouts if any(o.script_pubkey == spk for o in p.tx.vout)
            )
            btc.mine(1)
            charge = devnet.fees.withdrawal_fee(devnet.signer_set)
            vout = next(i for i, o in enumerate(payout.tx.vout) if o.script_pubkey == spk)
            coin = btc.get_coin(OutPoint(payout.tx.txid, vout))
            assert coin is not None and coin.output.value == amount - charge
            assert sum(o.script_pubkey == spk for p in devnet.payouts for o in p.tx.vout) == 1
    finally:
        await devnet.stop()


def test_censored_withdrawal_is_forced_through_the_contract_and_paid_on_bitcoin(
    tmp_path: Path,
) -> None:
    asyncio.run(_run(tmp_path / "devnet"))
