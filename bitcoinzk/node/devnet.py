"""Development wallets and the devnet genesis.

Dev keys are derived from their names so every devnet run has the same
accounts; they are for local play only and must never hold real BTC.
"""

from __future__ import annotations

import hashlib

from bitcoinzk.crypto.eddsa import PrivateKey
from bitcoinzk.l2.genesis import Genesis
from bitcoinzk.l2.params import ChainParams

DEV_NAMES = ("alice", "bob", "carol", "dave")
DEV_BALANCE = 10_000_000  # 0.1 BTC each


def dev_key(name: str) -> PrivateKey:
    return PrivateKey(hashlib.sha256(b"bitcoinzk-devnet-" + name.encode()).digest())


def dev_genesis(params: ChainParams, funded: tuple[str, ...] = DEV_NAMES) -> Genesis:
    """Operator (fee account) first, then each funded dev account, in that order."""
    allocations = tuple((dev_key(n).public_key(), DEV_BALANCE) for n in funded)
    return Genesis(params, dev_key("operator").public_key(), allocations)
