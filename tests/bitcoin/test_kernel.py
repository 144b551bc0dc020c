"""Blocks are judged by libbitcoinkernel; the node believes only the tip it reads back."""

from __future__ import annotations

from bitcoinzk.bitcoin.block import build_block
from bitcoinzk.bitcoin.kernel import SubmitStatus
from bitcoinzk.bitcoin.script import BURN_SCRIPT
from bitcoinzk.bitcoin.tx import TxOut


def test_mined_blocks_connect_and_count(node):
    hashes = node.mine(5)
    assert node.height() == 5
    assert node.tip_hash() == hashes[-1] == node.kernel.tip_hash()
    assert node.block_hash(1) == hashes[0]


def test_wrong_bip34_height_is_rejected_and_tip_stays(node):
    node.mine(2)
    tip = node.tip_hash()
    bad = build_block(tip, 7, node.next_block_time(tip), [], 0, BURN_SCRIPT)  # height should be 3
    result = node.submit_block(bad)
    assert result.status is SubmitStatus.INVALID
    assert node.tip_hash() == tip


def test_block_time_at_median_time_past_is_rejected(node):
    node.mine(11)
    tip = node.tip_hash()
    bad = node.build_block([], block_time=node.median_time_past(tip))
    assert node.submit_block(bad).status is SubmitStatus.INVALID
    assert node.height() == 11


def test_overpaying_coinbase_is_rejected(node):
    tip = node.tip_hash()
    block = node.build_block([])
    block.txs[0].vout[0].value += 1
    from bitcoinzk.bitcoin.block import merkle_root

    block.header.merkle_root = merkle_root([bytes.fromhex(t.txid)[::-1] for t in block.txs])
    block.header.solve()
    result = node.submit_block(block)
    assert not result.connected and node.tip_hash() == tip


def test_spend_with_bad_signature_in_block_is_rejected(funded):
    node, wallet = funded
    tx = wallet.create_transaction([TxOut(1_000_000, BURN_SCRIPT)], 2, node)
    sig = bytearray(tx.vin[0].witness[0])
    sig[5] ^= 1
    tx.vin[0].witness[0] = bytes(sig)
    tip = node.tip_hash()
    result = node.submit_block(node.build_block([tx]))  # bypasses the mempool
    assert result.status is SubmitStatus.INVALID
    assert node.tip_hash() == tip
    assert node.get_coin(tx.vin[0].prevout) is not None


def test_spend_without_witness_in_block_is_rejected(funded):
    node, wallet = funded
    tx = wallet.create_transaction([TxOut(1_000_000, BURN_SCRIPT)], 2, node)
    tx.vin[0].witness = []
    result = node.submit_block(node.build_block([tx]))
    assert not result.connected
    assert node.height() == 103


def test_valid_spend_in_block_connects_and_updates_utxo_index(funded):
    node, wallet = funded
    tx = wallet.create_transaction([TxOut(1_000_000, BURN_SCRIPT)], 2, node)
    result = node.submit_block(node.build_block([tx]))
    assert result.connected
    assert node.get_coin(tx.vin[0].prevout) is None
    from bitcoinzk.bitcoin.tx import OutPoint

    coin = node.get_coin(OutPoint(tx.txid, 0))
    assert coin is not None and coin.output.value == 1_000_000 and coin.height == 104


def test_side_chain_block_is_inconclusive_until_heavier(node):
    node.mine(2)
    fork_parent = node.block_hash(1)
    side = node.build_block([], parent=fork_parent, extra=b"side")
    assert node.submit_block(side).status is SubmitStatus.SIDE_CHAIN
    assert node.height() == 2
    assert node.submit_block(side).status is SubmitStatus.DUPLICATE


def test_mining_evicts_a_transaction_the_kernel_refuses(funded):
    """Safety net: if a bad tx ever got into the mempool, mining drops it, not the chain."""
    from bitcoinzk.bitcoin.mempool import MempoolEntry

    node, wallet = funded
    good = wallet.create_transaction([TxOut(1_000_000, BURN_SCRIPT)], 2, node)
    node.send_raw_transaction(good)
    bad = wallet.create_transaction([TxOut(2_000_000, BURN_SCRIPT)], 2, node)
    bad.vin[0].witness = [bytes(64)]
    node.mempool.entries[bad.txid] = MempoolEntry(bad, 1000, bad.vsize, 0)  # bypass acceptance
    height = node.height()
    node.mine(1)
    assert node.height() > height
    assert bad.txid not in node.mempool
    assert node.get_tx(good.txid).block_hash is not None
    assert node.get_tx(bad.txid) is None
