"""Real batch-circuit proofs (B=2, E=1, D=6) of real STF blocks, and both EVM backends.

Proving costs ~17 s a block here, so proofs are cached on disk by verifying
key and public input: they are still real Groth16 proofs of STF traces, made
once per key (a new dev key means new proofs).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import groth16py
import pytest

from bitcoinzk.crypto.eddsa import PrivateKey
from bitcoinzk.prover.circuit import CircuitShape, circuit_id
from bitcoinzk.prover.keys import KeyFiles, dev_setup
from bitcoinzk.prover.service import prove_inputs, verify_proof
from bitcoinzk.prover.witness import build_inputs
from bitcoinzk.settlement.evm.anvil import Anvil, AnvilUnavailable, find_anvil, start_anvil
from bitcoinzk.settlement.evm.client import EmbeddedClient, EvmClient, Web3Client
from bitcoinzk.settlement.evm.contracts import vk_digest
from bitcoinzk.spec.genesis import Genesis
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.state import State
from bitcoinzk.spec.stf import BlockResult, apply_block
from bitcoinzk.spec.types import Transfer, Withdraw

PARAMS = ChainParams(chain_id=1337, tree_depth=6, block_slots=2, block_records=1, fee_account=0)
SHAPE = CircuitShape.of(PARAMS)
OTHER_KEY = hashlib.sha256(b"bitcoinzk test: not the sequencer").digest()


def key(n: int) -> PrivateKey:
    return PrivateKey(bytes([n]) * 32)


OPERATOR, ALICE, BOB, CAROL = (key(i) for i in range(1, 5))
SPK = bytes.fromhex("0014") + bytes(range(20))


def genesis(alice_balance: int = 5_000_000) -> Genesis:
    return Genesis(
        PARAMS,
        OPERATOR.public_key(),
        ((ALICE.public_key(), alice_balance), (BOB.public_key(), 2_000_000)),
    )


@dataclass(frozen=True)
class ProvenBlock:
    result: BlockResult
    proof: bytes

    @property
    def batch_data(self) -> bytes:
        return self.result.pubdata.to_bytes()

    @property
    def new_root(self) -> int:
        return self.result.trace.new_root


@dataclass(frozen=True)
class Batches:
    files: KeyFiles
    vk: groth16py.VerifyingKey
    genesis: State
    blocks: tuple[ProvenBlock, ...]  # blocks 1 and 2 of the chain
    forked: ProvenBlock  # a valid block 1 of another genesis (other old root)


def _prove_cached(
    files: KeyFiles,
    vk: groth16py.VerifyingKey,
    result: BlockResult,
    pk_box: list[groth16py.ProvingKey],
) -> bytes:
    cache = Path(
        os.environ.get("BZK_TEST_PROOFS", Path.home() / ".cache" / "bitcoinzk" / "test-proofs")
    )
    path = cache / vk_digest(vk)[:24] / f"{result.public_input:064x}.proof"
    if path.is_file():
        proof = path.read_bytes()
        if verify_proof(vk, proof, result.public_input):
            return proof
    if not pk_box:
        pk_box.append(files.load_proving_key())
    proof = prove_inputs(pk_box[0], build_inputs(result.trace, PARAMS))
    assert verify_proof(vk, proof, result.public_input)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(proof)
    return proof


@pytest.fixture(scope="session")
def batches() -> Batches:
    files = dev_setup(SHAPE)
    vk = files.load_verifying_key()
    pk_box: list[groth16py.ProvingKey] = []
    g = genesis().state()
    b1 = apply_block(
        g,
        PARAMS,
        1,
        [
            Transfer(1, 2, BOB.public_key(), 1_000, 10, 0).signed(ALICE, PARAMS.chain_id),
            Transfer(1, 3, CAROL.public_key(), 50_000, 0, 1).signed(ALICE, PARAMS.chain_id),
        ],
    )
    b2 = apply_block(
        b1.state,
        PARAMS,
        2,
        [
            Withdraw(2, SPK, 20_000, 20, 0).signed(BOB, PARAMS.chain_id),
            Transfer(3, 1, ALICE.public_key(), 7_000, 1, 0).signed(CAROL, PARAMS.chain_id),
        ],
    )
    other = apply_block(
        genesis(4_000_000).state(),
        PARAMS,
        1,
        [
            Transfer(1, 2, BOB.public_key(), 1_000, 10, 0).signed(ALICE, PARAMS.chain_id),
        ],
    )
    blocks = tuple(ProvenBlock(r, _prove_cached(files, vk, r, pk_box)) for r in (b1, b2, other))
    return Batches(files, vk, g, blocks[:2], blocks[2])


@contextmanager
def running_anvil() -> Iterator[Anvil]:
    """A fresh anvil node for a fixture, stopped after; the test skips without anvil."""
    if find_anvil() is None:
        pytest.skip("anvil is not installed (scripts/setup-extra.sh)")
    try:
        node = start_anvil()
    except AnvilUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def anvil_url() -> Iterator[str]:
    with running_anvil() as node:
        yield node.url


@pytest.fixture(params=["embedded", "anvil"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EvmClient]:
    if request.param == "embedded":
        c: EvmClient = EmbeddedClient(tmp_path / "chain.sqlite")
    else:
        from bitcoinzk.settlement.evm.anvil import DEV_KEYS

        c = Web3Client(request.getfixturevalue("anvil_url"), DEV_KEYS[0])
    yield c
    c.close()


__all__ = ["OTHER_KEY", "PARAMS", "Batches", "circuit_id"]
