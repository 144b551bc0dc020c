"""Gold: the state rebuilt from Taproot envelopes on the regtest chain, with the STF."""

from __future__ import annotations

from functools import partial

import coincurve

from bitcoinzk.da.gold import GoldBatch, GoldPublisher, GoldReader
from bitcoinzk.fullnode.gold import GoldFollower
from bitcoinzk.prover.service import verify_proof
from bitcoinzk.spec.pubdata import public_input
from tests.bitcoin.conftest import funded, node, wallet
from tests.da.test_gold import blocks_since, gold
from tests.settlement.evm.conftest import PARAMS, Batches, batches, genesis

__all__ = ["batches", "funded", "node", "wallet"]

SEQUENCER = coincurve.PrivateKey(b"\x5e" * 32)


def test_gold_follower_replays_batches_and_refuses_a_rule_breaking_one(funded, batches: Batches):
    node, wallet = funded
    start = node.height()
    seq = GoldPublisher(node, wallet, SEQUENCER, PARAMS.chain_id, piece_bytes=100)
    b1, b2 = (gold(pb, n) for n, pb in ((1, batches.blocks[0]), (2, batches.blocks[1])))
    # The sequencer itself publishes, under its own key, a batch 1 whose data does not give
    # its root (a made-up state), with a consistent public input and no valid proof.
    made_up = b1.new_root ^ 1
    pi = public_input(PARAMS, 1, b1.old_root, made_up, b1.pubdata)
    seq.publish(GoldBatch(1, b1.old_root, made_up, pi, bytes(256), b1.pubdata))
    node.mine(1)
    seq.publish(b1)
    node.mine(1)
    seq.publish(b2)
    node.mine(1)
    blocks = blocks_since(node, start)

    # a reader trusting the key alone takes the made-up batch and is stuck on it
    keyed = GoldReader(PARAMS, batches.genesis.root, publisher_key=seq.public_key)
    assert [b.new_root for b in keyed.scan(blocks)] == [made_up]

    # the follower replays with the STF: refuses it, then follows the real chain
    follower = GoldFollower.from_genesis(genesis(), publisher_key=seq.public_key)
    accepted = follower.scan(blocks)
    assert [b.block_number for b in accepted] == [1, 2]
    assert any("the STF refuses it" in r for r in follower.rejected), follower.rejected
    expected = batches.blocks[1].result.state
    assert follower.state.root == follower.root == expected.root
    for index in range(4):
        assert follower.state.get(index) == expected.get(index)
        assert follower.state.proof(index) == expected.proof(index)

    # with the proofs checked too, the same state
    checked = GoldFollower.from_genesis(genesis(), verify=partial(verify_proof, batches.vk))
    checked.scan(blocks)
    assert checked.state.root == expected.root
