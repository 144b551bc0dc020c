from __future__ import annotations

import pytest
from embit import bip39

from bitcoinzk.bitcoin.script import address_from_script, script_from_address
from bitcoinzk.bitcoin.tx import TxOut
from bitcoinzk.bitcoin.wallet import BitcoinWallet, InsufficientFunds


def test_bip86_test_vector():
    """BIP-86's first receive address for the 'abandon ... about' mnemonic."""
    seed = bip39.mnemonic_to_seed("abandon " * 11 + "about")
    w = BitcoinWallet.from_seed(seed, network="main", lookahead=1)
    key = w.new_key()
    assert key.path == "m/86'/0'/0'/0/0"
    assert (
        key.internal_key.hex() == "cc8a4bc64d897bddc5fbc2f670f7a8ba0b386779106cf1223c6fc5d7cd6fc115"
    )
    addr = address_from_script(key.script_pubkey, "main")
    assert addr == "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr"
    assert script_from_address(addr, "main") == key.script_pubkey


def test_fee_rate_and_change(funded):
    node, wallet = funded
    tx = wallet.create_transaction([TxOut(1_000_000, b"\x51\x20" + b"\x02" * 32)], 5, node)
    fee = 50 * 10**8 - sum(o.value for o in tx.vout)
    assert len(tx.vin) == 1 and len(tx.vout) == 2
    assert 5 * tx.vsize <= fee <= 5 * tx.vsize + 5
    assert tx.vout[1].script_pubkey in wallet.keys
    node.send_raw_transaction(tx)


def test_coin_selection_uses_several_coins_and_refuses_overspend(funded):
    node, wallet = funded
    tx = wallet.create_transaction([TxOut(120 * 10**8, b"\x51\x20" + b"\x02" * 32)], 2, node)
    assert len(tx.vin) == 3
    node.send_raw_transaction(tx)
    with pytest.raises(InsufficientFunds):
        wallet.create_transaction([TxOut(151 * 10**8, b"\x51\x20" + b"\x02" * 32)], 2, node)
