"""Sweeps close the double pay: a credited deposit leaves the depositor's reach before its
refund leaf matures, and a signer alarms on any other spend of it (issue 11, section 1)."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from bitcoinzk.bitcoin.mempool import MempoolRejection
from bitcoinzk.bitcoin.regtest import RegtestNode
from bitcoinzk.bitcoin.script import BURN_SCRIPT
from bitcoinzk.bitcoin.tx import OutPoint, Tx
from bitcoinzk.bitcoin.wallet import BitcoinWallet
from bitcoinzk.bridge.chain import NodeChain
from bitcoinzk.bridge.deposit import DepositReveal, refund_transaction
from bitcoinzk.bridge.fees import FeePolicy
from bitcoinzk.bridge.payout import (
    BatchWithdrawalId,
    FinalizedBatch,
    FinalizedDeposit,
    FinalizedWithdrawal,
    PayoutBuilder,
    PayoutError,
    PayoutRefused,
    Signer,
    UnbackedDeposit,
)
from bitcoinzk.bridge.signers import SignerKey, SignerSet
from bitcoinzk.bridge.store import BridgeStore
from bitcoinzk.bridge.sweep import SWEEP_ALARM_BLOCKS, SweepBuilder, reserves
from bitcoinzk.bridge.watcher import DepositWatcher

from .conftest import (
    RecordedSettlement,
    RecordingSink,
    deposit,
    l2_key,
    run_killed_child,
    save_signer_keys,
    signer_nodes,
)

ALICE = l2_key(0xA1)
TIMELOCK = 20


def credited_deposit(
    node: RegtestNode,
    wallet: BitcoinWallet,
    watcher: DepositWatcher,
    signer_set: SignerSet,
    amount: int,
) -> tuple[DepositReveal, SignerKey, OutPoint, FinalizedDeposit]:
    """A deposit with its own refund key, credited after 3 confirmations."""
    refund_key = SignerKey.generate()
    reveal = DepositReveal(ALICE, refund_key.pubkey[1:], TIMELOCK)
    watcher.register(reveal)
    tx = deposit(node, wallet, reveal.script_pubkey(signer_set), amount, mine=3)
    [credit] = watcher.poll()
    final = FinalizedDeposit(ALICE, credit.amount, credit.txid, credit.vout)
    return reveal, refund_key, OutPoint(tx.txid, 0), final


def test_refund_of_a_credited_deposit_fails_and_the_withdrawal_is_paid_once(
    node, wallet, watcher, signer_set, signer_keys, store, tmp_path
):
    """The attack of issue 11: deposit 1,000,000 sats, get it credited, wait out the refund
    timelock, refund it on Bitcoin and withdraw the Layer-2 balance too."""
    reveal, refund_key, op, final = credited_deposit(node, wallet, watcher, signer_set, 1_000_000)
    settlement = RecordedSettlement([FinalizedBatch(1, (final,))])
    signers = signer_nodes(signer_keys, signer_set, settlement, node, [reveal], tmp_path)
    chain = NodeChain(node)
    swept = SweepBuilder(store, signer_set, chain).sweep([op], signers)
    assert swept is not None and swept.key_path
    assert swept.tx.vout[0].script_pubkey == signer_set.main_output().script_pubkey
    node.mine(TIMELOCK)  # the sweep confirms, then the refund leaf matures
    assert node.get_coin(op) is None
    refund = refund_transaction(reveal, signer_set, op, 1_000_000, refund_key, BURN_SCRIPT, 1_000)
    with pytest.raises(MempoolRejection):
        node.send_raw_transaction(refund)
    tip = node.tip_hash()
    assert not node.submit_block(node.build_block([refund])).connected  # the kernel says no
    assert node.tip_hash() == tip

    w = FinalizedWithdrawal(BatchWithdrawalId(2, 0), 900_000, wallet.new_key().script_pubkey)
    settlement.batches.append(FinalizedBatch(2, withdrawals=(w,)))
    builder = PayoutBuilder(store, signer_set, chain)
    paid = builder.pay([w], signers)
    assert paid is not None and [i.prevout.txid for i in paid.tx.vin] == [swept.tx.txid]
    node.mine(1)
    assert builder.pay([w], signers) is None  # once
    out = node.get_coin(OutPoint(paid.tx.txid, 0))
    assert out is not None
    assert out.output.value == 900_000 - FeePolicy().withdrawal_fee(signer_set)
    assert not any(s.halted for s in signers)


def test_deposit_seen_too_close_to_its_timelock_is_never_credited(
    node, wallet, watcher, sink, signer_set, store
):
    refund_key = SignerKey.generate()
    reveal = DepositReveal(ALICE, refund_key.pubkey[1:], TIMELOCK)
    watcher.register(reveal)
    tx = deposit(node, wallet, reveal.script_pubkey(signer_set), 500_000)
    # the watcher was down: the deposit is seen with 15 confirmations, i.e. the refund is
    # valid 5 blocks later, fewer than the sweep margin of 10
    node.mine(14)
    assert watcher.poll() == []
    assert [d.status for d in store.deposits()] == ["too_late"]
    node.mine(3)
    assert watcher.poll() == [] and sink.calls == 0
    assert SweepBuilder(store, signer_set, NodeChain(node)).pending([OutPoint(tx.txid, 0)]) == []
    node.mine(2)  # the refund is the depositor's, and it works
    refund = refund_transaction(
        reveal, signer_set, OutPoint(tx.txid, 0), 500_000, refund_key, BURN_SCRIPT, 1_000
    )
    assert node.send_raw_transaction(refund) == refund.txid


def test_credited_with_exactly_the_margin_left_and_not_one_block_less(
    node, wallet, watcher, sink, signer_set
):
    """The refund of a deposit mined at height h is valid from h + timelock: crediting
    at tip t needs h + timelock - 1 - t >= sweep_margin (10 here)."""
    spks = []
    for _ in range(2):
        r = DepositReveal(ALICE, SignerKey.generate().pubkey[1:], TIMELOCK)
        watcher.register(r)
        spks.append(r.script_pubkey(signer_set))
    on_time = deposit(node, wallet, spks[0], 100_000)  # at h
    node.mine(8)  # tip h + 8 ... the watcher was down
    node.mine(1)  # tip h + 9: 20 - 1 - 9 = 10 blocks left
    [credit] = watcher.poll()
    assert credit.txid == on_time.txid
    late = deposit(node, wallet, spks[1], 100_000)
    node.mine(10)  # 9 blocks left
    assert watcher.poll() == []
    assert {txid for txid, _ in sink.credits} == {on_time.txid}
    assert late.txid not in {txid for txid, _ in sink.credits}


def test_sweep_killed_between_signing_and_broadcast_completes_after_restart(
    node, wallet, watcher, signer_set, signer_keys, store, tmp_path
):
    reveals, ops, finals = [], [], []
    for amount in (300_000, 400_000):
        reveal, _, op, final = credited_deposit(node, wallet, watcher, signer_set, amount)
        reveals.append(reveal)
        ops.append(op)
        finals.append(final)
    settlement = RecordedSettlement([FinalizedBatch(1, tuple(finals))])
    signers = signer_nodes(signer_keys, signer_set, settlement, node, reveals, tmp_path)

    class DyingChain(NodeChain):
        def broadcast(self, tx: Tx) -> str:
            raise KeyboardInterrupt("killed after persisting, before broadcasting")

    with pytest.raises(KeyboardInterrupt):
        SweepBuilder(store, signer_set, DyingChain(node)).sweep(ops, signers)
    assert len(node.mempool) == 0
    store.close()

    restarted = BridgeStore(tmp_path / "bridge.sqlite")  # from disk, as after kill -9
    sweeper = SweepBuilder(restarted, signer_set, NodeChain(node))
    assert sweeper.sweep(ops, signers) is None  # already recorded: never a second sweep
    [txid] = sweeper.resume(node.height())
    assert txid in node.mempool
    node.mine(1)
    assert all(node.get_coin(op) is None for op in ops)
    coin = node.get_coin(OutPoint(txid, 0))
    assert (
        coin is not None
        and coin.output.value
        == 700_000
        - sweeper.store.db.execute("SELECT paid FROM ledger WHERE txid=?", (txid,)).fetchone()[0]
    )
    assert sweeper.resume(node.height()) == []
    # the same deposits cannot be swept again by anyone: the signers remember
    restarted.db.execute("DELETE FROM swept")
    restarted.db.execute("DELETE FROM sweeps")
    assert sweeper.pending(ops) == []  # and they are spent on Bitcoin anyway
    restarted.close()


def test_sweep_near_its_deadline_raises_an_alarm(
    node, wallet, watcher, signer_set, signer_keys, store, tmp_path
):
    reveal, _, op, final = credited_deposit(node, wallet, watcher, signer_set, 300_000)
    settlement = RecordedSettlement([FinalizedBatch(1, (final,))])
    signers = signer_nodes(signer_keys, signer_set, settlement, node, [reveal], tmp_path)
    sweeper = SweepBuilder(store, signer_set, NodeChain(node))
    result = sweeper.sweep([op], signers)
    assert result is not None
    node.mempool.remove(result.tx.txid)  # evicted, and the node keeps mining without it
    node.index.drop_mempool_txs([result.tx.txid])
    deadline = store.db.execute("SELECT deadline FROM sweeps").fetchone()[0]
    assert sweeper.resume(deadline - SWEEP_ALARM_BLOCKS - 1) == [result.tx.txid]
    assert store.alarms() == []
    node.mempool.remove(result.tx.txid)
    node.index.drop_mempool_txs([result.tx.txid])
    sweeper.resume(deadline - SWEEP_ALARM_BLOCKS)
    assert [kind for kind, _ in store.alarms()] == ["sweep-near-deadline"]
    sweeper.resume(deadline - 1)
    assert len(store.alarms()) == 1  # once, not every cycle


def test_refund_of_a_credited_unswept_deposit_halts_the_signers(
    node, wallet, watcher, signer_set, signer_keys, store, tmp_path
):
    """The coordinator never swept it (down, or malicious) and the depositor refunded:
    the signers' audit sees a credited deposit spent by something that is not a sweep."""
    reveal, refund_key, op, final = credited_deposit(node, wallet, watcher, signer_set, 600_000)
    w = FinalizedWithdrawal(BatchWithdrawalId(2, 0), 500_000, wallet.new_key().script_pubkey)
    settlement = RecordedSettlement([FinalizedBatch(1, (final,)), FinalizedBatch(2, (), (w,))])
    signers = signer_nodes(signer_keys, signer_set, settlement, node, [reveal], tmp_path)
    node.mine(TIMELOCK)
    refund = refund_transaction(reveal, signer_set, op, 600_000, refund_key, BURN_SCRIPT, 1_000)
    node.send_raw_transaction(refund)
    node.mine(1)
    for s in signers:
        with pytest.raises(UnbackedDeposit, match="other than the bridge's sweep"):
            s.audit()
    with pytest.raises(PayoutRefused, match="halted"):  # for good, not just this round
        signers[0].audit()
    assert all(s.halted for s in signers)


