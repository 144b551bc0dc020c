"""commitBatches: k proofs in one transaction, one pairing call of k + 3 pairs.

Real batch-circuit proofs (conftest) on embedded py-evm and on anvil, and, for k up to
MAX_BATCHES, real proofs of the bench's one-constraint circuit (same verifier code and
gas: the verifier's cost depends only on the number of public inputs).
"""

from __future__ import annotations

import groth16py
import pytest
from py_ecc.fields import optimized_bn128_FQ as FQ
from py_ecc.optimized_bn128.optimized_curve import add, multiply, neg, normalize

from bitcoinzk.bench.settlement import _gas_key, transfer_batch
from bitcoinzk.da.batch import batch_hash, withdrawals, withdrawals_hash
from bitcoinzk.da.evm import EvmBatchReader
from bitcoinzk.prover.service import verify_proof
from bitcoinzk.settlement.evm.client import EmbeddedClient, EvmClient, TransactionReverted
from bitcoinzk.settlement.evm.contracts import MAX_BATCHES, compile_verifier
from bitcoinzk.settlement.evm.rollup import (
    GENESIS_CHAIN_HASH,
    InvalidProof,
    MalformedBatch,
    Rollup,
    batch_weights,
    deploy,
    next_chain_hash,
)
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.pubdata import public_input

from .conftest import PARAMS, Batches

G1Point = tuple[FQ, FQ, FQ]


def _deploy(client: EvmClient, batches: Batches) -> Rollup:
    return deploy(client, batches.vk, PARAMS, batches.genesis.root)


def _rejected(rollup: Rollup, error: type[Exception], commits: list[tuple[bytes, int, bytes]]):
    before = rollup.snapshot()
    with pytest.raises(error):
        rollup.commit_batches(commits)
    assert rollup.snapshot() == before


def test_two_real_batches_in_one_call(client: EvmClient, batches: Batches) -> None:
    rollup = _deploy(client, batches)
    b1, b2 = batches.blocks
    receipts = rollup.commit_batches([(b.batch_data, b.new_root, b.proof) for b in (b1, b2)])
    assert [r.batch_number for r in receipts] == [1, 2]
    assert receipts[0].tx_hash == receipts[1].tx_hash
    assert all(r.batches_in_tx == 2 for r in receipts)
    assert rollup.batch_count() == 2
    assert rollup.state_root() == b2.new_root
    # every batch's values, and the chain the node recomputes from its own blocks
    chain = GENESIS_CHAIN_HASH
    old = batches.genesis.root
    for number, (block, receipt) in enumerate(zip((b1, b2), receipts, strict=True), start=1):
        digest = batch_hash(PARAMS, number, old, block.new_root, block.result.pubdata)
        w_hash = withdrawals_hash(withdrawals(block.result.pubdata))
        chain = next_chain_hash(chain, block.new_root, digest, w_hash)
        assert (receipt.batch_hash, receipt.withdrawals_hash, receipt.chain_hash) == (
            digest,
            w_hash,
            chain,
        )
        assert rollup.batch_hash_of(number) == digest
        assert rollup.withdrawals_hash_of(number) == w_hash
        old = block.new_root
    # one slot for the call: at its last batch, none for the one inside it
    assert rollup.chain_hash_of(2) == chain == rollup.head()[2]
    assert rollup.chain_hash_of(1) == bytes(32)
    # the data-availability reader splits the call back into its batches
    state = EvmBatchReader(rollup, PARAMS).rebuild(batches.genesis)
    assert state.root == b2.new_root


def test_one_bad_proof_or_input_among_k_reverts_everything(
    client: EvmClient, batches: Batches
) -> None:
    rollup = _deploy(client, batches)
    b1, b2 = batches.blocks
    good = [(b1.batch_data, b1.new_root, b1.proof), (b2.batch_data, b2.new_root, b2.proof)]
    # the second proof tampered (valid points, wrong relation)
    bad = bytearray(b2.proof)
    bad[0:64] = b1.proof[0:64]
    _rejected(rollup, InvalidProof, [good[0], (b2.batch_data, b2.new_root, bytes(bad))])
    # the first proof tampered, the second fine
    bad = bytearray(b1.proof)
    bad[192:256] = b2.proof[192:256]
    _rejected(rollup, InvalidProof, [(b1.batch_data, b1.new_root, bytes(bad)), good[1]])
    # the proofs swapped: each valid, for the other batch
    _rejected(
        rollup,
        InvalidProof,
        [(b1.batch_data, b1.new_root, b2.proof), (b2.batch_data, b2.new_root, b1.proof)],
    )
    # a wrong public input: the second batch's claimed root, or one byte of its data
    _rejected(rollup, InvalidProof, [good[0], (b2.batch_data, b2.new_root ^ 1, b2.proof)])
    data = bytearray(b2.batch_data)
    data[6] ^= 1
    _rejected(rollup, InvalidProof, [good[0], (bytes(data), b2.new_root, b2.proof)])
    # a valid batch 1 twice: the second copy's public input has block 2 and another root
    _rejected(rollup, InvalidProof, [good[0], good[0]])
    # batch 2 alone, before batch 1
    _rejected(rollup, InvalidProof, [good[1]])
    # a well-formed first batch cannot carry a malformed second one
    _rejected(rollup, MalformedBatch, [good[0], (b2.batch_data + b"\x00", b2.new_root, b2.proof)])
    # lists of different lengths, and an empty commit, straight to the contract
    for call in (
        rollup.abi.encode_call(
            "commitBatches", [b1.batch_data], [b1.new_root, b2.new_root], [[1] * 8]
        ),
        rollup.abi.encode_call("commitBatches", [], [], []),
    ):
        before = rollup.snapshot()
        with pytest.raises(TransactionReverted, match="batch count"):
            client.send(rollup.address, call)
        assert rollup.snapshot() == before
    rollup.commit_batches(good)
    assert rollup.batch_count() == 2


