"""Attacks on the bridge's money paths as they landed: a coordinator that lies to the
signers, signing rounds cut short (a lagging signer, a kill -9 at each step of a sweep or
payout), reorgs around crediting and around the bridge's own transactions, the
depositor racing the sweep, and fee-policy boundaries.  Each test performs the attack
on the embedded regtest chain (libbitcoinkernel) with real signers."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from bitcoinzk.bitcoin.mempool import MempoolRejection
from bitcoinzk.bitcoin.policy import dust_threshold
from bitcoinzk.bitcoin.regtest import RegtestNode
from bitcoinzk.bitcoin.script import BURN_SCRIPT, TaprootOutput
from bitcoinzk.bitcoin.tx import OutPoint, Tx, TxIn, TxOut
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
    PayoutRefused,
    PayoutRequest,
    Signer,
    UnbackedDeposit,
    sign,
)
from bitcoinzk.bridge.signers import SignerKey, SignerSet
from bitcoinzk.bridge.store import BridgeStore
from bitcoinzk.bridge.sweep import SweepBuilder, reserves
from bitcoinzk.bridge.watcher import MIN_DEPOSIT, DepositWatcher, FeeRateChanged

from .conftest import (
    SWEEP_MARGIN,
    RecordedSettlement,
    RecordingSink,
    deposit,
    l2_key,
    make_signers,
    reveal_for,
    run_killed_child,
    save_signer_keys,
    signer_nodes,
)
from .cycle_child import load_batches
from .test_payout import withdrawals
from .test_sweep import ALICE, TIMELOCK, credited_deposit


def paid_to(node: RegtestNode, spk: bytes, since: int) -> int:
    """How many confirmed outputs from height `since` on pay `spk`."""
    n = 0
    for h in range(since, node.height() + 1):
        for tx in node.get_block(node.block_hash(h)).txs:
            n += sum(1 for o in tx.vout if o.script_pubkey == spk)
    return n


# --- the coordinator lies ---------------------------------------------------------------


def test_a_withdrawal_listed_twice_in_one_request_is_not_paid_twice(
    node,
    wallet,
    bridge,
):
    """Two copies of one withdrawal, each matched to its own output, passed every
    per-withdrawal check and the fee bound (charged twice): a double payout."""
    settlement, signers, builder = bridge
    [w] = withdrawals(wallet, 1, amount=50_000)
    settlement.batches.append(FinalizedBatch(2, withdrawals=(w,)))
    req = builder.build([w, w], 2.0, key_path=True)
    with pytest.raises(PayoutRefused, match="listed twice"):
        sign(builder.signer_set, req, signers)
    start = node.height() + 1
    result = builder.pay([w, w], signers)  # an honest builder pays it once
    assert result is not None and [x.id for x in result.paid] == [w.id]
    node.mine(1)
    assert paid_to(node, w.script_pubkey, start) == 1


def test_a_payout_round_cut_short_by_a_lagging_signer_is_finished_not_frozen(
    node,
    wallet,
    bridge,
):
    """Signers 0 and 1 reviewed (and bound themselves to) payout A; signer 2, whose view
    of the settlement layer lags, refused it.  Meanwhile another withdrawal is final.
    Before: the coordinator built payout B for both, signers 0 and 1 refused it
    ("already signed in A") on every later cycle: the withdrawals froze for good."""
    settlement, signers, builder = bridge
    w1, w2 = withdrawals(wallet, 2, amount=40_000)
    signers[2].settlement = RecordedSettlement(list(settlement.batches))  # lags
    settlement.batches.append(FinalizedBatch(2, withdrawals=(w1,)))
    with pytest.raises(PayoutRefused, match="not finalized"):
        builder.pay([w1], signers)
    settlement.batches.append(FinalizedBatch(3, withdrawals=(w2,)))
    signers[2].settlement = settlement  # caught up
    start = node.height() + 1
    first = builder.pay([w1, w2], signers)
    assert first is not None and [w.id for w in first.paid] == [w1.id]  # A, as it was
    node.mine(1)  # its change is the next payout's reserve
    second = builder.pay([w1, w2], signers)
    assert second is not None and [w.id for w in second.paid] == [w2.id]
    assert builder.pay([w1, w2], signers) is None
    node.mine(1)
    assert paid_to(node, w1.script_pubkey, start) == 1
    assert paid_to(node, w2.script_pubkey, start) == 1


def test_a_sweep_round_cut_short_by_a_lagging_signer_is_finished_not_frozen(
    node, wallet, watcher, signer_set, signer_keys, store, tmp_path
):
    """The same for a sweep: a deposit bound to an unbroadcast sweep by two signers was
    refused in every later sweep, stayed on its refund leaf and matured."""
    r1, _, op1, f1 = credited_deposit(node, wallet, watcher, signer_set, 300_000)
    r2, _, op2, f2 = credited_deposit(node, wallet, watcher, signer_set, 400_000)
    settlement = RecordedSettlement([FinalizedBatch(1, (f1,))])
    signers = signer_nodes(signer_keys, signer_set, settlement, node, [r1, r2], tmp_path)
    signers[2].settlement = RecordedSettlement([])  # lags
    sweeper = SweepBuilder(store, signer_set, NodeChain(node))
    with pytest.raises(PayoutRefused):
        sweeper.sweep([op1], signers)
    settlement.batches.append(FinalizedBatch(2, (f2,)))
    signers[2].settlement = settlement
    first = sweeper.sweep([op1, op2], signers)
    assert first is not None and first.deposits == [op1]
    second = sweeper.sweep([op1, op2], signers)
    assert second is not None and second.deposits == [op2]
    node.mine(1)
    assert node.get_coin(op1) is None and node.get_coin(op2) is None
    for s in signers:
        s.audit()  # calm: both deposits went to sweeps they reviewed
    book = reserves(store)
    assert book.unswept == 0 and book.total == book.obligations + book.surplus


# --- kill -9 at each step of the bridge cycle -------------------------------------------


def setup_cycle(root: Path) -> tuple[list[OutPoint], list[FinalizedWithdrawal]]:
    """Two credited, finalized deposits; for the payout runs, a first deposit already
    swept and confirmed so that the reserves can pay two withdrawals."""
    node = RegtestNode(root / "node")
    wallet = BitcoinWallet.from_seed(b"\x0b" * 32, lookahead=5)
    node.mine(2, wallet.new_key().script_pubkey)
    node.mine(100)
    keys = save_signer_keys(root)
    signer_set = SignerSet.of([k.pubkey for k in keys], threshold=2)
    store = BridgeStore(root / "bridge.sqlite")
    watcher = DepositWatcher(node, store, RecordingSink(), signer_set, 3, sweep_margin=10)
    finals = [credited_deposit(node, wallet, watcher, signer_set, a)[3] for a in (200_000, 300_000)]
    ws = [
        FinalizedWithdrawal(BatchWithdrawalId(2, i), 50_000, wallet.new_key().script_pubkey)
        for i in range(2)
    ]
    (root / "finalized.json").write_text(
        json.dumps(
            {
                "deposits": [{**asdict(f), "recipient": f.recipient.hex()} for f in finals[:1]],
                "withdrawals": [
                    {"id": str(w.id), "amount": w.amount, "spk": w.script_pubkey.hex()} for w in ws
                ],
                "later": [{**asdict(f), "recipient": f.recipient.hex()} for f in finals[1:]],
            }
        )
    )
    store.close()
    node.close()
    return [OutPoint(f.txid, f.vout) for f in finals], ws


def run_child(root: Path, kind: str, step: str) -> None:
    run_killed_child("tests.bridge.cycle_child", str(root), kind, step)


@pytest.mark.parametrize(
    ("kind", "step"),
    [("sweep", "signed"), ("sweep", "broadcast"), ("payout", "signed"),
     ("payout", "persisted"), ("payout", "broadcast")],
)  # fmt: skip
def test_kill_9_at_each_step_of_the_bridge_cycle_loses_nothing_and_pays_nothing_twice(
    tmp_path, kind, step
):
    """kill -9 of the coordinator after the signatures are made (nothing recorded), after
    the transaction is recorded (not broadcast), after it is broadcast; meanwhile the
    settlement layer moves on (another deposit final).  The restarted coordinator
    finishes the cut round as the same transaction, then the rest: every deposit swept
    once, every withdrawal paid once, signers calm, the book balanced."""
    ops, ws = setup_cycle(tmp_path)
    if kind == "payout":  # the reserves: the first deposit swept and confirmed
        node = RegtestNode(tmp_path / "node")
        store = BridgeStore(tmp_path / "bridge.sqlite")
        batches = load_batches(tmp_path)
        signer_set, signers = make_signers(tmp_path, node, store, RecordedSettlement(batches))
        assert SweepBuilder(store, signer_set, NodeChain(node)).sweep(ops[:1], signers)
        node.mine(1)
        store.close()
        node.close()
    start = 103
    run_child(tmp_path, kind, step)

    node = RegtestNode(tmp_path / "node")
    store = BridgeStore(tmp_path / "bridge.sqlite")
    try:
        later = json.loads((tmp_path / "finalized.json").read_text())["later"]
        batches = load_batches(tmp_path)
        settlement = RecordedSettlement(batches)
        signer_set, signers = make_signers(tmp_path, node, store, settlement)
        settlement.batches.append(
            FinalizedBatch(
                3,
                tuple(
                    FinalizedDeposit(bytes.fromhex(d["recipient"]), d["amount"], d["txid"], 0)
                    for d in later
                ),
            )
        )
        chain = NodeChain(node)
        sweeper = SweepBuilder(store, signer_set, chain)
        builder = PayoutBuilder(store, signer_set, chain)
        for _ in range(3):  # bridge cycles, as the devnet runs them
            sweeper.resume(node.height())
            builder.resume()
            sweeper.sweep(ops, signers)
            node.mine(1)
            builder.pay(ws, signers)
            node.mine(1)
        assert all(node.get_coin(op) is None for op in ops)  # every deposit swept
        assert store.db.execute("SELECT COUNT(*) FROM swept").fetchone()[0] == 2
        for w in ws:
            assert paid_to(node, w.script_pubkey, start) == 1
        for s in signers:
            s.audit()
        book = reserves(store)
        assert book.unswept == 0 and book.total == book.obligations + book.surplus
        for op, value in book.outpoints:
            coin = node.get_coin(op)
            assert coin is not None and coin.output.value == value
    finally:
        store.close()
        node.close()


# --- the depositor races the sweep ------------------------------------------------------


def test_refund_at_maturity_against_a_sweep_in_the_mempool(
    node, wallet, watcher, signer_set, signer_keys, store, tmp_path
):
    """The sweep was late: it sits in the mempool when the refund matures.  Relayed, the
    refund is refused (a conflict; no replacement); mined by the depositor's own miner
    instead of the sweep, it wins the race, and every signer halts at its next audit:
    the Layer-2 balance is unbacked and nothing more is signed (loud, not silent).  The
    sweep margin exists so that this race never starts."""
    reveal, refund_key, op, final = credited_deposit(node, wallet, watcher, signer_set, 600_000)
    settlement = RecordedSettlement([FinalizedBatch(1, (final,))])
    signers = signer_nodes(signer_keys, signer_set, settlement, node, [reveal], tmp_path)
    sweeper = SweepBuilder(store, signer_set, NodeChain(node))
    node.mine(TIMELOCK - 3)  # the refund is valid in the next block, at maturity exactly
    result = sweeper.sweep([op], signers)
    assert result is not None and result.tx.txid in node.mempool
    refund = refund_transaction(reveal, signer_set, op, 600_000, refund_key, BURN_SCRIPT, 5_000)
    with pytest.raises(MempoolRejection, match="conflict"):
        node.send_raw_transaction(refund)
    # the depositor mines the refund itself
    block = node.build_block([refund], parent=node.tip_hash(), extra=b"depositor")
    node.submit_block(block)
    assert node.get_coin(op) is None and node.get_tx(refund.txid) is not None
    assert sweeper.resume(node.height()) == []  # the sweep can never confirm now
    for s in signers:
        with pytest.raises(UnbackedDeposit, match="other than the bridge's sweep"):
            s.audit()


def test_no_new_credit_while_a_credited_deposit_waits_past_half_its_margin(
    node, wallet, watcher, sink, signer_set, signer_keys, store, tmp_path
):
    """Settlement stalls: a credited deposit is still unswept with less than half the
    sweep margin left.  A new deposit is held (`seen`), not credited into a bridge that
    is failing to take custody; once the stalled deposit is swept, it is credited."""
    reveal, _, op, final = credited_deposit(node, wallet, watcher, signer_set, 600_000)
    node.mine(TIMELOCK - 4 - SWEEP_MARGIN // 2)  # < SWEEP_MARGIN // 2 left: stalled
    other = DepositReveal(l2_key(0xB2), SignerKey.generate().pubkey[1:], TIMELOCK)
    watcher.register(other)
    tx = deposit(node, wallet, other.script_pubkey(signer_set), 300_000, mine=3)
    assert watcher.poll() == []
    assert [d.status for d in store.deposits() if d.outpoint.txid == tx.txid] == ["seen"]
    settlement = RecordedSettlement([FinalizedBatch(1, (final,))])
    signers = signer_nodes(signer_keys, signer_set, settlement, node, [reveal], tmp_path)
    assert SweepBuilder(store, signer_set, NodeChain(node)).sweep([op], signers) is not None
    [credit] = watcher.poll()
    assert credit.txid == tx.txid and len(sink.credits) == 2


# --- reorgs around a credited deposit ---------------------------------------------------


def test_credited_deposit_double_spent_in_a_deep_reorg_is_not_credited_again(
    node, wallet, watcher, sink, signer_set
):
    """A reorg deeper than the crediting depth replaces the credited deposit with a
    double-spend paying the same address another amount.  Before: the double-spend was
    a new outpoint and was credited too (two credits, one deposit on Bitcoin).  Now: an
    alarm, and no deposit is credited while a credited one is off the chain."""
    reveal = reveal_for(wallet, ALICE)
    watcher.register(reveal)
    spk = reveal.script_pubkey(signer_set)
    fork = node.tip_hash()
    double = wallet.create_transaction([TxOut(90_000, spk)], 2, node)  # same coins as tx
    tx = deposit(node, wallet, spk, 70_000, mine=3)
    assert {i.prevout for i in tx.vin} & {i.prevout for i in double.vin}
    assert len(watcher.poll()) == 1
    parent = fork
    for i in range(5):
        b = node.build_block([double] if i == 0 else [], parent=parent, extra=b"ds" + bytes([i]))
        node.submit_block(b)
        parent = b.hash
    assert node.get_tx(double.txid) is not None and node.get_tx(tx.txid) is None
    assert watcher.poll() == []
    assert ("credited-deposit-reorged", f"{tx.txid}:0") in watcher.store.alarms()
    assert list(sink.credits) == [(tx.txid, 0)]
    [row] = [d for d in watcher.store.deposits() if d.outpoint.txid == double.txid]
    assert row.status == "seen"


def test_credited_deposit_mined_again_at_another_height_is_tracked_there(
    node, wallet, watcher, sink, signer_set
):
    """The credited deposit comes back in the new branch, one block higher: credited
    once, its row follows it (height for the sweep deadline, block for the next reorg),
    and crediting resumes."""
    reveal = reveal_for(wallet, ALICE)
    watcher.register(reveal)
    spk = reveal.script_pubkey(signer_set)
    fork = node.tip_hash()
    tx = deposit(node, wallet, spk, 70_000, mine=3)
    assert len(watcher.poll()) == 1
    parent = fork
    hashes = []
    for i in range(5):
        b = node.build_block([tx] if i == 1 else [], parent=parent, extra=b"rm" + bytes([i]))
        node.submit_block(b)
        parent = b.hash
        hashes.append(b.hash)
    watcher.poll()
    [row] = [d for d in watcher.store.deposits() if d.outpoint.txid == tx.txid]
    assert row.status == "credited" and row.block_hash == hashes[1]
    assert row.height == node.get_tx(tx.txid).height
    later = reveal_for(wallet, l2_key(0xB3))
    watcher.register(later)
    other = deposit(node, wallet, later.script_pubkey(signer_set), 50_000, mine=3)
    assert [c.txid for c in watcher.poll()] == [other.txid]
    assert sink.calls == 2


# --- fee policy boundaries --------------------------------------------------------------


def test_deposit_and_withdrawal_exactly_at_their_fee_boundaries(
    node, wallet, watcher, sink, signer_set, signer_keys, store, tmp_path, fee
):
    """A deposit of exactly MIN_DEPOSIT + deposit_fee is credited MIN_DEPOSIT and swept
    within its fee; a withdrawal of exactly withdrawal_fee + dust is paid dust (the kernel
    takes it), one sat less is `unpayable` and kept as surplus; the book balances."""
    reveal = DepositReveal(ALICE, SignerKey.generate().pubkey[1:], TIMELOCK)
    big = DepositReveal(ALICE, SignerKey.generate().pubkey[1:], TIMELOCK)
    watcher.register(reveal)
    watcher.register(big)
    small_tx = deposit(node, wallet, reveal.script_pubkey(signer_set), MIN_DEPOSIT + fee, mine=0)
    deposit(node, wallet, big.script_pubkey(signer_set), 100_000, mine=3)
    credits = {c.txid: c for c in watcher.poll()}
    assert credits[small_tx.txid].amount == MIN_DEPOSIT
    finals = tuple(FinalizedDeposit(ALICE, c.amount, c.txid, c.vout) for c in credits.values())
    wfee = FeePolicy().withdrawal_fee(signer_set)
    spk = wallet.new_key().script_pubkey
    dust = dust_threshold(TxOut(0, spk))
    edge = FinalizedWithdrawal(BatchWithdrawalId(2, 0), wfee + dust, spk)
    below = FinalizedWithdrawal(
        BatchWithdrawalId(2, 1), wfee + dust - 1, wallet.new_key().script_pubkey
    )
    settlement = RecordedSettlement(
        [FinalizedBatch(1, finals), FinalizedBatch(2, (), (edge, below))]
    )
    signers = signer_nodes(signer_keys, signer_set, settlement, node, [reveal, big], tmp_path)
    ops = [OutPoint(c.txid, c.vout) for c in credits.values()]
    swept = SweepBuilder(store, signer_set, NodeChain(node)).sweep(ops, signers)
    assert swept is not None
    node.mine(1)
    result = PayoutBuilder(store, signer_set, NodeChain(node)).pay([edge, below], signers)
    assert result is not None and [w.id for w in result.paid] == [edge.id]
    node.mine(1)
    assert node.get_coin(OutPoint(result.tx.txid, 0)).output.value == dust
    assert store.db.execute("SELECT payout_txid FROM withdrawals WHERE id='2:1'").fetchone() == (
        "unpayable",
    )
    book = reserves(store)
    assert book.total == book.obligations + book.surplus and book.surplus >= 0


def test_a_fee_rate_changed_between_restarts_is_refused_at_start(
    node, wallet, watcher, sink, signer_set, signer_keys, store, tmp_path
):
    """The signers price every credited deposit's fee at the current rate: after a
    restart at another rate each one halts on the deposits credited before (shown
    here), so the coordinator refuses to start at another rate than its store's."""
    _, _, _, final = credited_deposit(node, wallet, watcher, signer_set, 200_000)
    settlement = RecordedSettlement([FinalizedBatch(1, (final,))])
    [signer] = signer_nodes(signer_keys[:1], signer_set, settlement, node, [], tmp_path)
    signer.fees = FeePolicy(3.0)
    with pytest.raises(UnbackedDeposit):
        signer.audit()
    with pytest.raises(FeeRateChanged, match="refusing to start"):
        DepositWatcher(node, store, sink, signer_set, 3, fees=FeePolicy(3.0))
    DepositWatcher(node, store, sink, signer_set, 3, sweep_margin=SWEEP_MARGIN)  # same rate


