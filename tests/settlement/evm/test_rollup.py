"""The Rollup contract with real batch proofs, on embedded py-evm and on a real anvil node."""

from __future__ import annotations

import pytest

from bitcoinzk.da.batch import batch_hash, withdrawals, withdrawals_hash
from bitcoinzk.prover.public_input import FIELD_MODULUS
from bitcoinzk.settlement.evm.abi import Abi
from bitcoinzk.settlement.evm.anvil import DEV_KEYS
from bitcoinzk.settlement.evm.client import EmbeddedClient, EvmClient, TransactionReverted
from bitcoinzk.settlement.evm.contracts import compile_verifier
from bitcoinzk.settlement.evm.rollup import (
    InvalidProof,
    MalformedBatch,
    NotSequencer,
    Rollup,
    deploy,
    proof_words,
)

from .conftest import PARAMS, Batches


def _deploy(client: EvmClient, batches: Batches) -> Rollup:
    return deploy(client, batches.vk, PARAMS, batches.genesis.root)


def test_commits_real_batches_and_records_everything(client: EvmClient, batches: Batches) -> None:
    rollup = _deploy(client, batches)
    assert rollup.shape() == (PARAMS.block_slots, PARAMS.block_records)
    assert rollup.state_root() == batches.genesis.root
    old = batches.genesis.root
    for number, block in enumerate(batches.blocks, start=1):
        # the contract recomputes exactly the STF's public input from calldata
        assert rollup.public_input_of(block.batch_data, block.new_root) == block.result.public_input
        receipt = rollup.commit_batch(block.batch_data, block.new_root, block.proof)
        assert receipt.batch_number == number
        assert client.is_final(receipt.tx_hash)
        expected = batch_hash(PARAMS, number, old, block.new_root, block.result.pubdata)
        assert rollup.batch_hash_of(number) == receipt.batch_hash == expected
        items = withdrawals(block.result.pubdata)
        assert receipt.withdrawals == len(items)
        assert rollup.withdrawals_hash_of(number) == withdrawals_hash(items)
        old = block.new_root
    assert rollup.batch_count() == 2
    assert rollup.state_root() == batches.blocks[-1].new_root
    assert rollup.root_of(1) == batches.blocks[0].new_root
    assert [w.amount for w in withdrawals(batches.blocks[1].result.pubdata)] == [20_000]
    names = [e.name for e in rollup.events()]
    assert names == ["Deployed", "BatchCommitted", "BatchCommitted"]


def _rejected(
    rollup: Rollup, error: type[Exception], batch_data: bytes, new_root: int, proof: bytes
) -> None:
    before = rollup.snapshot()
    with pytest.raises(error):
        rollup.commit_batch(batch_data, new_root, proof)
    assert rollup.snapshot() == before


def test_rejections_leave_the_contract_unchanged(client: EvmClient, batches: Batches) -> None:
    rollup = _deploy(client, batches)
    b1, b2 = batches.blocks
    # a proof that is not a proof (valid curve points, wrong relation)
    bad = bytearray(b1.proof)
    bad[0:64] = b2.proof[0:64]
    _rejected(rollup, InvalidProof, b1.batch_data, b1.new_root, bytes(bad))
    # proof for another batch
    _rejected(rollup, InvalidProof, b1.batch_data, b1.new_root, b2.proof)
    # a valid proof of a block 1 built on another old root
    _rejected(
        rollup,
        InvalidProof,
        batches.forked.batch_data,
        batches.forked.new_root,
        batches.forked.proof,
    )
    # tampered calldata: one byte of the chunk and, separately, the claimed new root
    data = bytearray(b1.batch_data)
    data[6] ^= 1
    _rejected(rollup, InvalidProof, bytes(data), b1.new_root, b1.proof)
    _rejected(rollup, InvalidProof, b1.batch_data, b1.new_root ^ 1, b1.proof)
    # malformed: wrong length, too many chunks, a root outside the field
    _rejected(rollup, MalformedBatch, b1.batch_data + b"\x00", b1.new_root, b1.proof)
    _rejected(rollup, MalformedBatch, b"\x00\x03\x00\x00" + bytes(30), b1.new_root, b1.proof)
    _rejected(rollup, MalformedBatch, b1.batch_data, b1.new_root + FIELD_MODULUS, b1.proof)
    # a sender that is not the sequencer, with an otherwise perfect batch
    other = rollup.with_client(client.with_key(DEV_KEYS[1]))
    _rejected(other, NotSequencer, b1.batch_data, b1.new_root, b1.proof)
    before = rollup.snapshot()
    with pytest.raises(NotSequencer):
        other.set_sequencer(other.client.sender)
    assert rollup.snapshot() == before
    # the real one goes through; replaying it then fails
    rollup.commit_batch(b1.batch_data, b1.new_root, b1.proof)
    _rejected(rollup, InvalidProof, b1.batch_data, b1.new_root, b1.proof)
    rollup.commit_batch(b2.batch_data, b2.new_root, b2.proof)
    assert rollup.batch_count() == 2


def test_verifier_rejects_public_input_at_or_above_the_field_modulus(
    client: EvmClient, batches: Batches
) -> None:
    """pi and pi + r are the same field element: the verifier must refuse the second.

    The Rollup itself never produces such an input (it masks to 253 bits < r);
    this guards the verifier it relies on.
    """
    compiled = compile_verifier(batches.vk)
    address = client.deploy(compiled.bytecode).contract_address
    assert address is not None
    abi = Abi(compiled.abi)
    b1 = batches.blocks[0]
    w = proof_words(b1.proof)
    args = ([w[0], w[1]], [[w[2], w[3]], [w[4], w[5]]], [w[6], w[7]])
    pi = b1.result.public_input
    assert abi.decode_result(
        "verifyProof", client.call(address, abi.encode_call("verifyProof", *args, [pi]))
    )
    assert pi + FIELD_MODULUS < 2**256
    with pytest.raises(TransactionReverted, match="snark-scalar-field"):
        client.call(address, abi.encode_call("verifyProof", *args, [pi + FIELD_MODULUS]))


def test_sequencer_handover_emits_event(client: EvmClient, batches: Batches) -> None:
    rollup = _deploy(client, batches)
    new = client.with_key(DEV_KEYS[1])
    rollup.set_sequencer(new.sender)
    assert rollup.sequencer() == new.sender
    assert rollup.events()[-1].name == "SequencerChanged"
    b1 = batches.blocks[0]
    with pytest.raises(NotSequencer):
        rollup.commit_batch(b1.batch_data, b1.new_root, b1.proof)
    assert (
        rollup.with_client(new).commit_batch(b1.batch_data, b1.new_root, b1.proof).batch_number == 1
    )


def test_embedded_chain_survives_restart(tmp_path, batches: Batches) -> None:
    path = tmp_path / "chain.sqlite"
    client = EmbeddedClient(path)
    rollup = _deploy(client, batches)
    b1 = batches.blocks[0]
    receipt = rollup.commit_batch(b1.batch_data, b1.new_root, b1.proof)
    snapshot = rollup.snapshot()
    height = client.block_number()
    client.close()

    reopened = EmbeddedClient(path)
    again = Rollup(reopened, rollup.deployment)
    assert again.snapshot() == snapshot
    assert reopened.block_number() == height
    assert reopened.transaction_input(receipt.tx_hash) == rollup.commit_calldata(
        b1.batch_data, b1.new_root, b1.proof
    )
    b2 = batches.blocks[1]
    assert again.commit_batch(b2.batch_data, b2.new_root, b2.proof).batch_number == 2
    reopened.close()