@pytest.fixture(scope="module")
def gas_key() -> tuple[groth16py.ProvingKey, groth16py.VerifyingKey]:
    return _gas_key()


GAS_PARAMS = ChainParams(chain_id=1337, tree_depth=24, block_slots=4, block_records=1)


def _gas_commits(
    pk: groth16py.ProvingKey, k: int, first: int = 1
) -> list[tuple[bytes, int, bytes, int]]:
    """k consecutive batches from root `first` (roots first+1, ...) with their proofs and inputs."""
    out = []
    for i in range(k):
        pubdata = transfer_batch(GAS_PARAMS.block_slots, seed=i)
        old, new = first + i, first + i + 1
        pi = public_input(GAS_PARAMS, i + 1, old, new, pubdata)
        out.append((pubdata.to_bytes(), new, groth16py.prove(pk, {"x": pi, "y": 1}), pi))
    return out


def test_max_batches_in_one_call_and_one_more_is_refused(gas_key) -> None:
    pk, vk = gas_key
    client = EmbeddedClient()
    verifier = compile_verifier(vk, "gas-equivalent-one-public-input")
    rollup = deploy(client, vk, GAS_PARAMS, genesis_root=1, verifier=verifier)
    commits = _gas_commits(pk, MAX_BATCHES + 1)
    with pytest.raises(ValueError):
        rollup.commit_batches([c[:3] for c in commits])
    over = rollup.abi.encode_call(
        "commitBatches",
        [c[0] for c in commits],
        [c[1] for c in commits],
        [[int.from_bytes(c[2][i : i + 32], "big") for i in range(0, 256, 32)] for c in commits],
    )
    with pytest.raises(TransactionReverted):
        client.send(rollup.address, over)
    receipts = rollup.commit_batches([c[:3] for c in commits[:MAX_BATCHES]])
    assert [r.batch_number for r in receipts] == list(range(1, MAX_BATCHES + 1))
    assert rollup.state_root() == MAX_BATCHES + 1
    assert len(rollup.committed()) == MAX_BATCHES


def _g1(proof: bytes, at: int) -> G1Point:
    x, y = (int.from_bytes(proof[at + i : at + i + 32], "big") for i in (0, 32))
    return (FQ(x), FQ(y), FQ(1))


def _with_c(proof: bytes, point: G1Point) -> bytes:
    x, y = normalize(point)
    return proof[:192] + int(x).to_bytes(32, "big") + int(y).to_bytes(32, "big")


def test_weights_cannot_be_chosen_by_the_submitter(gas_key) -> None:
    """Two forged proofs whose errors cancel under the weights an honest pair gets.

    C_0' = C_0 + r_1 D and C_1' = C_1 - D: neither verifies alone, yet with the honest
    pair's weights (r_0 = 1, r_1) the weighted sums the batched check uses (sum r_i C_i,
    and A, B, the inputs unchanged) equal the honest ones, so a check with weights fixed
    in advance, or picked by the sender, would pass. The contract derives the weights
    from the proofs it is given: the forged pair gets other weights and is refused.
    """
    pk, vk = gas_key
    client = EmbeddedClient()
    verifier = compile_verifier(vk, "gas-equivalent-one-public-input")
    rollup = deploy(client, vk, GAS_PARAMS, genesis_root=1, verifier=verifier)
    (d0, r0, p0, x0), (d1, r1, p1, x1) = _gas_commits(pk, 2)
    weights = batch_weights([p0, p1], [x0, x1])
    assert weights[0] == 1 and weights[1] not in (0, 1)
    shift = multiply(_g1(p0, 0), 12345)  # any point D
    f0 = _with_c(p0, add(_g1(p0, 192), multiply(shift, weights[1])))
    f1 = _with_c(p1, add(_g1(p1, 192), neg(shift)))
    assert not verify_proof(vk, f0, x0) and not verify_proof(vk, f1, x1)
    honest_sum = add(_g1(p0, 192), multiply(_g1(p1, 192), weights[1]))
    forged_sum = add(_g1(f0, 192), multiply(_g1(f1, 192), weights[1]))
    assert normalize(honest_sum) == normalize(forged_sum)
    assert batch_weights([f0, f1], [x0, x1])[1] != weights[1]
    _rejected(rollup, InvalidProof, [(d0, r0, f0), (d1, r1, f1)])
    # the honest pair itself passes
    rollup.commit_batches([(d0, r0, p0), (d1, r1, p1)])
    assert rollup.batch_count() == 2