@pytest.mark.parametrize(
    "lie", ["overpays-listed", "lookalike-change", "split-change", "sweep-of-change"]
)
def test_signers_refuse_a_coordinator_that_lies_about_a_payout(
    node,
    wallet,
    bridge,
    lie,
):
    """The withdrawals listed vs the outputs paid, a change output to a lookalike of the
    bridge's script (same internal key, no k-of-n leaf: the signers' script path would
    be gone), change split in two, and a "sweep" of a payout's change (reserves moved
    as if they were deposits): every signer refuses, none halts."""
    settlement, signers, builder = bridge
    [w] = withdrawals(wallet, 1, amount=50_000)
    settlement.batches.append(FinalizedBatch(2, withdrawals=(w,)))
    req = builder.build([w], 2.0, key_path=True)
    change = req.tx.vout[-1]
    main = builder.signer_set.main_output()
    if lie == "overpays-listed":
        req.tx.vout[0].value += 5_000
        change.value -= 5_000
    elif lie == "lookalike-change":
        change.script_pubkey = TaprootOutput(builder.signer_set.aggregate_key, ()).script_pubkey
    elif lie == "split-change":
        change.value //= 2
        req.tx.vout.append(TxOut(change.value, main.script_pubkey))
    else:
        [coin] = builder.bridge_coins()
        tx = Tx(2, [TxIn(coin.outpoint)], [TxOut(coin.output.value - 500, main.script_pubkey)])
        req = PayoutRequest(tx, [coin.output], [main], [], None, sweep=True)
    for s in signers:
        with pytest.raises(PayoutRefused):
            s.review(req)
        assert not s.halted


