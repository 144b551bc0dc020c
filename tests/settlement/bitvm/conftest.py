"""Fixtures: the Bitcoin tests' regtest node and funded wallet, plus kernel helpers."""

from __future__ import annotations

from bitcoinzk.bitcoin.regtest import RegtestNode
from bitcoinzk.bitcoin.tx import OutPoint, Tx, TxOut
from bitcoinzk.bitcoin.wallet import BitcoinWallet
from tests.bitcoin.conftest import funded, node, wallet

__all__ = ["confirm", "fund", "funded", "node", "rejected_in_block", "wallet"]


def fund(node: RegtestNode, wallet: BitcoinWallet, spk: bytes, amount: int) -> OutPoint:
    """Pay `amount` to `spk`, mine it, return the outpoint."""
    tx = wallet.create_transaction([TxOut(amount, spk)], 2, node)
    confirm(node, tx)
    return OutPoint(tx.txid, next(i for i, o in enumerate(tx.vout) if o.script_pubkey == spk))


def confirm(node: RegtestNode, tx: Tx) -> None:
    """Through the mempool (policy + the kernel's script check) into a block the kernel connects."""
    node.send_raw_transaction(tx)
    node.mine(1)
    found = node.get_tx(tx.txid)
    assert found is not None and found.height == node.height(), "not confirmed"


def rejected_in_block(node: RegtestNode, tx: Tx) -> bool:
    """Put `tx` in a block straight to libbitcoinkernel: True if the tip did not move."""
    tip = node.tip_hash()
    result = node.submit_block(node.build_block([tx]))
    return not result.connected and node.tip_hash() == tip
