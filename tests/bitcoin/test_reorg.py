"""A heavier competing chain reorganises; index, mempool and listeners follow."""

from __future__ import annotations

from bitcoinzk.bitcoin.block import Block
from bitcoinzk.bitcoin.regtest import RegtestNode
from bitcoinzk.bitcoin.script import BURN_SCRIPT
from bitcoinzk.bitcoin.tx import OutPoint, TxOut


def build_branch(node: RegtestNode, parent: str, n: int, tag: bytes) -> list[Block]:
    blocks: list[Block] = []
    for i in range(n):
        b = node.build_block([], parent=parent, extra=tag + bytes([i]))
        r = node.submit_block(b)
        assert r.block_hash == b.hash
        blocks.append(b)
        parent = b.hash
    return blocks


def test_heavier_chain_reorgs_index_and_returns_txs_to_mempool(funded):
    node, wallet = funded
    events = []
    node.add_listener(lambda d, c: events.append(([b.hash for b in d], [b.hash for b in c])))
    fork = node.tip_hash()
    tx = wallet.create_transaction([TxOut(7_000, BURN_SCRIPT)], 2, node)
    node.send_raw_transaction(tx)
    [mined] = node.mine(1)
    assert node.get_coin(OutPoint(tx.txid, 0)) is not None
    assert tx.txid not in node.mempool

    branch = build_branch(node, fork, 2, b"b")
    assert node.tip_hash() == branch[-1].hash
    assert not node.in_active_chain(mined)
    assert node.get_coin(OutPoint(tx.txid, 0)) is None  # index followed
    assert node.get_coin(tx.vin[0].prevout) is not None  # spent coin restored
    assert tx.txid in node.mempool  # returned to the mempool
    assert events[-1][0] == [mined]
    node.mine(1)
    assert node.get_coin(OutPoint(tx.txid, 0)) is not None


def test_reorg_drops_tx_whose_input_vanished(funded):
    """A spend of a coinbase from a disconnected block cannot come back."""
    node, wallet = funded
    k = wallet.new_key()
    fork = node.tip_hash()
    node.mine(1, k.script_pubkey)
    node.mine(100)
    cb = node.get_block(node.block_hash(fork_height(node, fork) + 1)).txs[0]
    coin = node.get_coin(OutPoint(cb.txid, 0))
    assert coin is not None
    from bitcoinzk.bitcoin.tx import Tx, TxIn
    from bitcoinzk.bitcoin.wallet import sign_keypath

    spend = Tx(2, [TxIn(coin.outpoint)], [TxOut(coin.output.value - 1000, BURN_SCRIPT)])
    sign_keypath(spend, [coin.output], {0: k})
    node.send_raw_transaction(spend)
    build_branch(node, fork, 102, b"x")
    assert node.get_coin(coin.outpoint) is None
    assert spend.txid not in node.mempool


def fork_height(node: RegtestNode, h: str) -> int:
    return node.block_height(h)


def test_index_resyncs_with_kernel_after_restart(tmp_path):
    node = RegtestNode(tmp_path / "n")
    node.mine(3)
    # simulate a crash between the kernel's write and ours: roll the index back
    node.index.disconnect_tip()
    node.index.disconnect_tip()
    node.close()
    node = RegtestNode(tmp_path / "n")
    try:
        assert node.height() == node.kernel.height() == 3
        assert node.index.utxo_stats()[0] == 3
    finally:
        node.close()


def test_hard_kill_loses_nothing(tmp_path):
    """A killed process (no close, no flush) restarts at the same tip with the same coins."""
    import subprocess
    import sys

    code = (
        "import os, sys\n"
        "from bitcoinzk.bitcoin.regtest import RegtestNode\n"
        f"n = RegtestNode({str(tmp_path / 'n')!r})\n"
        "n.mine(7)\n"
        "print(n.tip_hash())\n"
        "sys.stdout.flush()\n"
        "os._exit(0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    tip = out.stdout.strip().splitlines()[-1]
    node = RegtestNode(tmp_path / "n")
    try:
        assert node.height() == node.kernel.height() == 7
        assert node.tip_hash() == node.kernel.tip_hash() == tip
        assert node.index.utxo_stats()[0] == 7
        node.mine(1)
        assert node.height() == 8
    finally:
        node.close()
