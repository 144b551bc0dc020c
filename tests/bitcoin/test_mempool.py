"""Mempool acceptance: policy ours, every script checked by the kernel's verifier."""

from __future__ import annotations

import pytest

from bitcoinzk.bitcoin.mempool import MempoolRejection
from bitcoinzk.bitcoin.script import BURN_SCRIPT, op_return_script
from bitcoinzk.bitcoin.tx import OutPoint, Tx, TxIn, TxOut
from bitcoinzk.bitcoin.wallet import sign_keypath


def reject(node, tx) -> str:
    with pytest.raises(MempoolRejection) as e:
        node.send_raw_transaction(tx)
    return e.value.reason


def test_valid_spend_accepted_then_mined(funded):
    node, wallet = funded
    tx = wallet.create_transaction([TxOut(5_000, BURN_SCRIPT)], 3, node)
    assert node.send_raw_transaction(tx.hex()) == tx.txid
    assert tx.txid in node.mempool
    assert node.mempool.entries[tx.txid].fee >= 3 * tx.vsize
    node.mine(1)
    assert tx.txid not in node.mempool
    assert node.get_tx(tx.txid).height == node.height()


def test_bad_signature_rejected_by_kernel_verifier(funded):
    node, wallet = funded
    tx = wallet.create_transaction([TxOut(5_000, BURN_SCRIPT)], 3, node)
    tx.vin[0].witness = [bytes(64)]
    assert "script-verify" in reject(node, tx)


def test_signature_over_other_amount_rejected(funded):
    """Taproot signs every spent amount: lying about one breaks the signature."""
    node, wallet = funded
    coin = wallet.coins(node)[0]
    tx = Tx(2, [TxIn(coin.outpoint)], [TxOut(coin.output.value - 1000, BURN_SCRIPT)])
    key = wallet.keys[coin.output.script_pubkey]
    sign_keypath(tx, [TxOut(coin.output.value + 1, coin.output.script_pubkey)], {0: key})
    assert "script-verify" in reject(node, tx)


def test_double_spend_rejected(funded):
    node, wallet = funded
    tx1 = wallet.create_transaction([TxOut(5_000, BURN_SCRIPT)], 3, node)
    node.send_raw_transaction(tx1)
    coin = node.get_coin(tx1.vin[0].prevout)
    tx2 = Tx(2, [TxIn(coin.outpoint)], [TxOut(coin.output.value - 10_000, BURN_SCRIPT)])
    sign_keypath(tx2, [coin.output], {0: wallet.keys[coin.output.script_pubkey]})
    assert reject(node, tx2) == "txn-mempool-conflict"
    assert reject(node, tx1) == "txn-already-in-mempool"


def test_fee_below_min_relay_rejected(funded):
    node, wallet = funded
    tx = wallet.create_transaction([TxOut(5_000, BURN_SCRIPT)], 0.5, node)
    assert reject(node, tx) == "min relay fee not met"


def test_dust_and_nonstandard_outputs_rejected(funded):
    node, wallet = funded
    assert reject(node, wallet.create_transaction([TxOut(329, BURN_SCRIPT)], 2, node)) == "dust"
    assert (
        reject(node, wallet.create_transaction([TxOut(1000, b"\x51\x51")], 2, node))
        == "scriptpubkey"
    )
    big_data = wallet.create_transaction([TxOut(0, op_return_script(b"x" * 100))], 2, node)
    assert reject(node, big_data) == "scriptpubkey"


def test_weight_above_standard_limit_rejected(funded):
    node, wallet = funded
    outs = [TxOut(1000, BURN_SCRIPT)] * 2400  # 2400 * 43 vB * 4 > 400,000 WU
    tx = wallet.create_transaction(outs, 1, node)
    assert tx.weight > 400_000
    assert reject(node, tx) == "tx-size"


def test_immature_coinbase_and_missing_inputs_rejected(funded):
    node, wallet = funded
    k = wallet.new_key()
    node.mine(1, k.script_pubkey)
    cb = node.get_block(node.tip_hash()).txs[0]
    coin = node.get_coin(OutPoint(cb.txid, 0))
    tx = Tx(2, [TxIn(coin.outpoint)], [TxOut(coin.output.value - 1000, BURN_SCRIPT)])
    sign_keypath(tx, [coin.output], {0: k})
    assert reject(node, tx) == "bad-txns-premature-spend-of-coinbase"
    tx.vin[0].prevout = OutPoint("ab" * 32, 0)
    assert reject(node, tx) == "missing-inputs"


def test_context_free_checks_come_from_the_kernel(funded):
    node, wallet = funded
    tx = wallet.create_transaction([TxOut(5_000, BURN_SCRIPT)], 3, node)
    tx.vin.append(TxIn(tx.vin[0].prevout, witness=tx.vin[0].witness))
    assert reject(node, tx).startswith("bad-txns")  # duplicate inputs: CheckTransaction


def test_child_of_unconfirmed_parent_accepted_and_mined_together(funded):
    node, wallet = funded
    k = wallet.new_key()
    parent = wallet.create_transaction([TxOut(100_000, k.script_pubkey)], 2, node)
    node.send_raw_transaction(parent)
    child = Tx(2, [TxIn(OutPoint(parent.txid, 0))], [TxOut(99_000, BURN_SCRIPT)])
    sign_keypath(child, [parent.vout[0]], {0: k})
    node.send_raw_transaction(child)
    node.mine(1)
    block = node.get_block(node.tip_hash())
    assert [t.txid for t in block.txs[1:]] == [parent.txid, child.txid]


def test_mempool_survives_restart(tmp_path, wallet):
    from bitcoinzk.bitcoin.regtest import RegtestNode

    node = RegtestNode(tmp_path / "n")
    node.mine(1, wallet.new_key().script_pubkey)
    node.mine(100)
    tx = wallet.create_transaction([TxOut(5_000, BURN_SCRIPT)], 2, node)
    node.send_raw_transaction(tx)
    node.close()
    node = RegtestNode(tmp_path / "n")
    try:
        assert node.height() == 101
        assert tx.txid in node.mempool
    finally:
        node.close()
