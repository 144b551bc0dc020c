"""Winternitz signatures: signed in Python, verified in tapscript by libbitcoinkernel."""

from __future__ import annotations

import pytest

from bitcoinzk.bitcoin.opcodes import Op, Script
from bitcoinzk.bitcoin.script import NUMS_H, TapLeaf, TaprootOutput
from bitcoinzk.bitcoin.tx import Tx, TxIn, TxOut
from bitcoinzk.settlement.bitvm.commitments import (
    WinternitzParams,
    WinternitzSecret,
    hash160,
    script_num_bytes,
    winternitz_signature_bytes,
)

from .conftest import confirm, fund, rejected_in_block

VALUE_256 = int.from_bytes(bytes(range(1, 33)), "big")


def expect_digits_leaf(secret: WinternitzSecret, value: int) -> bytes:
    """Verify the signature, then require the digits it leaves to be `value`'s."""
    pub = secret.public
    digits = secret.params.digits(value)[: secret.params.n_message]
    checks = [Script(d, Op.OP_NUMEQUALVERIFY) for d in digits]  # m_0 is on top
    return bytes(pub.verify_script() + Script.join(checks) + Script(1))


def spend(node, wallet, leaf_script: bytes, witness: list[bytes]) -> Tx:
    out = TaprootOutput(NUMS_H, (TapLeaf(leaf_script),))
    op = fund(node, wallet, out.script_pubkey, 50_000)
    tx = Tx(2, [TxIn(op)], [TxOut(40_000, wallet.new_key().script_pubkey)])
    tx.vin[0].witness = [*witness, leaf_script, out.control_block(0)]
    return tx


def _forgeries(secret: WinternitzSecret, value: int) -> dict[str, list[bytes]]:
    p = secret.params
    sig = secret.sign(value)
    n = p.n_digits
    # witness: [sig_{N-1}, v_{N-1}, ..., sig_0, v_0]; digit i's pair sits at 2*(N-1-i)
    at = {i: 2 * (n - 1 - i) for i in range(n)}
    digits = p.digits(value)
    out: dict[str, list[bytes]] = {}

    i = next(k for k in range(p.n_message) if digits[k] < p.d)
    raised = list(sig)  # hash one step further: a valid chain element for digit+1
    raised[at[i]] = hash160(sig[at[i]])
    raised[at[i] + 1] = script_num_bytes(digits[i] + 1)
    out["raised digit (checksum breaks)"] = raised

    j = p.n_message  # least significant checksum digit
    if digits[j] < p.d:
        bumped = list(sig)
        bumped[at[j]] = hash160(sig[at[j]])
        bumped[at[j] + 1] = script_num_bytes(digits[j] + 1)
        out["raised checksum digit"] = bumped

    flipped = list(sig)
    flipped[at[0]] = bytes([sig[at[0]][0] ^ 1]) + sig[at[0]][1:]
    out["wrong chain element"] = flipped

    lied = list(sig)
    lied[at[0] + 1] = script_num_bytes((digits[0] + 1) % (p.d + 1))
    out["digit value without its chain element"] = lied

    over = list(sig)
    over[at[0] + 1] = script_num_bytes(p.d + 1)
    out["digit out of range"] = over
    return out


@pytest.mark.parametrize("n_bits,digit_bits", [(256, 4), (24, 4), (32, 8)])
def test_winternitz_signature_verifies_in_tapscript_and_forgeries_fail(funded, n_bits, digit_bits):
    node, wallet = funded
    params = WinternitzParams(n_bits, digit_bits)
    secret = WinternitzSecret.derive(params, b"winternitz")
    value = VALUE_256 % (1 << n_bits)
    leaf = expect_digits_leaf(secret, value)

    for name, witness in _forgeries(secret, value).items():
        tx = spend(node, wallet, leaf, witness)
        assert rejected_in_block(node, tx), name

    other = spend(node, wallet, leaf, secret.sign(value ^ 1))  # valid signature, other value
    assert rejected_in_block(node, other)
    confirm(node, spend(node, wallet, leaf, secret.sign(value)))


def test_digits_fold_into_a_script_number(funded):
    node, wallet = funded
    params = WinternitzParams(24, 4)
    secret = WinternitzSecret.derive(params, b"fold")
    pub = secret.public
    value = 0xA1B2C3
    leaf = bytes(pub.verify_script() + pub.digits_to_number_script() + Script(value, Op.OP_EQUAL))
    assert rejected_in_block(node, spend(node, wallet, leaf, secret.sign(value - 1)))
    confirm(node, spend(node, wallet, leaf, secret.sign(value)))


def test_signature_sizes():
    p = WinternitzParams(256, 4)
    assert (p.n_message, p.n_checksum) == (64, 3)
    assert winternitz_signature_bytes(p) == 67 * 21 + sum(
        1 + len(script_num_bytes(v)) for v in p.digits((1 << 256) - 1)
    )
