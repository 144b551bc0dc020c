"""The Rollup's walk of the chunks (withdrawals hash, deposit count, batch length) and the
DA reader on top of it, with every record-carrying op in one batch.

The verifier here is the bench's one-constraint circuit (bitcoinzk.bench.settlement): its
proofs are real Groth16 proofs of whatever public input the contract recomputes, so these
tests exercise pubdata v2 on-chain without waiting for a batch-circuit key.
"""

from __future__ import annotations

import groth16py
import pytest

from bitcoinzk.bench.settlement import _gas_key
from bitcoinzk.crypto.eddsa import PrivateKey
from bitcoinzk.da.batch import batch_hash, withdrawals, withdrawals_hash
from bitcoinzk.da.evm import EvmBatchReader
from bitcoinzk.settlement.evm.client import EmbeddedClient
from bitcoinzk.settlement.evm.contracts import compile_verifier
from bitcoinzk.settlement.evm.rollup import MalformedBatch, Rollup, deploy
from bitcoinzk.spec.params import OUTPOINT_BYTES, ChainParams
from bitcoinzk.spec.pubdata import BlockPubdata, PubdataOp, public_input
from bitcoinzk.spec.types import OP_DEPOSIT, OP_TRANSFER, OP_TRANSFER_NEW, OP_WITHDRAW

PARAMS = ChainParams(chain_id=1337, tree_depth=24, block_slots=8, block_records=6, fee_account=0)
P2WPKH = bytes.fromhex("0014") + bytes(range(20))
LONGEST = bytes.fromhex("5120") + bytes(range(32))  # 34 bytes: a P2TR output


def key(n: int) -> PrivateKey:
    return PrivateKey(bytes([n]) * 32)


OPS = [
    PubdataOp(OP_DEPOSIT, 0, 7, 2_100_000_000_000_000, 0, key(1).public_key(), b"\x11" * 32, 3),
    PubdataOp(OP_WITHDRAW, 7, 0, 2**48 - 1, 70, script_pubkey=LONGEST),
    PubdataOp(OP_TRANSFER, 7, 8, 123_000, 3),
    PubdataOp(OP_TRANSFER_NEW, 7, 9, 5_000, 1, pubkey=key(2).public_key()),
    PubdataOp(OP_DEPOSIT, 0, 10, 1, 0, key(3).public_key(), b"\x22" * 32, 2**32 - 1),
    PubdataOp(OP_WITHDRAW, 9, 0, 1_000, 0, script_pubkey=P2WPKH),
]


@pytest.fixture(scope="module")
def gas_key() -> tuple[groth16py.ProvingKey, groth16py.VerifyingKey]:
    return _gas_key()


def _deploy(client: EmbeddedClient, vk: groth16py.VerifyingKey) -> Rollup:
    verifier = compile_verifier(vk, "gas-equivalent-one-public-input")
    return deploy(client, vk, PARAMS, genesis_root=1, verifier=verifier)


def _proof(pk: groth16py.ProvingKey, pubdata: BlockPubdata, number: int, old: int, new: int):
    return groth16py.prove(pk, {"x": public_input(PARAMS, number, old, new, pubdata), "y": 1})


def test_contract_walk_matches_python(gas_key) -> None:
    pk, vk = gas_key
    client = EmbeddedClient()
    rollup = _deploy(client, vk)
    pubdata = BlockPubdata.from_ops(OPS)
    assert len(pubdata.outpoints) == 2 * OUTPOINT_BYTES
    receipt = rollup.commit_batch(pubdata.to_bytes(), 2, _proof(pk, pubdata, 1, 1, 2))
    items = withdrawals(pubdata)
    assert [(w.amount, w.script_pubkey) for w in items] == [(2**48 - 1, LONGEST), (1_000, P2WPKH)]
    assert receipt.withdrawals == 2
    assert receipt.withdrawals_hash == withdrawals_hash(items)
    assert receipt.batch_hash == batch_hash(PARAMS, 1, 1, 2, pubdata)
    # no record: nothing walked, empty hash, no outpoints
    plain = BlockPubdata.from_ops([OPS[2]])
    receipt = rollup.commit_batch(plain.to_bytes(), 3, _proof(pk, plain, 2, 2, 3))
    assert receipt.withdrawals == 0 and receipt.withdrawals_hash == bytes(32)
    # the DA reader recovers both batches, deposits' outpoints included
    reader = EvmBatchReader(rollup, PARAMS)
    published = list(reader.batches())
    assert [b.pubdata for b in published] == [pubdata, plain]
    deposits = [op for op in published[0].pubdata.ops() if op.op == OP_DEPOSIT]
    assert [(d.txid, d.vout) for d in deposits] == [(b"\x11" * 32, 3), (b"\x22" * 32, 2**32 - 1)]
    client.close()


def test_outpoints_must_match_the_deposits(gas_key) -> None:
    pk, vk = gas_key
    client = EmbeddedClient()
    rollup = _deploy(client, vk)
    pubdata = BlockPubdata.from_ops(OPS)
    raw = pubdata.to_bytes()
    # whatever the proof, a batch whose outpoints are not 36 bytes per deposit is refused
    proof = _proof(pk, pubdata, 1, 1, 2)
    for bad in (raw[:-OUTPOINT_BYTES], raw[:-1], raw + bytes(OUTPOINT_BYTES)):
        with pytest.raises(MalformedBatch, match="batch data length"):
            rollup.commit_batch(bad, 2, proof)
    no_deposit = BlockPubdata.from_ops(OPS[1:4]).to_bytes()
    with pytest.raises(MalformedBatch, match="batch data length"):
        rollup.commit_batch(no_deposit + bytes(OUTPOINT_BYTES), 2, proof)
    assert rollup.batch_count() == 0
    rollup.commit_batch(raw, 2, proof)
    assert rollup.batch_count() == 1
    client.close()
