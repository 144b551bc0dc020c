"""The Ray prover fleet on a real local Ray cluster (2 CPUs, 2 prover slots): proofs from
its actors verify, a bad block is refused, and a node whose prover worker is killed
mid-proof still proves and commits every block exactly once.

Ray starts once for the module (~5-10 s); if it cannot start, these tests fail."""

from __future__ import annotations

import asyncio
import copy
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import ray

from bitcoinzk.node.rpc.client import AsyncNodeClient
from bitcoinzk.node.server import Node
from bitcoinzk.prover.fleet import PROVER_RESOURCE, FleetError, RayProverFleet
from bitcoinzk.prover.service import BatchProof
from bitcoinzk.prover.witness import build_inputs
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.stf import BlockResult, apply_block
from bitcoinzk.spec.types import Transfer
from tests.node.conftest import proving_config
from tests.spec.helpers import genesis, transfer

from .conftest import ALICE, ALICE_I, BOB_I, CAROL, PARAMS, Keys, genesis_state

# The node's chain: another chain id, the same circuit (and so the same key) as PARAMS.
NODE_PARAMS = ChainParams(chain_id=7, tree_depth=6, block_slots=2, block_records=1, fee_account=0)


@pytest.fixture(scope="module")
def fleet(keys: Keys) -> Iterator[RayProverFleet]:
    """A real local Ray cluster with two prover slots, and a fleet of two actors that
    have loaded the (cached) key: one start and one key load for the whole module."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, resources={PROVER_RESOURCE: 2}, include_dashboard=False)
    try:
        with RayProverFleet(PARAMS, workers=2, max_restarts=1) as fleet:
            yield fleet
    finally:
        ray.shutdown()


def blocks(n: int) -> list[BlockResult]:
    """`n` chained blocks, one transfer each."""
    state, out = genesis_state(), []
    for i in range(n):
        op = Transfer(ALICE_I, 3, CAROL.public_key(), 1_000 + i, 5, i).signed(ALICE, 1337)
        result = apply_block(state, PARAMS, i + 1, [op])
        out.append(result)
        state = result.state
    return out


def test_fleet_proofs_verify_and_a_bad_block_is_refused(fleet: RayProverFleet) -> None:
    first, second = blocks(2)
    bad = copy.deepcopy(build_inputs(second.trace, PARAMS))
    bad["chunk_b"] = [BOB_I, 0]  # published recipient is not the account credited
    many = [build_inputs(first.trace, PARAMS), bad, build_inputs(second.trace, PARAMS)]
    assert fleet.parallel == 2
    pids = {w["pid"] for w in fleet.workers()}
    assert len(pids) == 2 and os.getpid() not in pids  # two actor processes
    out = asyncio.run(fleet.prove_many(many))
    assert [type(x).__name__ for x in out] == ["BatchProof", "ProofError", "BatchProof"]
    for result, proof in ((first, out[0]), (second, out[2])):
        assert isinstance(proof, BatchProof) and len(proof.proof) == 256
        assert proof.public_input == result.public_input
        assert fleet.verify(proof.proof, result.public_input)
    assert {w["proven"] for w in fleet.workers()} == {1, 2}  # both actors proved
    greedy = RayProverFleet(PARAMS, workers=3)
    try:
        with pytest.raises(FleetError, match="3 prover workers asked for"):
            greedy.start()
    finally:
        greedy.close()


async def _kill_when_proving(fleet: RayProverFleet) -> int:
    """As soon as an actor has a proof in flight, SIGKILL its process; its pid."""
    deadline = time.monotonic() + 300
    while not any(w["busy"] for w in fleet.workers()):
        assert time.monotonic() < deadline, "no proof started"
        await asyncio.sleep(0.01)
    pid = next(w["pid"] for w in fleet.workers() if w["busy"])
    assert isinstance(pid, int)
    await asyncio.sleep(0.3)  # into the proof, not merely queued
    os.kill(pid, signal.SIGKILL)
    return pid


async def _node_run(data_dir: Path, fleet: RayProverFleet) -> int:
    gen = genesis(params=NODE_PARAMS)
    config = proving_config(data_dir, settlement="embedded")
    node = Node(config, gen, prover=fleet)
    await node.start()
    try:
        async with aiohttp.ClientSession() as session:
            rpc = AsyncNodeClient(session, node.url)
            killer = asyncio.ensure_future(_kill_when_proving(fleet))
            ops = [transfer(1, 2, 1_000 + i, nonce=i, params=NODE_PARAMS) for i in range(3)]
            for op in ops:  # one block each: two proofs in flight, then one
                await rpc("bzk_sendTransaction", op.to_json())
                await asyncio.sleep(0.4)
            killed = await killer
            for _ in range(1200):
                head = await rpc("bzk_blockNumber")
                batches = [await rpc("bzk_getBatch", n) for n in range(1, head + 1)]
                assert not any(b["status"] == "failed" for b in batches), batches
                if head >= 2 and all(b["status"] == "final" for b in batches):
                    break
                await asyncio.sleep(0.25)
            assert all(b["status"] == "final" for b in batches), batches
            for b in batches:
                assert fleet.verify(bytes.fromhex(b["proof"][2:]), int(b["public_input"], 16))
            assert node.rollup is not None
            # Each block committed exactly once, in order, whatever happened to its proof.
            committed = [c.batch_number for c in node.rollup.committed()]
            assert committed == list(range(1, head + 1))
            assert node.rollup.state_root() == int(await rpc("bzk_stateRoot"), 16)
            return killed
    finally:
        await node.stop()


def test_node_on_the_fleet_survives_a_worker_killed_mid_proof(
    fleet: RayProverFleet, tmp_path: Path
) -> None:
    lost_before = fleet.resubmitted
    killed = asyncio.run(_node_run(tmp_path / "node", fleet))
    assert fleet.resubmitted > lost_before  # the killed worker's block was proven again
    # Ray restarts the killed actor (max_restarts=1): a new process that reloads the key.
    fleet.wait_ready()
    workers = fleet.workers()
    assert len(workers) == 2 and all(w["alive"] for w in workers), workers
    assert killed not in {w["pid"] for w in workers}
    assert sum(int(str(w["lost"])) for w in workers) == fleet.resubmitted
