"""The federation's two spending paths, judged by the kernel."""

from __future__ import annotations

import os

import pytest
from btclib_ecc.ecc import musig2

from bitcoinzk.bitcoin.mempool import MempoolRejection
from bitcoinzk.bitcoin.regtest import RegtestNode
from bitcoinzk.bitcoin.script import BURN_SCRIPT, TaprootOutput
from bitcoinzk.bitcoin.tx import OutPoint, Tx, TxIn, TxOut
from bitcoinzk.bitcoin.wallet import BitcoinWallet
from bitcoinzk.bridge.signers import (
    NonceCommitment,
    SignerKey,
    SignerSet,
    SignerSetError,
    aggregate,
    keypath_session,
)
from bitcoinzk.keyfile import KeyFileError

from .conftest import deposit


def test_key_files_are_private_and_checked(tmp_path, signer_keys):
    path = tmp_path / "signer0" / "key.json"
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert SignerKey.load(path) == signer_keys[0]
    path.write_text(
        path.read_text().replace(signer_keys[0].pubkey.hex(), signer_keys[1].pubkey.hex())
    )
    with pytest.raises(KeyFileError):
        SignerKey.load(path)


def test_signer_set_validation(signer_keys):
    with pytest.raises(SignerSetError):
        SignerSet.of([k.pubkey for k in signer_keys], threshold=4)
    s = SignerSet.of([k.pubkey for k in signer_keys], threshold=2)
    assert SignerSet.from_json(s.to_json()) == s


def fund_main(
    node: RegtestNode, wallet: BitcoinWallet, signer_set: SignerSet, amount: int = 1_000_000
) -> tuple[OutPoint, TxOut, TaprootOutput]:
    main = signer_set.main_output()
    tx = deposit(node, wallet, main.script_pubkey, amount)
    return OutPoint(tx.txid, 0), TxOut(amount, main.script_pubkey), main


def musig_spend(
    signer_set: SignerSet,
    keys: list[SignerKey],
    op: OutPoint,
    spent: TxOut,
    tree: TaprootOutput,
) -> tuple[Tx, list[bytes], musig2.SessionContext]:
    tx = Tx(2, [TxIn(op)], [TxOut(spent.value - 1000, BURN_SCRIPT)])
    msg = tx.sighash_taproot(0, [spent])
    commits = [NonceCommitment.create(k, signer_set, msg) for k in keys]
    session = keypath_session(signer_set, tree.merkle_root, msg, [c.pub_nonce for c in commits])
    partials = [c.partial_sign(session) for c in commits]
    return tx, partials, session


def test_musig2_key_path_accepted_by_kernel(node, wallet, signer_set, signer_keys):
    op, spent, tree = fund_main(node, wallet, signer_set)
    tx, partials, session = musig_spend(signer_set, signer_keys, op, spent, tree)
    tx.vin[0].witness = [aggregate(partials, session)]
    assert node.send_raw_transaction(tx) == tx.txid
    node.mine(1)
    assert node.get_coin(op) is None


def test_musig2_with_a_missing_partial_is_rejected(node, wallet, signer_set, signer_keys):
    op, spent, tree = fund_main(node, wallet, signer_set)
    tx, partials, session = musig_spend(signer_set, signer_keys, op, spent, tree)
    tx.vin[0].witness = [aggregate(partials[:2], session)]
    with pytest.raises(MempoolRejection, match="script-verify"):
        node.send_raw_transaction(tx)
    assert not node.submit_block(node.build_block([tx])).connected


def test_secret_nonce_signs_once(signer_set, signer_keys):
    msg = b"\x01" * 32
    commits = [NonceCommitment.create(k, signer_set, msg) for k in signer_keys]
    session = keypath_session(signer_set, None, msg, [c.pub_nonce for c in commits])
    commits[0].partial_sign(session)
    with pytest.raises(Exception):  # noqa: B017 - the library refuses a zeroed nonce
        commits[0].partial_sign(session)


def script_spend(
    signer_set: SignerSet,
    keys: list[SignerKey],
    op: OutPoint,
    spent: TxOut,
    tree: TaprootOutput,
) -> tuple[Tx, dict[bytes, bytes]]:
    tx = Tx(2, [TxIn(op)], [TxOut(spent.value - 2000, BURN_SCRIPT)])
    leaf = signer_set.multisig_leaf()
    msg = tx.sighash_taproot(0, [spent], leaf_script=leaf.script)
    return tx, {k.pubkey: k.sign_schnorr(msg) for k in keys}


def test_k_of_n_script_path(node, wallet, signer_set, signer_keys):
    op, spent, tree = fund_main(node, wallet, signer_set)
    tx, sigs = script_spend(signer_set, signer_keys[1:], op, spent, tree)
    tx.vin[0].witness = signer_set.multisig_witness(sigs, tree, 0)
    node.send_raw_transaction(tx)
    assert node.submit_block(node.build_block()).connected
    assert node.get_coin(op) is None


def test_below_threshold_script_path_rejected_by_kernel(node, wallet, signer_set, signer_keys):
    op, spent, tree = fund_main(node, wallet, signer_set)
    tx, sigs = script_spend(signer_set, signer_keys[:1], op, spent, tree)
    with pytest.raises(SignerSetError):
        signer_set.multisig_witness(sigs, tree, 0)
    # forge the stack anyway: one good signature, two empty ones
    stack = [sigs.get(k, b"") for k in reversed(signer_set.pubkeys)]
    tx.vin[0].witness = [*stack, tree.leaves[0].script, tree.control_block(0)]
    with pytest.raises(MempoolRejection, match="script-verify"):
        node.send_raw_transaction(tx)
    tip = node.tip_hash()
    assert not node.submit_block(node.build_block([tx])).connected
    assert node.tip_hash() == tip