def test_a_reorg_that_drops_a_confirmed_sweep_and_payout_pays_nothing_twice(
    node,
    wallet,
    bridge,
    store,
    signer_set,
):
    """The sweep and the payout that spends its output are both confirmed, then a
    longer branch without them wins.  The coordinator builds no second payout (the
    withdrawal is recorded), rebroadcasts the very same two transactions (no conflict
    with anything), and after they confirm again each withdrawal is paid once."""
    settlement, signers, builder = bridge
    ws = withdrawals(wallet, 2, amount=60_000)
    settlement.batches.append(FinalizedBatch(2, withdrawals=tuple(ws)))
    [(sweep_txid,)] = store.db.execute("SELECT txid FROM sweeps").fetchall()
    sweep_height = node.get_tx(sweep_txid).height
    start = sweep_height
    result = builder.pay(ws, signers)
    assert result is not None
    node.mine(1)
    parent = node.block_hash(sweep_height - 1)
    for i in range(3):
        b = node.build_block([], parent=parent, extra=b"drop" + bytes([i]))
        node.submit_block(b)
        parent = b.hash
    assert node.tip_hash() == parent
    for txid in (sweep_txid, result.tx.txid):
        found = node.get_tx(txid)
        assert found is None or found.block_hash is None  # unconfirmed now
    assert builder.pay(ws, signers) is None  # recorded: never a second payout
    sweeper = SweepBuilder(store, signer_set, NodeChain(node))
    sweeper.resume(node.height())
    builder.resume()
    node.mine(1)
    assert node.get_tx(sweep_txid).block_hash is not None
    assert node.get_tx(result.tx.txid).block_hash is not None
    for w in ws:
        assert paid_to(node, w.script_pubkey, start) == 1
    for s in signers:
        s.audit()
    book = reserves(store)
    assert book.total == book.obligations + book.surplus


