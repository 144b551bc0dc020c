"""Gold DA on the regtest chain: envelopes through the mempool and the kernel, read back.

The proofs are the settlement tests' real Groth16 proofs of STF blocks (cached
on disk), checked by the prover's `verify_proof`.
"""

from __future__ import annotations

from functools import partial

import coincurve

from bitcoinzk.bitcoin.block import Block
from bitcoinzk.bitcoin.policy import MAX_STANDARD_TX_WEIGHT
from bitcoinzk.bitcoin.regtest import RegtestNode
from bitcoinzk.bitcoin.tx import OutPoint, Tx, TxIn
from bitcoinzk.da.gold import (
    GoldBatch,
    GoldPublisher,
    GoldReader,
    PieceHeader,
    envelopes_in,
    split_blob,
)
from bitcoinzk.prover.service import verify_proof
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.pubdata import BlockPubdata, PubdataOp, public_input
from bitcoinzk.spec.types import OP_TRANSFER
from tests.bitcoin.conftest import funded, node, wallet
from tests.settlement.evm.conftest import PARAMS, Batches, ProvenBlock, batches

__all__ = ["batches", "funded", "node", "wallet"]

SEQUENCER = coincurve.PrivateKey(b"\x5e" * 32)
ATTACKER = coincurve.PrivateKey(b"\xa7" * 32)


def gold(pb: ProvenBlock, number: int) -> GoldBatch:
    t = pb.result.trace
    return GoldBatch(
        number, t.old_root, t.new_root, pb.result.public_input, pb.proof, pb.result.pubdata
    )


def blocks_since(node: RegtestNode, height: int) -> list[Block]:
    return [node.get_block(node.block_hash(h)) for h in range(height + 1, node.height() + 1)]


def test_batches_with_real_proofs_survive_hostile_envelopes(funded, batches: Batches):
    node, wallet = funded
    start = node.height()
    seq = GoldPublisher(node, wallet, SEQUENCER, PARAMS.chain_id, piece_bytes=100)
    bad = GoldPublisher(node, wallet, ATTACKER, PARAMS.chain_id, piece_bytes=100)
    b1, b2 = (gold(pb, n) for n, pb in ((1, batches.blocks[0]), (2, batches.blocks[1])))

    # published first, so the reader meets them before the honest batches
    forked = gold(batches.forked, 1)  # a valid proof, of another chain's block 1
    bad.publish(forked)
    node.mine(1)  # (confirms the wallet's change for the next commit)
    bad.publish(GoldBatch(1, b1.old_root, b1.new_root, b1.public_input, bytes(256), b1.pubdata))
    node.mine(1)
    lying_root = b2.new_root ^ 1  # consistent public input, but the proof is for the true root
    pi = public_input(PARAMS, 2, b2.old_root, lying_root, b2.pubdata)
    bad.publish(GoldBatch(2, b2.old_root, lying_root, pi, b2.proof, b2.pubdata))
    node.mine(1)
    bad.publish(GoldBatch(2, b2.old_root, b2.new_root, pi, b2.proof, b2.pubdata))  # pi mismatch
    node.mine(1)
    pieces = split_blob(PARAMS.chain_id, 2, b2.blob(), 100)
    h0 = pieces[0][0]
    garbage = [
        (b"xyz" + h0.encode()[3:], pieces[0][1]),  # wrong magic
        (b"bzk\x01" + h0.encode()[4:], pieces[0][1]),  # unknown (older) version
        (PieceHeader(PARAMS.chain_id, 2, 5, 5, h0.blob_len, h0.digest).encode(), b"x"),  # bad index
        (PieceHeader(PARAMS.chain_id, 2, 0, 1, h0.blob_len, h0.digest).encode(), b"x" * 9),
        (PieceHeader(PARAMS.chain_id, 3, 0, 3, 400, bytes(32)).encode(), b"never completes"),
        (PieceHeader(99, 2, 0, 1, 400, bytes(32)).encode(), b"other chain"),
        (b"", b""),
        (h0.encode(), b"junk"),  # a piece of the real batch 2, first, with other contents
    ]
    bad.send(bad.build_pieces(garbage))
    node.mine(1)

    pub2 = seq.build(b2)
    assert len(pub2.reveals) > 3  # split into pieces
    node.send_raw_transaction(pub2.commit)
    node.mine(1)
    seq.publish(b1)
    for tx in reversed(pub2.reveals):  # pieces arrive out of order, over two blocks
        node.send_raw_transaction(tx)
        if tx is pub2.reveals[2]:
            node.mine(1)
    node.mine(1)

    reader = GoldReader(PARAMS, batches.genesis.root, verify=partial(verify_proof, batches.vk))
    accepted = reader.scan(blocks_since(node, start))
    assert [(b.block_number, b.new_root) for b in accepted] == [(1, b1.new_root), (2, b2.new_root)]
    assert accepted[1].pubdata == b2.pubdata and reader.root == b2.new_root
    reasons = "\n".join(reader.rejected)
    for why in (
        "does not start from the current root",
        "proof does not verify",
        "public input does not match",
        "not a bitcoinzk piece header",
        "unknown envelope version",
        "piece 5 of 5",
        "pieces do not hash to the header",
        "chain id 99",
    ):
        assert why in reasons, why

    # a reader that only trusts the sequencer's key never even assembles the attacker's
    keyed = GoldReader(PARAMS, batches.genesis.root, publisher_key=seq.public_key)
    assert [b.block_number for b in keyed.scan(blocks_since(node, start))] == [1, 2]
    assert not keyed.proofs_checked


def test_a_batch_over_the_standard_weight_is_split_and_read_back(funded):
    node, wallet = funded
    n = 45_000  # 450 KB of transfers: more than one standard transaction can carry
    params = ChainParams(chain_id=7, tree_depth=24, block_slots=n, block_records=1)
    ops = [PubdataOp(OP_TRANSFER, 1 + i % 5000, 2 + i % 7000, 1_000 + i % 100, 1) for i in range(n)]
    pubdata = BlockPubdata.from_ops(ops)
    pi = public_input(params, 1, 11, 22, pubdata)
    batch = GoldBatch(1, 11, 22, pi, bytes(range(256)), pubdata)
    pub = GoldPublisher(node, wallet, SEQUENCER, params.chain_id).publish(batch)
    assert len(pub.reveals) == 2
    assert all(t.weight <= MAX_STANDARD_TX_WEIGHT for t in pub.reveals)
    start = node.height()
    node.mine(1)
    assert all(node.get_tx(t.txid).height == node.height() for t in pub.reveals)
    assert pub.vbytes / n < 3
    reader = GoldReader(params, 11, publisher_key=SEQUENCER.public_key_xonly.format())
    [read] = reader.scan(blocks_since(node, start))
    assert read == batch


def test_envelope_parser_ignores_what_is_not_an_envelope():
    control = b"\xc0" + bytes(32)
    script = bytes.fromhex("0063") + b"\x03abc" + bytes.fromhex("68")
    cases = {
        "truncated push": ([b"s", b"\x00\x63\x4d\xff", control], 0),
        "no control block": ([b"s", script], 0),
        "bad control block size": ([b"s", script, control + b"x"], 0),
        "unterminated": ([b"s", script[:-1], control], 0),
        "key path": ([bytes(64)], 0),
        "envelope": ([b"s", script, control], 1),
        "two envelopes and an annex": ([b"s", script + script, control, b"\x50"], 2),
    }
    for name, (witness, n) in cases.items():
        tx = Tx(2, [TxIn(OutPoint("00" * 32, 0), witness=witness)], [])
        assert len(envelopes_in(tx)) == n, name
