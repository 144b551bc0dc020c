"""Batched payouts: owed withdrawals only, each paid once, signed by MuSig2 or k of n."""

from __future__ import annotations

import logging

import pytest

from bitcoinzk.bitcoin.tx import OutPoint
from bitcoinzk.bitcoin.wallet import BitcoinWallet
from bitcoinzk.bridge.chain import NodeChain
from bitcoinzk.bridge.fees import FeePolicy
from bitcoinzk.bridge.payout import (
    BatchWithdrawalId,
    ExitWithdrawalId,
    FinalizedBatch,
    FinalizedDeposit,
    FinalizedWithdrawal,
    NotEnoughSigners,
    PayoutBuilder,
    PayoutRefused,
    RefusalLog,
    Signer,
    UnbackedDeposit,
    parse_withdrawal_id,
)
from bitcoinzk.bridge.store import BridgeStore

from .conftest import ALICE, l2_key


def withdrawals(wallet: BitcoinWallet, n: int, amount: int = 10_000) -> list[FinalizedWithdrawal]:
    return [
        FinalizedWithdrawal(BatchWithdrawalId(2, i), amount, wallet.new_key().script_pubkey)
        for i in range(n)
    ]


def test_key_path_payout_pays_each_withdrawal_once(node, wallet, bridge, tmp_path, signer_set):
    settlement, signers, builder = bridge
    ws = withdrawals(wallet, 3)
    settlement.batches.append(FinalizedBatch(2, withdrawals=tuple(ws)))
    result = builder.pay(ws, signers, fee_rate=2)
    assert result is not None and result.key_path
    assert all(len(i.witness) == 1 for i in result.tx.vin)  # one 64-byte MuSig2 signature
    assert result.tx.txid in node.mempool  # kernel's verifier accepted the aggregate signature
    node.mine(1)
    for n, w in enumerate(ws):
        coin = node.get_coin(OutPoint(result.tx.txid, n))
        assert coin is not None
        assert coin.output.value == w.amount - FeePolicy().withdrawal_fee(signer_set)
    assert builder.pay(ws, signers) is None
    builder.store.close()
    restarted = PayoutBuilder(BridgeStore(tmp_path / "bridge.sqlite"), signer_set, NodeChain(node))
    assert restarted.pay(ws, signers) is None
    restarted.store.close()


def test_script_path_when_a_signer_is_offline(node, wallet, bridge):
    settlement, signers, builder = bridge
    ws = withdrawals(wallet, 2)
    settlement.batches.append(FinalizedBatch(2, withdrawals=tuple(ws)))
    result = builder.pay(ws, signers[:2], fee_rate=2)
    assert result is not None and not result.key_path
    node.mine(1)
    assert node.get_tx(result.tx.txid).height == node.height()
    with pytest.raises(NotEnoughSigners):
        builder.pay(
            [FinalizedWithdrawal(BatchWithdrawalId(2, 99), 10_000, wallet.new_key().script_pubkey)],
            signers[:1],
        )


def test_change_is_reused_by_the_next_payout(node, wallet, bridge):
    settlement, signers, builder = bridge
    first, second = (
        withdrawals(wallet, 1),
        [FinalizedWithdrawal(BatchWithdrawalId(2, 1), 2_500_000, wallet.new_key().script_pubkey)],
    )
    settlement.batches.append(FinalizedBatch(2, withdrawals=tuple(first + second)))
    r1 = builder.pay(first, signers)
    node.mine(1)
    r2 = builder.pay(second, signers)
    assert r2 is not None and any(i.prevout.txid == r1.tx.txid for i in r2.tx.vin)
    node.mine(1)
    assert node.get_tx(r2.tx.txid).height == node.height()


def test_unfinalized_withdrawal_is_refused(wallet, bridge):
    _, signers, builder = bridge
    with pytest.raises(PayoutRefused, match="not finalized"):
        builder.pay(withdrawals(wallet, 1), signers)


def test_unbacked_deposit_halts_every_signer(node, wallet, bridge):
    settlement, signers, builder = bridge
    ws = withdrawals(wallet, 1)
    minted = FinalizedDeposit(ALICE, 5_000_000, "ee" * 32, 0)  # no such Bitcoin deposit
    settlement.batches.append(FinalizedBatch(2, deposits=(minted,), withdrawals=tuple(ws)))
    with pytest.raises(UnbackedDeposit):
        builder.pay(ws, signers)
    assert signers[0].halted and "does not exist" in signers[0].alarms[0]
    settlement.batches.pop()
    with pytest.raises(PayoutRefused, match="halted"):
        builder.pay(ws, signers)
    assert len(node.mempool) == 0


