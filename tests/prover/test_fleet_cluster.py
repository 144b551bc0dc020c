"""N machines, played on one: a Ray head (`ray start --head`, no prover slot) and
machines joined by `bzk prover worker --address`, each a Ray node of its own.

- A node reaching the cluster through Ray Client (ray://): its actor lands on the
  worker and its proofs verify.
- A node on the head whose fleet starts with one worker: a second that joins later
  proves blocks, the one proving a block leaving (SIGTERM) loses nothing, and a third
  that joins after that proves too; every block is committed once, in order.

Every process here is started by the test and stopped by its pid; the head keeps its
files in a temp dir of its own. If Ray cannot start, the test fails."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
import ray

from bitcoinzk.node.rpc.client import AsyncNodeClient
from bitcoinzk.node.server import Node
from bitcoinzk.procutil import free_port
from bitcoinzk.prover.fleet import PROVER_RESOURCE, RayProverFleet
from bitcoinzk.prover.service import BatchProof
from bitcoinzk.prover.witness import build_inputs
from bitcoinzk.spec.stf import apply_block
from bitcoinzk.spec.types import Transfer
from tests.node.conftest import proving_config
from tests.spec.helpers import genesis, transfer

from .conftest import ALICE, ALICE_I, CAROL, PARAMS, Keys, genesis_state
from .test_fleet import NODE_PARAMS

ROOT = Path(__file__).resolve().parents[2]
RAY = Path(sys.executable).parent / "ray"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM: `ray start --block` then stops the Ray processes it started."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Cluster:
    """A running head; `join` adds a prover machine (`bzk prover worker`, one slot)."""

    gcs: str
    """The head's GCS address: what workers join, and a node on the head connects to."""
    client: str
    """The head's Ray Client address (ray://)."""
    env: dict[str, str]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def join(self) -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-m", "bitcoinzk.cli", "prover", "worker"]
        argv += ["--address", self.gcs, "--provers", "1"]
        worker = subprocess.Popen(
            [*argv, "--tree-depth", "6", "--block-slots", "2", "--block-records", "1"],
            env=self.env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.workers.append(worker)
        return worker


@pytest.fixture(scope="module")
def cluster(keys: Keys) -> Iterator[Cluster]:
    """A head without prover slots and one worker joined (more join with `Cluster.join`):
    one head for the module, whose start is most of these tests' time."""
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PYTHONPATH": str(ROOT)}
    temp = tempfile.mkdtemp(prefix="bzkray", dir="/tmp")  # short: Ray's socket paths
    gcs, client = free_port(), free_port()
    head_argv = [str(RAY), "start", "--head", "--block", "--port", str(gcs), "--num-cpus", "0"]
    head_argv += ["--ray-client-server-port", str(client), "--temp-dir", temp]
    head = subprocess.Popen(
        [*head_argv, "--include-dashboard", "false"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    running = Cluster(f"127.0.0.1:{gcs}", f"ray://127.0.0.1:{client}", env)
    try:
        running.join()
        yield running
    finally:
        for worker in running.workers:
            _stop(worker)
        _stop(head)
        shutil.rmtree(temp, ignore_errors=True)


def test_a_joined_worker_proves_for_a_node_over_ray_client(cluster: Cluster) -> None:
    deadline = time.monotonic() + 300
    while True:  # the head's client server and the worker come up in their own time
        try:
            ray.init(address=cluster.client, log_to_driver=False)
            break
        except ConnectionError:
            assert time.monotonic() < deadline, "Ray Client did not answer"
            time.sleep(1)
    try:
        while ray.cluster_resources().get(PROVER_RESOURCE, 0) < 1:  # type: ignore[no-untyped-call]
            assert time.monotonic() < deadline, "the worker did not join"
            time.sleep(1)
        workers = _prover_nodes()
        state = genesis_state()
        op = Transfer(ALICE_I, 3, CAROL.public_key(), 4_000, 5, 0).signed(ALICE, PARAMS.chain_id)
        result = apply_block(state, PARAMS, 1, [op])
        with RayProverFleet(PARAMS, address=cluster.client) as fleet:
            assert fleet.workers()
            for worker in fleet.workers():  # on the joined machines, not the head
                assert worker["node_id"] in workers
            (proof,) = asyncio.run(fleet.prove_many([build_inputs(result.trace, PARAMS)]))
        assert isinstance(proof, BatchProof)
        assert fleet.verify(proof.proof, result.public_input)
    finally:
        ray.shutdown()


def _prover_nodes() -> set[str]:
    """The Ray nodes alive now that offer prover slots."""
    nodes = ray.nodes()  # type: ignore[no-untyped-call]
    return {n["NodeID"] for n in nodes if n["Alive"] and PROVER_RESOURCE in n["Resources"]}


def _await_nodes(want: int, deadline: float) -> set[str]:
    while len(nodes := _prover_nodes()) != want:
        assert time.monotonic() < deadline, f"expected {want} prover machines, have {nodes}"
        time.sleep(0.5)
    return nodes


@dataclass
class Ledger:
    """Which machine proved which block: blocks go one at a time, so the actor whose
    `proven` count moved proved the block, on the machine it lives on now."""

    fleet: RayProverFleet
    by_node: Counter[str] = field(default_factory=Counter)
    seen: dict[int, int] = field(default_factory=dict)

    def settle(self) -> None:
        for w in self.fleet.workers():
            index, proven = int(str(w["index"])), int(str(w["proven"]))
            if proven > self.seen.get(index, 0):
                self.by_node[str(w["node_id"])] += proven - self.seen.get(index, 0)
                self.seen[index] = proven


async def _await_proven(rpc: AsyncNodeClient, number: int, deadline: float) -> None:
    """Until block `number` (the head: one transfer per block) has its proof."""
    while True:
        head = await rpc("bzk_blockNumber")
        batch = await rpc("bzk_getBatch", number) if head >= number else None
        assert batch is None or batch["status"] != "failed", batch
        if batch is not None and batch["status"] in ("proven", "committed", "final"):
            return
        assert time.monotonic() < deadline, f"block {number} not proven: {batch}"
        await asyncio.sleep(0.1)


async def _busy_worker(fleet: RayProverFleet, deadline: float) -> dict[str, object]:
    """The worker that has a proof in flight, as soon as one has."""
    while not (busy := [w for w in fleet.workers() if w["busy"]]):
        assert time.monotonic() < deadline, "no proof started"
        await asyncio.sleep(0.01)
    return busy[0]


async def _elastic_run(cluster: Cluster, data_dir: Path, deadline: float) -> None:
    (first,) = _await_nodes(1, deadline)
    fleet = RayProverFleet(PARAMS, address=cluster.gcs, log_to_driver=False)
    fleet.start()  # one actor: the one slot there is
    node = Node(proving_config(data_dir, settlement="embedded"), genesis(params=NODE_PARAMS), fleet)
    await node.start()
    ledger = Ledger(fleet)
    sent = 0
    try:
        async with aiohttp.ClientSession() as session:
            rpc = AsyncNodeClient(session, node.url)

            async def prove_one() -> None:
                """One transfer, in a block of its own, proven before the next is sent."""
                nonlocal sent
                op = transfer(1, 2, 1_000 + sent, nonce=sent, params=NODE_PARAMS)
                await rpc("bzk_sendTransaction", op.to_json())
                sent += 1
                await _await_proven(rpc, sent, deadline)
                ledger.settle()

            async def prove_until_on(machine: str) -> None:
                """Blocks until one is proven on `machine`: a new actor takes work once it
                has loaded its key (the next block after, as it has proven least)."""
                limit = sent + 30
                while ledger.by_node[machine] == 0:
                    assert sent < limit, f"no block proven on {machine}: {ledger.by_node}"
                    await prove_one()

            await prove_until_on(first)
            # 1. a machine joins while the node runs: the fleet gives it an actor and work
            second_proc = cluster.join()
            (second,) = await asyncio.to_thread(_await_nodes, 2, deadline) - {first}
            await prove_until_on(second)
            # 2. the machine proving the next block leaves (SIGTERM) mid-proof: Ray's
            # orderly stop may let that proof finish, or the block is proven again on the
            # other; either way it is proven, and blocks go on proving on the other
            procs = {first: cluster.workers[0], second: second_proc}
            op = transfer(1, 2, 1_000 + sent, nonce=sent, params=NODE_PARAMS)
            await rpc("bzk_sendTransaction", op.to_json())
            sent += 1
            leaving = str((await _busy_worker(fleet, deadline))["node_id"])
            (staying,) = set(procs) - {leaving}
            await asyncio.sleep(0.3)  # into the proof, not merely queued
            await asyncio.to_thread(_stop, procs[leaving])
            await _await_proven(rpc, sent, deadline)
            ledger.settle()
            await asyncio.to_thread(_await_nodes, 1, deadline)
            before = ledger.by_node[staying]
            await prove_one()
            assert ledger.by_node[staying] == before + 1
            # 3. a third machine joins afterwards: it gets an actor (a new one, or the left
            # machine's restarted there) and work
            cluster.join()
            nodes = await asyncio.to_thread(_await_nodes, 2, deadline)
            (third,) = nodes - {staying}
            await prove_until_on(third)
            assert procs[staying].poll() is None
            assert set(ledger.by_node) == {first, second, third}
            # every block final, each committed once, in order, with a proof that verifies
            while True:
                batches = [await rpc("bzk_getBatch", n) for n in range(1, sent + 1)]
                if all(b["status"] == "final" for b in batches):
                    break
                assert not any(b["status"] == "failed" for b in batches), batches
                assert time.monotonic() < deadline, batches
                await asyncio.sleep(0.25)
            for b in batches:
                assert fleet.verify(bytes.fromhex(b["proof"][2:]), int(b["public_input"], 16))
            assert node.rollup is not None
            committed = [c.batch_number for c in node.rollup.committed()]
            assert committed == list(range(1, sent + 1))
            assert node.rollup.state_root() == int(await rpc("bzk_stateRoot"), 16)
            assert sum(ledger.by_node.values()) == sent
    finally:
        await node.stop()
        fleet.close()


def test_workers_joining_and_leaving_while_the_node_runs(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    deadline = time.monotonic() + 600
    while True:  # the head comes up in its own time
        try:
            ray.init(address=cluster.gcs, log_to_driver=False)
            break
        except ConnectionError:
            assert time.monotonic() < deadline, "the head did not answer"
            time.sleep(1)
    try:
        asyncio.run(_elastic_run(cluster, tmp_path / "node", deadline))
    finally:
        ray.shutdown()