def test_deposit_spent_by_a_signers_leaf_spend_that_is_no_sweep_halts_the_signers(
    node, wallet, watcher, signer_set, signer_keys, store, tmp_path
):
    """k signers (or stolen keys) move a credited deposit outside the review: the others,
    who never reviewed that transaction as a sweep, alarm."""
    reveal, _, op, final = credited_deposit(node, wallet, watcher, signer_set, 600_000)
    settlement = RecordedSettlement([FinalizedBatch(1, (final,))])
    signers = signer_nodes(signer_keys, signer_set, settlement, node, [reveal], tmp_path)
    req = SweepBuilder(store, signer_set, NodeChain(node)).build([op], key_path=False)
    req.tx.vout[0].script_pubkey = wallet.new_key().script_pubkey  # to the thieves
    leaf = signer_set.multisig_leaf()
    by_key = {
        k.pubkey: k.sign_schnorr(req.tx.sighash_taproot(0, req.spent, leaf_script=leaf.script))
        for k in signer_keys[:2]
    }
    req.tx.vin[0].witness = signer_set.multisig_witness(by_key, req.trees[0], 0)
    node.send_raw_transaction(req.tx)
    node.mine(1)
    with pytest.raises(UnbackedDeposit, match="other than the bridge's sweep"):
        signers[2].audit()


