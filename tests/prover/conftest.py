"""Shared fixtures: one small circuit (B=2, E=1, D=6), keys made once and cached on disk."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import groth16py
import pytest

from bitcoinzk.crypto.eddsa import PrivateKey
from bitcoinzk.prover.circuit import CircuitShape
from bitcoinzk.prover.keys import dev_setup
from bitcoinzk.prover.tooling import compile_circuit, has_tools
from bitcoinzk.spec.genesis import Genesis
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.state import State

PARAMS = ChainParams(chain_id=1337, tree_depth=6, block_slots=2, block_records=1, fee_account=0)
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
    wasm: Path | None
    """circom2's witness calculator for the same circuit (node), when installed: it
    stops at the first failed constraint and names it, in well under a second."""


@pytest.fixture(scope="session")
def keys() -> Keys:
    files = dev_setup(SHAPE)  # cached under $BZK_KEY_DIR or ~/.cache/bitcoinzk/keys
    wasm = None
    if has_tools() and os.environ.get("BZK_TEST_NODE_WITNESS", "1") != "0":
        wasm = compile_circuit(SHAPE, files.directory.parent / "circom2").wasm
    return Keys(files.load_proving_key(), files.load_verifying_key(), wasm)
