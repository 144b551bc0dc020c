"""Deposit addresses commit to the recipient; the refund leaf opens only after the timelock."""

from __future__ import annotations

import pytest

from bitcoinzk.bitcoin.mempool import MempoolRejection
from bitcoinzk.bitcoin.script import BURN_SCRIPT
from bitcoinzk.bitcoin.tx import OutPoint
from bitcoinzk.bitcoin.wallet import TaprootKey
from bitcoinzk.bridge.deposit import DepositError, DepositReveal, refund_transaction
from bitcoinzk.bridge.signers import SignerKey

from .conftest import deposit, l2_key

RECIPIENT = l2_key(0x11)


def test_address_commits_to_recipient(signer_set):
    refund = SignerKey.generate()
    a = DepositReveal(RECIPIENT, refund.pubkey[1:], 20)
    b = DepositReveal(l2_key(0x12), refund.pubkey[1:], 20)
    assert a.address(signer_set) != b.address(signer_set)
    assert a.address(signer_set).startswith("bcrt1p")
    assert RECIPIENT in a.refund_leaf().script
    with pytest.raises(DepositError):
        DepositReveal(b"short", refund.pubkey[1:])
    with pytest.raises(DepositError, match="BabyJubJub"):
        DepositReveal(b"\xff" * 32, refund.pubkey[1:])  # not a curve point: no address


def test_deposit_is_an_ordinary_taproot_payment(node, wallet, signer_set):
    reveal = DepositReveal(RECIPIENT, SignerKey.generate().pubkey[1:], 20)
    tx = deposit(node, wallet, reveal.script_pubkey(signer_set), 100_000)
    assert len(tx.vin) == 1 and len(tx.vout) == 2
    assert tx.vsize <= 154


@pytest.fixture
def refundable(node, wallet, signer_set):
    refund_key = SignerKey.generate()
    reveal = DepositReveal(RECIPIENT, refund_key.pubkey[1:], timelock=10)
    tx = deposit(node, wallet, reveal.script_pubkey(signer_set), 50_000)
    return reveal, refund_key, OutPoint(tx.txid, 0)


def test_refund_before_timelock_rejected_by_mempool_and_kernel(node, signer_set, refundable):
    reveal, refund_key, op = refundable
    node.mine(7)  # 8 confirmations < 10
    refund = refund_transaction(reveal, signer_set, op, 50_000, refund_key, BURN_SCRIPT, 500)
    with pytest.raises(MempoolRejection, match="non-BIP68-final"):
        node.send_raw_transaction(refund)
    tip = node.tip_hash()
    assert not node.submit_block(node.build_block([refund])).connected  # the kernel says no
    assert node.tip_hash() == tip
    # lying in nSequence does not help: CSV compares against it
    early = refund_transaction(
        reveal, signer_set, op, 50_000, refund_key, BURN_SCRIPT, 500, sequence=5
    )
    with pytest.raises(MempoolRejection, match="script-verify"):
        node.send_raw_transaction(early)
    assert not node.submit_block(node.build_block([early])).connected


def test_refund_after_timelock_accepted_by_kernel(node, signer_set, refundable):
    reveal, refund_key, op = refundable
    refund = refund_transaction(reveal, signer_set, op, 50_000, refund_key, BURN_SCRIPT, 500)
    node.mine(8)  # a block at deposit height + 9: one short
    assert not node.submit_block(node.build_block([refund])).connected
    node.mine(1)  # deposit height + 10: the relative lock of 10 is met
    assert node.send_raw_transaction(refund) == refund.txid
    assert node.submit_block(node.build_block()).connected
    assert node.get_coin(op) is None


def test_refund_with_another_key_rejected(node, signer_set, refundable):
    reveal, _, op = refundable
    node.mine(12)
    thief = SignerKey.generate()
    refund = refund_transaction(reveal, signer_set, op, 50_000, thief, BURN_SCRIPT, 500)
    with pytest.raises(MempoolRejection, match="script-verify"):
        node.send_raw_transaction(refund)
    assert not node.submit_block(node.build_block([refund])).connected


def test_wallet_key_can_be_the_refund_key(wallet):
    key: TaprootKey = wallet.new_key()
    assert len(key.internal_key) == 32