def test_signer_offline_during_a_sweep_learns_it_and_stays_calm(
    node, wallet, watcher, signer_set, signer_keys, store, tmp_path
):
    reveal, _, op, final = credited_deposit(node, wallet, watcher, signer_set, 600_000)
    settlement = RecordedSettlement([FinalizedBatch(1, (final,))])
    signers = signer_nodes(signer_keys, signer_set, settlement, node, [reveal], tmp_path)
    sweeper = SweepBuilder(store, signer_set, NodeChain(node))
    result = sweeper.sweep([op], signers[:2], observers=signers[2:])
    assert result is not None and not result.key_path  # k of n through the leaf
    node.mine(1)
    for s in signers:
        s.audit()  # no alarm: every signer reviewed this sweep
    # a restarted signer remembers it (signed.json)
    again = signer_nodes(signer_keys, signer_set, settlement, node, [reveal], tmp_path)
    again[2].audit()


@pytest.mark.parametrize("lie", ["uncredited", "extra-output", "fee", "twice"])
def test_signers_refuse_anything_but_a_sweep_of_credited_deposits(
    node, wallet, watcher, signer_set, signer_keys, store, tmp_path, lie
):
    reveal, _, op, final = credited_deposit(node, wallet, watcher, signer_set, 600_000)
    other, _, op2, _ = credited_deposit(node, wallet, watcher, signer_set, 600_000)
    settlement = RecordedSettlement([FinalizedBatch(1, (final,))])  # op2 not final yet
    signers = signer_nodes(signer_keys, signer_set, settlement, node, [reveal, other], tmp_path)
    sweeper = SweepBuilder(store, signer_set, NodeChain(node))
    req = sweeper.build([op2] if lie == "uncredited" else [op], key_path=True)
    if lie == "extra-output":
        req.tx.vout[0].value -= 10_000
        req.tx.vout.append(type(req.tx.vout[0])(10_000, wallet.new_key().script_pubkey))
    elif lie == "fee":
        req.tx.vout[0].value -= FeePolicy().deposit_fee(signer_set)
    elif lie == "twice":
        assert sweeper.sweep([op], signers) is not None
        req.tx.vout[0].value -= 1  # a different sweep of the same deposit
    with pytest.raises(PayoutRefused):
        signers[0].review_sweep(req)