@pytest.mark.parametrize(
    "lie",
    ["amount", "recipient", "twice"],
)
def test_deposit_mismatches_halt(bridge, lie, wallet):
    settlement, signers, builder = bridge
    real = settlement.batches[0].deposits[0]
    bad = {
        "amount": FinalizedDeposit(real.recipient, real.amount + 1, real.txid, real.vout),
        "recipient": FinalizedDeposit(l2_key(0xB0), real.amount, real.txid, real.vout),
        "twice": real,
    }[lie]
    ws = withdrawals(wallet, 1)
    settlement.batches.append(FinalizedBatch(2, deposits=(bad,), withdrawals=tuple(ws)))
    with pytest.raises(UnbackedDeposit):
        builder.pay(ws, signers)


def test_signer_never_signs_a_second_payout_for_a_withdrawal(node, wallet, bridge, tmp_path):
    settlement, signers, builder = bridge
    ws = withdrawals(wallet, 1)
    settlement.batches.append(FinalizedBatch(2, withdrawals=tuple(ws)))
    builder.pay(ws, signers)
    # a coordinator that lost its database tries again with a different transaction
    builder.store.db.execute("DELETE FROM withdrawals")
    builder.store.db.execute("DELETE FROM payouts")
    fresh = [Signer(s.key, s.signer_set, settlement, s.chain, 3, s.state_path) for s in signers]
    for f, s in zip(fresh, signers, strict=True):
        f.reveals = s.reveals
    with pytest.raises(PayoutRefused, match="already signed"):
        builder.pay(ws, fresh, fee_rate=3)


def test_hundred_withdrawals_cost_under_45_vbytes_each(node, wallet, bridge):
    settlement, signers, builder = bridge
    ws = withdrawals(wallet, 100, amount=1_000)
    settlement.batches.append(FinalizedBatch(2, withdrawals=tuple(ws)))
    result = builder.pay(ws, signers, fee_rate=1)
    assert result is not None and result.tx.vsize / 100 <= 45
    node.mine(1)
    assert node.get_tx(result.tx.txid).height == node.height()


def test_resume_rebroadcasts_a_lost_payout_without_paying_again(node, wallet, bridge):
    settlement, signers, builder = bridge
    ws = withdrawals(wallet, 2)
    settlement.batches.append(FinalizedBatch(2, withdrawals=tuple(ws)))
    result = builder.pay(ws, signers)
    node.mempool.remove(result.tx.txid)  # the payout got lost (evicted, node restarted...)
    node.index.drop_mempool_txs([result.tx.txid])
    assert builder.pay(ws, signers) is None  # still recorded as paid
    assert builder.resume() == [result.tx.txid]
    assert result.tx.txid in node.mempool
    node.mine(1)
    assert builder.resume() == []


def test_a_halted_signer_is_reported_once_then_on_a_timer(node, wallet, bridge, caplog):
    settlement, signers, _ = bridge
    minted = FinalizedDeposit(ALICE, 5_000_000, "ee" * 32, 0)
    settlement.batches.append(FinalizedBatch(2, deposits=(minted,)))
    now = [0.0]
    refusals = RefusalLog(interval=60.0, clock=lambda: now[0])
    caplog.set_level(logging.INFO, "bitcoinzk.bridge.payout")
    for _ in range(100):  # a bridge loop cycling every 0.35 s for 35 s
        try:
            signers[0].audit()
        except PayoutRefused as e:
            refusals.report(signers, e)
        now[0] += 0.35
    records = [r for r in caplog.records if r.levelno >= logging.CRITICAL]
    assert len(records) == 2  # the halt itself, then its state once
    assert all(r.exc_info is None for r in caplog.records)  # no traceback
    now[0] += 60
    refusals.report(signers, PayoutRefused("signer halted"))
    assert len([r for r in caplog.records if r.levelno >= logging.CRITICAL]) == 3


def test_withdrawal_ids_read_back_from_their_stored_text():
    """The store, signer state and intents keep ids as text: each kind reads back as
    itself, and text that is neither kind is refused rather than guessed."""
    for wid in (BatchWithdrawalId(7, 3), ExitWithdrawalId(12)):
        assert parse_withdrawal_id(str(wid)) == wid
    assert str(BatchWithdrawalId(7, 3)) == "7:3"  # the format stores already hold
    for bad in ("7", "exit:", "x:1", "7:3:1"):
        with pytest.raises(ValueError):
            parse_withdrawal_id(bad)
