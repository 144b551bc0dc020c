"""A Layer-2 key file and the client-side steps of paying someone.

The key file is JSON holding the 32-byte EdDSA seed in hex; it is written
with mode 0600 because whoever reads it can spend.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bitcoinzk.crypto.eddsa import PrivateKey, PublicKey
from bitcoinzk.keyfile import load_key_file, save_key_file
from bitcoinzk.node.rpc.client import NodeClient
from bitcoinzk.spec.types import Transfer, Withdraw


@dataclass(frozen=True)
class L2Wallet:
    key: PrivateKey

    @property
    def pubkey(self) -> PublicKey:
        return self.key.public_key()

    @classmethod
    def create(cls) -> L2Wallet:
        return cls(PrivateKey.generate())

    def save(self, path: Path) -> None:
        save_key_file(path, "seed", self.key.seed, self.pubkey.hex(), replace=False)

    @classmethod
    def load(cls, path: Path) -> L2Wallet:
        seed = load_key_file(path, "seed", lambda s: PrivateKey(s).public_key().hex())
        return cls(PrivateKey(seed))


def _sender(client: NodeClient, key: PrivateKey) -> tuple[int, int, int]:
    """(chain id, our account index, our next nonce), as the node sees them."""
    info = client.call("bzk_chainInfo")
    account = client.call("bzk_getAccount", key.public_key().hex())
    if account is None:
        raise LookupError("this key has no Layer-2 account yet (deposit first)")
    return int(info["chain_id"]), int(account["index"]), int(account["pending_nonce"])


def sign_transfer(
    client: NodeClient, key: PrivateKey, to: PublicKey, amount: int, fee: int
) -> dict[str, Any]:
    """Sign a transfer to `to`'s public key from our account at its next nonce."""
    chain_id, index, nonce = _sender(client, key)
    return Transfer(index, 0, to, amount, fee, nonce).signed(key, chain_id).to_json()


def sign_withdraw(
    client: NodeClient, key: PrivateKey, script_pubkey: bytes, amount: int, fee: int
) -> dict[str, Any]:
    """Sign a withdrawal to a Bitcoin output script from our account at its next nonce."""
    chain_id, index, nonce = _sender(client, key)
    return Withdraw(index, script_pubkey, amount, fee, nonce).signed(key, chain_id).to_json()