def test_payouts_never_spend_a_raw_deposit(
    node, wallet, watcher, signer_set, signer_keys, store, tmp_path
):
    reveal, _, op, final = credited_deposit(node, wallet, watcher, signer_set, 600_000)
    w = FinalizedWithdrawal(BatchWithdrawalId(2, 0), 100_000, wallet.new_key().script_pubkey)
    settlement = RecordedSettlement([FinalizedBatch(1, (final,)), FinalizedBatch(2, (), (w,))])
    signers = signer_nodes(signer_keys, signer_set, settlement, node, [reveal], tmp_path)
    builder = PayoutBuilder(store, signer_set, NodeChain(node))
    assert builder.bridge_coins() == []  # nothing swept yet: no reserves to pay from
    # a coordinator that builds one anyway is refused by every signer
    req = SweepBuilder(store, signer_set, NodeChain(node)).build([op], key_path=True)
    req.tx.vout[0] = builder.net(w)
    req.withdrawals = [w]
    req.sweep = False
    with pytest.raises(PayoutRefused, match="bridge's own outputs"):
        signers[0].review_payout(req)


def test_reserves_cover_layer2_to_the_satoshi(
    node, wallet, watcher, sink, signer_set, signer_keys, store, tmp_path
):
    """Fees are charged to the users whose money moves: reserves = Layer-2 supply +
    burnt-but-unpaid withdrawals + an accounted, non-negative surplus, at every step."""
    chain = NodeChain(node)
    policy = FeePolicy()
    reveals, finals = [], []
    for amount in (250_000, 1_000_000, 77_777):
        reveal, _, _, final = credited_deposit(node, wallet, watcher, signer_set, amount)
        reveals.append(reveal)
        finals.append(final)
    settlement = RecordedSettlement([FinalizedBatch(1, tuple(finals))])
    signers = signer_nodes(signer_keys, signer_set, settlement, node, reveals, tmp_path)
    sweeper = SweepBuilder(store, signer_set, chain, policy)
    builder = PayoutBuilder(store, signer_set, chain, policy)
    burnt: list[FinalizedWithdrawal] = []

    def check() -> None:
        book = reserves(store)
        l2_supply = sum(amount for _, amount in sink.credits.values()) - sum(
            w.amount for w in burnt
        )
        unpaid = sum(w.amount for w in builder.unpaid(burnt))
        assert book.total == l2_supply + unpaid + book.surplus
        assert book.total == book.obligations + book.surplus
        assert book.surplus >= 0
        for op, value in book.outpoints:  # the book is Bitcoin's truth
            coin = node.get_coin(op)
            assert coin is not None and coin.output.value == value

    check()
    assert sweeper.sweep([OutPoint(f.txid, f.vout) for f in finals], signers) is not None
    node.mine(1)
    check()
    for batch, amounts in ((2, (100_000, 5_000, 700)), (3, (400_000,))):
        ws = tuple(
            FinalizedWithdrawal(BatchWithdrawalId(batch, i), a, wallet.new_key().script_pubkey)
            for i, a in enumerate(amounts)
        )
        settlement.batches.append(FinalizedBatch(batch, withdrawals=ws))
        burnt.extend(ws)
        check()
        result = builder.pay(list(ws), signers)
        assert result is not None
        node.mine(1)
        check()
        for w in ws:
            if builder.payable(w):
                paid = [o for o in result.tx.vout if o.script_pubkey == w.script_pubkey]
                assert [o.value for o in paid] == [w.amount - policy.withdrawal_fee(signer_set)]
    # the 700-sat withdrawal could not pay its fee: burnt on Layer-2, kept as surplus
    assert store.db.execute("SELECT charged FROM ledger WHERE kind='unpayable'").fetchall() == [
        (700,)
    ]
    fee_rows = store.db.execute("SELECT kind, charged, paid FROM ledger").fetchall()
    assert all(charged >= paid for _, charged, paid in fee_rows)


