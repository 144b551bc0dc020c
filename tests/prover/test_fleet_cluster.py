"""N machines, played on one: a Ray head (`ray start --head`, no prover slot), a machine
joined by `bzk prover worker --address`, and a node reaching the cluster through Ray
Client (ray://). The node's actor lands on the worker and its proofs verify.

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
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray

from bitcoinzk.procutil import free_port
from bitcoinzk.prover.fleet import PROVER_RESOURCE, RayProverFleet
from bitcoinzk.prover.service import BatchProof
from bitcoinzk.prover.witness import build_inputs
from bitcoinzk.spec.stf import apply_block
from bitcoinzk.spec.types import Transfer

from .conftest import ALICE, ALICE_I, CAROL, PARAMS, Keys, genesis_state

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


@pytest.fixture
def cluster(keys: Keys) -> Iterator[str]:
    """A head without prover slots and one `bzk prover worker`; yields the ray:// address."""
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
    worker: subprocess.Popen[bytes] | None = None
    try:
        worker_argv = [sys.executable, "-m", "bitcoinzk.cli", "prover", "worker"]
        worker_argv += ["--address", f"127.0.0.1:{gcs}", "--provers", "1"]
        worker = subprocess.Popen(
            [*worker_argv, "--tree-depth", "6", "--block-slots", "2", "--block-records", "1"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        yield f"ray://127.0.0.1:{client}"
    finally:
        if worker is not None:
            _stop(worker)
        _stop(head)
        shutil.rmtree(temp, ignore_errors=True)


def test_a_joined_worker_proves_for_a_node_over_ray_client(cluster: str) -> None:
    deadline = time.monotonic() + 300
    while True:  # the head's client server and the worker come up in their own time
        try:
            ray.init(address=cluster, log_to_driver=False)
            break
        except ConnectionError:
            assert time.monotonic() < deadline, "Ray Client did not answer"
            time.sleep(1)
    try:
        while ray.cluster_resources().get(PROVER_RESOURCE, 0) < 1:  # type: ignore[no-untyped-call]
            assert time.monotonic() < deadline, "the worker did not join"
            time.sleep(1)
        nodes = ray.nodes()  # type: ignore[no-untyped-call]
        worker_node = next(
            n["NodeID"] for n in nodes if n["Alive"] and PROVER_RESOURCE in n["Resources"]
        )
        state = genesis_state()
        op = Transfer(ALICE_I, 3, CAROL.public_key(), 4_000, 5, 0).signed(ALICE, PARAMS.chain_id)
        result = apply_block(state, PARAMS, 1, [op])
        with RayProverFleet(PARAMS, address=cluster) as fleet:
            (worker,) = fleet.workers()
            assert worker["node_id"] == worker_node  # on the joined machine, not the head
            (proof,) = asyncio.run(fleet.prove_many([build_inputs(result.trace, PARAMS)]))
        assert isinstance(proof, BatchProof)
        assert fleet.verify(proof.proof, result.public_input)
    finally:
        ray.shutdown()
