"""Small builders shared by the Layer-2 tests."""

from __future__ import annotations

import hashlib
from functools import cache

from bitcoinzk.crypto.eddsa import PrivateKey
from bitcoinzk.spec.genesis import Genesis
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.state import State
from bitcoinzk.spec.types import Account, Transfer, Withdraw

PARAMS = ChainParams(chain_id=7, tree_depth=6, block_slots=8, block_records=3, fee_account=0)
P2TR = bytes.fromhex("5120" + "11" * 32)


@cache
def key(i: int) -> PrivateKey:
    return PrivateKey(hashlib.sha256(b"test-key-" + bytes([i])).digest())


def genesis(
    balances: tuple[int, ...] = (100_000, 50_000, 0), params: ChainParams = PARAMS
) -> Genesis:
    """Operator at index 0, then key(1).. at indices 1.. (a zero balance means no account)."""
    allocations = tuple((key(i + 1).public_key(), b) for i, b in enumerate(balances) if b)
    return Genesis(params, key(0).public_key(), allocations)


def account(state: State, index: int) -> Account:
    """The account at `index`, which the test expects to exist."""
    found = state.get(index)
    assert found is not None, f"no account at index {index}"
    return found


def transfer(
    src: int,
    dst: int,
    amount: int,
    fee: int = 1,
    nonce: int = 0,
    params: ChainParams = PARAMS,
    dst_index: int | None = None,
) -> Transfer:
    return Transfer(
        src, dst if dst_index is None else dst_index, key(dst).public_key(), amount, fee, nonce
    ).signed(key(src), params.chain_id)


def withdraw(
    src: int,
    amount: int,
    fee: int = 1,
    nonce: int = 0,
    spk: bytes = P2TR,
    params: ChainParams = PARAMS,
) -> Withdraw:
    return Withdraw(src, spk, amount, fee, nonce).signed(key(src), params.chain_id)