def test_sink_is_credited_the_amount_less_the_deposit_fee(node, wallet, watcher, signer_set, fee):
    sink = watcher.sink
    assert isinstance(sink, RecordingSink)
    _, _, op, final = credited_deposit(node, wallet, watcher, signer_set, 123_456)
    assert final.amount == 123_456 - fee
    assert sink.credits[(op.txid, op.vout)] == (ALICE, 123_456 - fee)


def test_sweep_kill_9_between_signing_and_broadcast_completes_after_restart(tmp_path):
    """A real kill -9 of the coordinator process after the sweep is persisted: the
    restarted coordinator rebroadcasts that very sweep; nothing lost, nothing twice."""
    node = RegtestNode(tmp_path / "node")
    wallet = BitcoinWallet.from_seed(b"\x0a" * 32, lookahead=5)
    node.mine(2, wallet.new_key().script_pubkey)
    node.mine(100)
    keys = save_signer_keys(tmp_path)
    signer_set = SignerSet.of([k.pubkey for k in keys], threshold=2)
    store = BridgeStore(tmp_path / "bridge.sqlite")
    watcher = DepositWatcher(
        node, store, RecordingSink(), signer_set, confirmations=3, sweep_margin=10
    )
    finals = [credited_deposit(node, wallet, watcher, signer_set, a)[3] for a in (200_000, 300_000)]
    (tmp_path / "finalized.json").write_text(
        json.dumps([{**asdict(f), "recipient": f.recipient.hex()} for f in finals])
    )
    store.close()
    node.close()

    run_killed_child("tests.bridge.sweep_child", str(tmp_path))

    node = RegtestNode(tmp_path / "node")
    store = BridgeStore(tmp_path / "bridge.sqlite")
    try:
        [(txid,)] = store.db.execute("SELECT txid FROM sweeps").fetchall()
        assert txid not in node.mempool and node.get_tx(txid) is None  # never broadcast
        ops = [OutPoint(f.txid, f.vout) for f in finals]
        settlement = RecordedSettlement([FinalizedBatch(1, tuple(finals))])
        reveals = [
            store.reveal_for(bytes(s)) for (s,) in store.db.execute("SELECT spk FROM reveals")
        ]
        signers = signer_nodes(
            keys, signer_set, settlement, node, [r for r in reveals if r], tmp_path
        )
        sweeper = SweepBuilder(store, signer_set, NodeChain(node))
        assert sweeper.sweep(ops, signers) is None  # recorded: no second sweep
        assert sweeper.resume(node.height()) == [txid]
        node.mine(1)
        assert all(node.get_coin(op) is None for op in ops)
        found = node.get_tx(txid)
        assert found is not None and found.height == node.height()
        for s in signers:
            s.audit()  # every signer remembers the sweep it signed before the kill
        book = reserves(store)
        assert book.unswept == 0 and book.total == book.obligations + book.surplus
        coin = node.get_coin(OutPoint(txid, 0))
        assert coin is not None and [v for _, v in book.outpoints] == [coin.output.value]
    finally:
        store.close()
        node.close()


