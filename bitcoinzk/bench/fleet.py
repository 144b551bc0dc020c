"""Fleet benchmark: the same blocks proven by one Ray prover worker and by `workers`
(in turn, `rounds` times), then once more by `workers` with one of them SIGKILLed
mid-proof.

`run(...)` returns what `bzk bench fleet --json` prints as its last line:
`one_worker_s` / `fleet_s` (wall time for every round's blocks, keys already
loaded), `speedup` (their ratio), `proven_tps_*`, `key_load_s` (all actors
loading at once), and from the kill run `worker_killed_blocks_lost` (blocks
without a verified proof at the end; the goal is 0) and
`worker_killed_resubmitted`. Each proof is verified on the driver with the
node's key.

`loadavg_1m_*`, `*_cores_used` (the actors' CPU-seconds per wall-second) and
`sched_autogroup` say what the machine gave: with other load on the cores, and
Linux's autogroup sharing them per session, the actors together get about one
session's share however many there are, so `speedup` measures the fleet only on an
otherwise idle machine. `cpu_efficiency` (CPU per block, one worker over the
fleet) is the fleet path's own cost either way: 1.0 means it adds nothing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import ray

from bitcoinzk.bench.prover import _keys_in_child, default_records
from bitcoinzk.crypto.eddsa import PrivateKey
from bitcoinzk.prover.circuit import CircuitShape, circuit_id
from bitcoinzk.prover.fleet import PROVER_RESOURCE, RayProverFleet
from bitcoinzk.prover.keys import default_backend
from bitcoinzk.prover.service import BatchProof, ProofError
from bitcoinzk.prover.witness import CircuitInputs, build_inputs
from bitcoinzk.spec.genesis import Genesis
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.stf import BlockResult, apply_block
from bitcoinzk.spec.types import Operation, Transfer


def transfer_chain(params: ChainParams, blocks: int) -> list[BlockResult]:
    """`blocks` chained full blocks: every slot a signed transfer, distinct each block."""
    n = params.block_slots
    keys = [PrivateKey((i + 1).to_bytes(32, "big")) for i in range(n + 1)]
    operator = PrivateKey(b"\xff" * 32).public_key()
    genesis = Genesis(params, operator, tuple((k.public_key(), 10_000_000) for k in keys))
    state, out = genesis.state(), []
    for number in range(1, blocks + 1):
        ops: list[Operation] = []
        for i in range(n):
            sender, recipient = i + 1, i + 2  # genesis puts allocation i at index i + 1
            amount, nonce = 1_000 + number, number - 1
            t = Transfer(sender, recipient, keys[i + 1].public_key(), amount, 10, nonce)
            ops.append(t.signed(keys[i], params.chain_id))
        result = apply_block(state, params, number, ops)
        out.append(result)
        state = result.state
    return out


def _prover_threads() -> int:
    if default_backend() != "native":
        return 1
    from bitcoinzk.prover import native

    return native.threads()


def _autogroup() -> bool | None:
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return None


def _cpu(fleet: RayProverFleet) -> float:
    return sum(float(str(w["cpu_s"])) for w in fleet.workers(refresh=True))


def _verified(
    fleet: RayProverFleet, results: list[BlockResult], proofs: list[BatchProof | ProofError]
) -> int:
    return sum(
        isinstance(p, BatchProof) and fleet.verify(p.proof, r.public_input)
        for r, p in zip(results, proofs, strict=True)
    )


async def _prove_killing_one(
    fleet: RayProverFleet, many: list[CircuitInputs]
) -> tuple[list[BatchProof | ProofError], bool]:
    """Prove `many`; once an actor is well into a proof, SIGKILL its process."""
    proving = asyncio.ensure_future(fleet.prove_many(many))
    while not proving.done() and not any(w["busy"] for w in fleet.workers()):
        await asyncio.sleep(0.01)
    killed = False
    busy = [w for w in fleet.workers() if w["busy"]]
    if busy and not proving.done():
        await asyncio.sleep(0.5)
        pid = busy[0]["pid"]
        assert isinstance(pid, int)
        os.kill(pid, signal.SIGKILL)
        killed = True
    return await proving, killed


def run(
    batch_size: int = 2,
    tree_depth: int = 6,
    blocks: int = 8,
    workers: int = 2,
    rounds: int = 2,
    key_dir: Path | None = None,
) -> dict[str, object]:
    params = ChainParams(
        chain_id=1337,
        tree_depth=tree_depth,
        block_slots=batch_size,
        block_records=default_records(batch_size),
        fee_account=0,
    )
    shape = CircuitShape.of(params)
    files = _keys_in_child(shape, key_dir)
    results = transfer_chain(params, blocks)
    many = [build_inputs(r.trace, params) for r in results]
    out: dict[str, object] = {
        "batch_size": batch_size,
        "records": shape.records,
        "tree_depth": tree_depth,
        "circuit_id": circuit_id(shape),
        "constraints": files.meta().get("constraints"),
        "blocks": blocks,
        "workers": workers,
        "rounds": rounds,
        "cores": os.cpu_count(),
        "backend": default_backend(),
        # Threads per proof: groth16py one; native its rayon pool, which the actors inherit
        # from this process's environment (RAYON_NUM_THREADS=1: one core per proof).
        "prover_threads": _prover_threads(),
        "loadavg_1m_before": round(os.getloadavg()[0], 2),
        # With autogroup, Linux shares the cores between sessions, not processes: all
        # actors (one Ray session) together get one session's share on a busy machine.
        "sched_autogroup": _autogroup(),
    }
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a private one-machine instance
    start = time.perf_counter()
    ray.init(
        address="local",
        num_cpus=os.cpu_count() or 1,
        resources={PROVER_RESOURCE: 1 + workers},
        include_dashboard=False,
        log_to_driver=False,
    )
    out["ray_start_s"] = round(time.perf_counter() - start, 3)
    try:
        # Both fleets at once (their keys loaded once), measured in turn, round after
        # round: on a shared machine the other load drifts, and alternating spreads
        # the drift over both instead of charging it to whichever ran second.
        start = time.perf_counter()
        one = RayProverFleet(params, key_dir, workers=1, log_to_driver=False)
        fleet = RayProverFleet(params, key_dir, workers=workers, log_to_driver=False)
        one.start(wait=False)
        fleet.start(wait=False)
        one.wait_ready()
        fleet.wait_ready()
        out["key_load_s"] = round(time.perf_counter() - start, 3)
        timings: dict[str, list[float]] = {"one_worker": [], "fleet": []}
        verified = {"one_worker": 0, "fleet": 0}
        cpu = {"one_worker": 0.0, "fleet": 0.0}
        for _ in range(rounds):
            for label, prover in (("one_worker", one), ("fleet", fleet)):
                cpu[label] -= _cpu(prover)
                start = time.perf_counter()
                proofs = asyncio.run(prover.prove_many(many))
                timings[label].append(round(time.perf_counter() - start, 3))
                cpu[label] += _cpu(prover)
                verified[label] += _verified(prover, results, proofs)
        for label, walls in timings.items():
            out[f"{label}_s"] = round(sum(walls), 3)
            out[f"{label}_rounds_s"] = walls
            out[f"{label}_verified"] = verified[label]
            out[f"proven_tps_{label}"] = round(rounds * blocks * batch_size / sum(walls), 3)
            # Cores the actors actually had (CPU-s per wall-s): 1.0 per busy worker on an
            # idle machine; less when other load takes the cores.
            out[f"{label}_cores_used"] = round(cpu[label] / sum(walls), 3)
            out[f"{label}_cpu_s_per_block"] = round(cpu[label] / (rounds * blocks), 3)
        # The same blocks again, one of the fleet's workers killed mid-proof.
        proofs, killed = asyncio.run(_prove_killing_one(fleet, many))
        out["worker_killed"] = killed
        out["worker_killed_resubmitted"] = fleet.resubmitted
        out["worker_killed_blocks_lost"] = blocks - _verified(fleet, results, proofs)
        one.close()
        fleet.close()
    finally:
        ray.shutdown()
    one_s, fleet_s = out["one_worker_s"], out["fleet_s"]
    assert isinstance(one_s, float) and isinstance(fleet_s, float)
    out["speedup"] = round(one_s / fleet_s, 3)
    # 2 workers on 2 cores: 1.8x with one-core provers, 0.95x when each takes every core
    out["speedup_goal"] = 1.8 if out["prover_threads"] == 1 else 0.95
    # CPU per block, one worker over the fleet: 1.0 when the fleet path costs nothing extra.
    one_cpu, fleet_cpu = out["one_worker_cpu_s_per_block"], out["fleet_cpu_s_per_block"]
    assert isinstance(one_cpu, float) and isinstance(fleet_cpu, float)
    out["cpu_efficiency"] = round(one_cpu / fleet_cpu, 3) if fleet_cpu else None
    out["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
    return out
