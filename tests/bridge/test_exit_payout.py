"""Exit claims (exodus mode) are paid like withdrawals: each once, exactly its amount.

The settlement side here is the recorded double every bridge test uses; the real
contract's `ExitClaimed` events feed the same signers in tests/bridge/test_exit_silver.py
and tests/test_exodus_e2e.py.
"""

from __future__ import annotations

import pytest

from bitcoinzk.bitcoin.tx import OutPoint
from bitcoinzk.bridge.chain import NodeChain
from bitcoinzk.bridge.fees import FeePolicy
from bitcoinzk.bridge.payout import (
    BatchWithdrawalId,
    ExitWithdrawalId,
    FinalizedBatch,
    FinalizedWithdrawal,
    PayoutBuilder,
    PayoutRefused,
    sign,
)
from bitcoinzk.bridge.silver import record_script_pubkey
from bitcoinzk.bridge.store import BridgeStore

from .conftest import signer_nodes


def exit_claim(wallet, account: int, amount: int) -> FinalizedWithdrawal:
    return FinalizedWithdrawal(ExitWithdrawalId(account), amount, wallet.new_key().script_pubkey)


def paid(node, txid: str, vout: int) -> int:
    coin = node.get_coin(OutPoint(txid, vout))
    assert coin is not None
    return int(coin.output.value)


def test_exit_claim_is_paid_its_amount_once_across_rereads_and_restarts(
    node, wallet, bridge, signer_set, signer_keys, tmp_path
):
    settlement, signers, builder = bridge
    fee = FeePolicy().withdrawal_fee(signer_set)
    claims = [exit_claim(wallet, 3, 400_000), exit_claim(wallet, 7, 250_000)]
    # the reader sees the same claim twice (events read again, a claim re-mined after a
    # reorg): it is one withdrawal id, owed once
    settlement.exits = [*claims, claims[0]]
    owed = settlement.finalized_exits()
    result = builder.pay(owed, signers, fee_rate=2)
    assert result is not None and {str(w.id) for w in result.paid} == {"exit:3", "exit:7"}
    node.mine(1)
    for n, claim in enumerate(result.paid):
        assert paid(node, result.tx.txid, n) == claim.amount - fee
    assert builder.pay(settlement.finalized_exits(), signers) is None
    # a restarted coordinator and restarted signers (their signed-request logs) pay nothing
    builder.store.close()
    restarted = PayoutBuilder(BridgeStore(tmp_path / "bridge.sqlite"), signer_set, NodeChain(node))
    again = signer_nodes(signer_keys, signer_set, settlement, node, [], tmp_path)
    assert restarted.pay(settlement.finalized_exits(), again) is None
    restarted.store.close()


def test_a_signer_refuses_an_exit_paid_more_than_its_claim(node, wallet, bridge):
    """The coordinator inflates an exit: every signer compares it with the claim the
    contract recorded (the proven balance) and refuses."""
    settlement, signers, builder = bridge
    claim = exit_claim(wallet, 3, 400_000)
    settlement.exits = [claim]
    inflated = FinalizedWithdrawal(claim.id, claim.amount + 100_000, claim.script_pubkey)
    req = builder.build([inflated], 2, key_path=True)
    with pytest.raises(PayoutRefused, match="not finalized as requested"):
        sign(builder.signer_set, req, signers)
    # nor an exit the contract never recorded (no claim, or not final yet)
    settlement.exits = []
    req = builder.build([claim], 2, key_path=True)
    with pytest.raises(PayoutRefused, match="not finalized as requested"):
        sign(builder.signer_set, req, signers)


def test_a_signer_refuses_an_exit_paid_to_another_script(node, wallet, bridge):
    settlement, signers, builder = bridge
    claim = exit_claim(wallet, 3, 400_000)
    settlement.exits = [claim]
    thief = FinalizedWithdrawal(claim.id, claim.amount, wallet.new_key().script_pubkey)
    req = builder.build([thief], 2, key_path=True)
    with pytest.raises(PayoutRefused):
        sign(builder.signer_set, req, signers)


def test_a_signer_never_signs_a_second_payout_of_one_exit(node, wallet, bridge):
    """A coordinator that lost its store pays the same claim again in a new transaction:
    the signers remember the claim's id and refuse."""
    settlement, signers, builder = bridge
    claim = exit_claim(wallet, 3, 400_000)
    settlement.exits = [claim]
    first = builder.pay([claim], signers, fee_rate=2)
    assert first is not None
    node.mine(1)
    change = OutPoint(first.tx.txid, 1)  # the first payout's change
    builder.store.db.execute("DELETE FROM withdrawals")  # the coordinator forgot
    builder.store.db.execute("DELETE FROM payouts")
    assert builder.unpaid([claim]) == [claim]
    second = builder.build([claim], 2, key_path=True)
    assert any(i.prevout == change for i in second.tx.vin)  # a really new transaction
    with pytest.raises(PayoutRefused, match="already signed"):
        sign(builder.signer_set, second, signers)


def test_exits_after_exodus_do_not_pay_earlier_withdrawals_again(node, wallet, bridge, signer_set):
    """Alice withdrew 100k in batch 2 (paid) and exits with what is left: the bridge pays
    the exit and never the withdrawal a second time; Alice gets her balance, once."""
    settlement, signers, builder = bridge
    fee = FeePolicy().withdrawal_fee(signer_set)
    withdrawal = FinalizedWithdrawal(
        BatchWithdrawalId(2, 0), 100_000, wallet.new_key().script_pubkey
    )
    settlement.batches.append(FinalizedBatch(2, withdrawals=(withdrawal,)))
    before = builder.pay([withdrawal], signers, fee_rate=2)
    assert before is not None
    node.mine(1)
    # exodus: the batch's withdrawal stays owed-and-paid, the exit comes on top
    settlement.exits = [exit_claim(wallet, 1, 2_900_000 - 100_000)]
    owed = [w for b in settlement.finalized_batches() for w in b.withdrawals]
    owed += settlement.finalized_exits()
    after = builder.pay(owed, signers, fee_rate=2)
    assert after is not None and [str(w.id) for w in after.paid] == ["exit:1"]
    node.mine(1)
    assert paid(node, after.tx.txid, 0) == 2_800_000 - fee
    assert builder.pay(owed, signers) is None
    rows = builder.store.db.execute("SELECT id, payout_txid FROM withdrawals").fetchall()
    assert dict(rows) == {"2:0": before.tx.txid, "exit:1": after.tx.txid}


def test_an_exit_below_fee_plus_dust_is_unpayable_not_lost_track_of(node, wallet, bridge):
    settlement, signers, builder = bridge
    tiny = exit_claim(wallet, 9, 300)
    settlement.exits = [tiny]
    assert builder.pay([tiny], signers) is None
    row = builder.store.db.execute(
        "SELECT payout_txid FROM withdrawals WHERE id='exit:9'"
    ).fetchone()
    assert row == ("unpayable",)


def test_exit_records_decode_like_withdrawal_records():
    spk = bytes.fromhex("0014") + bytes(range(20))
    record = bytes([len(spk)]) + spk + bytes(35 - 1 - len(spk))
    assert record_script_pubkey(record) == spk
    assert record_script_pubkey(record[:-1]) is None  # not 35 bytes
    assert record_script_pubkey(bytes(35)) is None  # empty script
    assert record_script_pubkey(record[:-1] + b"\x01") is None  # garbage in the padding
    assert record_script_pubkey(bytes([35]) + bytes(34)) is None  # longer than 34
