"""The chaos benchmark's accounting and process checks, on synthetic chains and real
processes: each check must be able to fail, so each attack is fed to it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from bitcoinzk.bench.chaos import L2Facts, alive, audit, process_tree, reap_orphans, walk_bridge
from bitcoinzk.bitcoin.tx import OutPoint, Tx, TxIn, TxOut

FUNDER = b"\x51\x20" + b"\x01" * 32
DEPOSIT = b"\x51\x20" + b"\x02" * 32
CUSTODY = b"\x51\x20" + b"\x03" * 32
PAYEE = b"\x51\x20" + b"\x04" * 32
THIEF = b"\x51\x20" + b"\x05" * 32


def coinbase(value: int, spk: bytes, tag: int) -> Tx:
    return Tx(2, [TxIn(OutPoint("00" * 32, 0xFFFFFFFF), bytes([1, tag]))], [TxOut(value, spk)])


def spend(prev: Tx, vout: int, *outs: tuple[int, bytes]) -> Tx:
    return Tx(2, [TxIn(OutPoint(prev.txid, vout))], [TxOut(v, s) for v, s in outs])


class Chain:
    """Fund -> deposit 1,000,000 -> payout of a 300,000 withdrawal, its fee of 1,000
    charged to the withdrawer (299,000 paid): reserves cover Layer-2 exactly."""

    def __init__(self) -> None:
        self.fund = coinbase(10_000_000, FUNDER, 1)
        self.deposit = spend(self.fund, 0, (1_000_000, DEPOSIT), (8_999_000, FUNDER))
        self.payout = spend(self.deposit, 0, (299_000, PAYEE), (700_000, CUSTODY))
        self.txs = [self.fund, self.deposit, self.payout]
        self.credits = [(f"{self.deposit.txid}:0", 1_000_000)]
        self.withdrawals = [(PAYEE, 300_000)]
        self.l2_total = 700_000

    def run(self, receipts: dict[str, str | None] | None = None) -> dict[str, object]:
        flows = walk_bridge(self.txs, {DEPOSIT, CUSTODY}, {PAYEE})
        reserves = sum(flows.unspent.values())
        facts = L2Facts(self.credits, self.withdrawals, self.l2_total, receipts or {})
        inflow = {k: v for k, v in flows.inflow.items() if k.endswith(":0")}
        return audit(flows, reserves, facts, inflow).to_json()


def test_an_honest_history_reconciles_to_the_sat():
    result = Chain().run({"0x01": "included"})
    assert result["reconciled"] is True
    assert result["surplus_sats"] == 0 and result["reserves_sats"] == 700_000
    assert result["btc_fees_sats"] == 1_000 and result["paid_sats"] == 299_000
    assert result["double_payouts"] == result["double_credits"] == result["acked_lost"] == 0


def test_a_double_payout_is_counted():
    chain = Chain()
    chain.txs.append(spend(chain.payout, 1, (299_000, PAYEE), (400_000, CUSTODY)))
    result = chain.run()
    assert result["double_payouts"] == 1
    assert result["overpaid_sats"] == 2 * 299_000 - 300_000
    assert result["reconciled"] is False


def test_a_double_credit_is_counted():
    chain = Chain()
    chain.credits.append(chain.credits[0])
    chain.l2_total += 1_000_000
    result = chain.run()
    assert result["double_credits"] == 1
    assert result["reconciled"] is False


def test_a_refund_of_a_credited_deposit_is_a_leak():
    """Issue 11's double pay: the depositor takes the deposit back through the refund
    leaf while Layer-2 keeps the credit."""
    chain = Chain()
    chain.txs[-1] = spend(chain.deposit, 0, (999_000, THIEF))
    chain.withdrawals = []
    chain.l2_total = 1_000_000
    result = chain.run()
    assert result["leaked_sats"] == 999_000
    assert result["reconciled"] is False


def test_payout_fees_taken_from_reserves_do_not_reconcile():
    """Today's fee policy: the withdrawal is paid in full and the fee comes out of
    the reserves, which then fall short of Layer-2 balances by the fee."""
    chain = Chain()
    chain.txs[-1] = spend(chain.deposit, 0, (300_000, PAYEE), (699_000, CUSTODY))
    result = chain.run()
    assert result["surplus_sats"] == -1_000
    assert result["btc_conserved"] is True and result["reconciled"] is False


def test_an_unpaid_withdrawal_is_owed_and_an_unknown_receipt_is_lost():
    chain = Chain()
    chain.txs = chain.txs[:2]
    result = chain.run({"0x01": None, "0x02": "included", "0x03": "failed"})
    assert result["unpaid_withdrawals"] == 1 and result["owed_sats"] == 300_000
    assert result["surplus_sats"] == 0 and result["reconciled"] is True
    assert result["acked_lost"] == 1 and result["acked_failed"] == 1


def test_an_unbacked_credit_is_counted():
    chain = Chain()
    chain.credits.append(("ab" * 32 + ":0", 50_000))
    chain.l2_total += 50_000
    result = chain.run()
    assert result["unbacked_credits"] == 1 and result["reconciled"] is False


def test_orphans_of_a_killed_parent_are_found_and_reaped():
    # A parent that starts a child and is then killed with -9: the child lives on.
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time;"
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
            "time.sleep(60)",
        ],
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 10
        while not (tree := process_tree(parent.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(tree) == 1
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        left = reap_orphans(tree, grace=0.5)
        assert [p.pid for p in left] == [tree[0].pid]
        deadline = time.monotonic() + 5
        while alive(tree) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(tree)
    finally:
        if parent.poll() is None:
            parent.kill()


def test_deposit_hash_is_the_layer2_hash_of_the_deposit():
    from bitcoinzk.bench.chaos import deposit_hash
    from bitcoinzk.crypto.eddsa import PrivateKey
    from bitcoinzk.spec.types import Deposit

    op = Deposit(0, PrivateKey(b"\x07" * 32).public_key(), 5_000, bytes(range(32)), 3)
    assert deposit_hash(bytes(range(32)).hex(), 3) == "0x" + op.tx_hash().hex()