def test_a_signer_whose_bitcoin_view_lags_refuses_for_now_and_signs_once_caught_up(
    node, wallet, watcher, signer_set, signer_keys, store, tmp_path
):
    """Signer 2's own node is two blocks behind: a finalized deposit has 1 of its 3
    confirmations there.  Before: signer 2 halted for good (a legitimate deposit, a
    freeze until an operator steps in).  Now: it refuses this round, and signs once its
    node has the blocks."""
    reveal, _, op, final = credited_deposit(node, wallet, watcher, signer_set, 300_000)
    behind = RegtestNode(tmp_path / "behind")
    try:
        for h in range(1, node.height() - 1):
            behind.submit_block(node.get_block(node.block_hash(h)))
        settlement = RecordedSettlement([FinalizedBatch(1, (final,))])
        signers = signer_nodes(signer_keys, signer_set, settlement, node, [reveal], tmp_path)
        signers[2].chain = NodeChain(behind)
        sweeper = SweepBuilder(store, signer_set, NodeChain(node))
        with pytest.raises(PayoutRefused, match="not yet"):
            sweeper.sweep([op], signers)
        assert not signers[2].halted
        for h in range(node.height() - 1, node.height() + 1):
            behind.submit_block(node.get_block(node.block_hash(h)))
        result = sweeper.sweep([op], signers)
        assert result is not None and result.key_path
    finally:
        behind.close()


