"""Both key files (a Layer-2 wallet, a bridge signer) are written and read by one helper."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bitcoinzk.bridge.signers import SignerKey
from bitcoinzk.keyfile import KeyFileError
from bitcoinzk.node.wallet import L2Wallet


def test_wallet_file_is_private_never_overwritten_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "w" / "wallet.json"
    wallet, other = L2Wallet.create(), L2Wallet.create()
    wallet.save(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert L2Wallet.load(path).key.seed == wallet.key.seed
    with pytest.raises(FileExistsError):  # the key already there would be lost
        other.save(path)
    # attack: another's public key beside this seed (an edited or mixed-up file)
    path.write_text(path.read_text().replace(wallet.pubkey.hex(), other.pubkey.hex()))
    with pytest.raises(KeyFileError):
        L2Wallet.load(path)


def test_signer_key_file_is_replaced_on_save(tmp_path: Path) -> None:
    """A signer's key file is rewritten in place (devnet regenerates it), still 0600."""
    path = tmp_path / "key.json"
    SignerKey.generate().save(path)
    key = SignerKey.generate()
    key.save(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert SignerKey.load(path) == key
