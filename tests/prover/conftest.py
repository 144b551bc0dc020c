"""Shared fixtures: one small circuit (B=2, E=1, D=4), keys made once and cached on disk."""

from __future__ import annotations

from dataclasses import dataclass

import groth16py
import pytest

from bitcoinzk.crypto.eddsa import PrivateKey
from bitcoinzk.l2.genesis import Genesis
from bitcoinzk.l2.params import ChainParams
from bitcoinzk.l2.state import State
from bitcoinzk.prover.circuit import CircuitShape
from bitcoinzk.prover.keys import dev_setup

PARAMS = ChainParams(chain_id=1337, tree_depth=4, block_slots=2, block_records=1, fee_account=0)
SHAPE = CircuitShape.of(PARAMS)


def key(n: int) -> PrivateKey:
    return PrivateKey(bytes([n]) * 32)


OPERATOR, ALICE, BOB, CAROL, DAVE = (key(i) for i in range(1, 6))
ALICE_I, BOB_I = 1, 2  # genesis allocation order after the fee account (0)


def genesis_state() -> State:
    return Genesis(
        PARAMS,
        OPERATOR.public_key(),
        ((ALICE.public_key(), 5_000_000), (BOB.public_key(), 2_000)),
    ).state()


@dataclass(frozen=True)
class Keys:
    pk: groth16py.ProvingKey
    vk: groth16py.VerifyingKey


@pytest.fixture(scope="session")
def keys() -> Keys:
    files = dev_setup(SHAPE)  # cached under $BZK_KEY_DIR or ~/.cache/bitcoinzk/keys
    return Keys(files.load_proving_key(), files.load_verifying_key())