def test_a_withdrawal_the_reserves_cannot_pay_within_its_fee_does_not_freeze_the_others(
    node, wallet, watcher, signer_set, signer_keys, store, tmp_path
):
    """Reserves in six small sweep outputs; a whale's withdrawal needs all six inputs,
    more than its fee covers.  Before: the one payout for every unpaid withdrawal was
    refused on every cycle, freezing everyone's.  Now the whale waits; the others are
    paid."""
    chain = NodeChain(node)
    reveals: list[DepositReveal] = []
    settlement = RecordedSettlement()
    signers: list[Signer] = []
    for n in range(6):
        reveal, _, op, final = credited_deposit(node, wallet, watcher, signer_set, 60_000)
        reveals.append(reveal)
        settlement.batches.append(FinalizedBatch(n + 1, (final,)))
        signers = signer_nodes(signer_keys, signer_set, settlement, node, reveals, tmp_path)
        assert SweepBuilder(store, signer_set, chain).sweep([op], signers) is not None
        node.mine(1)
    builder = PayoutBuilder(store, signer_set, chain)
    whale = FinalizedWithdrawal(BatchWithdrawalId(9, 0), 330_000, wallet.new_key().script_pubkey)
    small = FinalizedWithdrawal(BatchWithdrawalId(9, 1), 10_000, wallet.new_key().script_pubkey)
    settlement.batches.append(FinalizedBatch(9, withdrawals=(whale, small)))
    result = builder.pay([whale, small], signers[:2])
    assert result is not None and [w.id for w in result.paid] == [small.id]
    assert result.skipped == [whale.id]
    node.mine(1)
    assert builder.unpaid([whale, small]) == [whale]


def test_the_credit_hold_ends_with_an_alarm_once_the_stalled_deposit_is_past_its_deadline(
    node, wallet, watcher, sink, signer_set, store
):
    """A credited deposit that never reaches a final batch (Layer-2 dropped it) is never
    swept: the hold must not freeze every later deposit for good.  Past its refund
    maturity the race is over: an alarm, and crediting resumes."""
    credited_deposit(node, wallet, watcher, signer_set, 600_000)
    node.mine(TIMELOCK)
    other = DepositReveal(l2_key(0xB4), SignerKey.generate().pubkey[1:], TIMELOCK)
    watcher.register(other)
    tx = deposit(node, wallet, other.script_pubkey(signer_set), 300_000, mine=3)
    assert [c.txid for c in watcher.poll()] == [tx.txid]
    assert [k for k, _ in store.alarms()] == ["unswept-past-deadline"]
    watcher.poll()
    assert len(store.alarms()) == 1  # once