def test_a_deposit_that_cannot_pay_its_fee_is_never_credited(
    node, wallet, watcher, sink, signer_set, store, fee
):
    reveal = DepositReveal(ALICE, SignerKey.generate().pubkey[1:], TIMELOCK)
    watcher.register(reveal)
    deposit(node, wallet, reveal.script_pubkey(signer_set), 1_000 + fee - 1, mine=3)
    assert watcher.poll() == [] and sink.calls == 0
    assert [d.status for d in store.deposits()] == ["too_small"]


def test_a_payout_costing_more_than_its_withdrawals_were_charged_is_refused(
    node, wallet, watcher, signer_set, signer_keys, store, tmp_path
):
    """Reserves in three small outputs; one withdrawal needing all three would cost more
    than its fee covers: the coordinator refuses rather than pay the rest from reserves."""
    chain = NodeChain(node)
    reveals, finals = [], []
    settlement = RecordedSettlement()
    signers: list[Signer] = []
    for n in range(3):
        reveal, _, op, final = credited_deposit(node, wallet, watcher, signer_set, 100_000)
        reveals.append(reveal)
        finals.append(final)
        settlement.batches.append(FinalizedBatch(n + 1, (final,)))
        signers = signer_nodes(signer_keys, signer_set, settlement, node, reveals, tmp_path)
        assert SweepBuilder(store, signer_set, chain).sweep([op], signers) is not None
        node.mine(1)
    builder = PayoutBuilder(store, signer_set, chain)
    assert len(builder.bridge_coins()) == 3
    w = FinalizedWithdrawal(BatchWithdrawalId(9, 0), 250_000, wallet.new_key().script_pubkey)
    settlement.batches.append(FinalizedBatch(9, withdrawals=(w,)))
    with pytest.raises(PayoutError, match="more than the"):
        builder.pay([w], signers[:2], fee_rate=4)
    assert builder.unpaid([w]) == [w] and len(node.mempool) == 0
    paid = builder.pay([w], signers)  # key path at the policy's rate fits the budget
    assert paid is not None and len(paid.tx.vin) == 3
