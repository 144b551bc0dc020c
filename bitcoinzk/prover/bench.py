"""Proving benchmark: one full block of transfers through the real circuit.

`run(batch_size, tree_depth, compare_snarkjs)` returns a JSON-ready dict with
batch_size, constraints, constraints_per_tx, witness_s, prove_s, peak_rss_mb and
proven_tps (what `bzk bench prove --json` prints as its last line).

- Keys come from the on-disk cache; a missing key is made in a child process,
  so `peak_rss_mb` is the proving process's own peak (key load + witness + proof).
- `witness_s` / `prove_s`: groth16py computes the witness and the proof in one
  call. With circom2 + snarkjs installed (scripts/setup-extra.sh) the same
  circuit is compiled by circom2 --O2, the witness is computed once by snarkjs,
  and `groth16py.prove_wtns` times the proof alone; witness_s = total - prove_s.
  Without them, `prove_s` is the total and `witness_s` is null.
- `compare_snarkjs` proves the same circuit from the same `.wtns` with `snarkjs
  groth16 prove`. With a real snarkjs key at `<circuit_id>/snarkjs/circuit.zkey`
  it uses that; otherwise (no ptau of this size can be prepared here, DESIGN
  facts) a timing-only key of the right shape (`snarkjs_timing.py`), and the JSON
  says `"snarkjs_key": "timing-only"`. The speedup compares proof time with proof
  time (snarkjs_prove_s / prove_s), both from the same witness file.
"""

from __future__ import annotations

import multiprocessing
import resource
import subprocess
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import groth16py

from bitcoinzk.crypto.eddsa import PrivateKey
from bitcoinzk.l2.genesis import Genesis
from bitcoinzk.l2.params import ChainParams
from bitcoinzk.l2.stf import BlockResult, apply_block
from bitcoinzk.l2.types import Operation, Transfer
from bitcoinzk.prover.circuit import CircuitShape, circuit_id
from bitcoinzk.prover.keys import KeyFiles, ensure_keys
from bitcoinzk.prover.service import verify_proof
from bitcoinzk.prover.snarkjs_timing import write_timing_zkey
from bitcoinzk.prover.tooling import (
    Compiled,
    ToolUnavailable,
    compile_circuit,
    has_tools,
    node_build_dir,
    snarkjs_witness,
    tool,
)
from bitcoinzk.prover.witness import build_inputs


def default_records(batch_size: int) -> int:
    return max(1, batch_size // 16)


def transfer_block(params: ChainParams) -> BlockResult:
    """A full block: every slot a signed transfer between existing accounts."""
    n = params.block_slots
    keys = [PrivateKey((i + 1).to_bytes(32, "big")) for i in range(n + 1)]
    operator = PrivateKey(b"\xff" * 32).public_key()
    genesis = Genesis(params, operator, tuple((k.public_key(), 10_000_000) for k in keys))
    state = genesis.state()
    ops: list[Operation] = []
    for i in range(n):
        sender, recipient = i + 1, i + 2  # genesis puts allocation i at index i + 1
        t = Transfer(sender, recipient, keys[i + 1].public_key(), 12_345, 10, 0)
        ops.append(t.signed(keys[i], params.chain_id))
    return apply_block(state, params, 1, ops)


def _ensure_keys_child(shape: CircuitShape, key_dir: Path | None) -> str:
    return str(ensure_keys(shape, key_dir).directory)


def _keys_in_child(shape: CircuitShape, key_dir: Path | None) -> KeyFiles:
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx) as pool:
        pool.submit(_ensure_keys_child, shape, key_dir).result()
    return ensure_keys(shape, key_dir, allow_dev_setup=False)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(
    batch_size: int = 4,
    tree_depth: int = 24,
    compare_snarkjs: bool = False,
    records: int | None = None,
    key_dir: Path | None = None,
    use_node: bool = True,
    parallel: int = 1,
) -> dict[str, object]:
    params = ChainParams(
        chain_id=1337,
        tree_depth=tree_depth,
        block_slots=batch_size,
        block_records=records if records is not None else default_records(batch_size),
        fee_account=0,
    )
    shape = CircuitShape.of(params)
    out: dict[str, object] = {
        "batch_size": batch_size,
        "records": shape.records,
        "tree_depth": tree_depth,
        "circuit_id": circuit_id(shape),
    }

    start = time.perf_counter()
    files = _keys_in_child(shape, key_dir)
    out["key_source"] = files.source
    out["setup_s"] = files.meta().get("setup_s")
    out["keys_ready_s"] = round(time.perf_counter() - start, 3)

    result = transfer_block(params)
    inputs = build_inputs(result.trace, params)

    start = time.perf_counter()
    pk = files.load_proving_key()
    vk = files.load_verifying_key()
    out["key_load_s"] = round(time.perf_counter() - start, 3)

    start = time.perf_counter()
    proof = groth16py.prove(pk, inputs)
    total_s = time.perf_counter() - start
    out["verified"] = verify_proof(vk, proof, result.public_input)
    if parallel > 1:
        # What the prover service does with `parallel`: N blocks at once, one key, one
        # thread each (groth16py releases the GIL and proves on one core).
        start = time.perf_counter()
        with ThreadPoolExecutor(parallel) as threads:
            proofs = list(threads.map(lambda _: groth16py.prove(pk, inputs), range(parallel)))
        wall = time.perf_counter() - start
        out["parallel"] = parallel
        out["parallel_s"] = round(wall, 3)
        out["parallel_verified"] = all(verify_proof(vk, p, result.public_input) for p in proofs)
        out["proven_tps_parallel"] = round(parallel * batch_size / wall, 3)
    out["peak_rss_mb"] = round(_peak_rss_mb(), 1)

    constraints: int | None = None
    witness_s: float | None = None
    prove_s = total_s
    tools = use_node and has_tools()
    compiled: Compiled | None = None
    if tools:
        try:
            compiled = compile_circuit(shape, node_build_dir(shape, key_dir))
        except RuntimeError as exc:
            # circom2 is WebAssembly (4 GiB address space): it runs out of memory near
            # 1.5M constraints, where groth16py's native compiler does not
            out["note"] = f"circom2 failed, no node witness or snarkjs: {str(exc)[-200:]}"
    if compiled is not None:
        constraints = compiled.constraints
        with tempfile.TemporaryDirectory(prefix="bzk-bench-") as tmp:
            wtns = Path(tmp) / "witness.wtns"
            start = time.perf_counter()
            snarkjs_witness(compiled, inputs, wtns)
            out["snarkjs_witness_s"] = round(time.perf_counter() - start, 3)
            start = time.perf_counter()
            proof_wtns = groth16py.prove_wtns(pk, str(wtns))
            only_prove = time.perf_counter() - start
            if verify_proof(vk, proof_wtns, result.public_input):
                prove_s = only_prove
                witness_s = max(0.0, total_s - only_prove)
            else:
                out["note"] = "circom2 wire order differs from groth16py's: no witness split"
            if compare_snarkjs:
                _compare_snarkjs(out, files, compiled, wtns, prove_s)

    at_setup = files.meta().get("constraints")  # groth16py's compiler's count, at setup
    if constraints is None and isinstance(at_setup, int):
        constraints = at_setup
    out["constraints"] = constraints
    out["constraints_per_tx"] = round(constraints / batch_size) if constraints else None
    out["total_s"] = round(total_s, 3)
    out["witness_s"] = round(witness_s, 3) if witness_s is not None else None
    out["prove_s"] = round(prove_s, 3)
    out["proven_tps"] = round(batch_size / total_s, 3)
    node_witness = out.get("snarkjs_witness_s")
    if witness_s is not None and isinstance(node_witness, float):
        # the same proof with node's (JIT) witness calculator instead of groth16py's wasmi
        out["proven_tps_node_witness"] = round(batch_size / (node_witness + prove_s), 3)
    if compare_snarkjs and not tools:
        out["snarkjs_key"] = "unavailable"
        out["note"] = "circom2/snarkjs not installed (scripts/setup-extra.sh)"
    return out


def _compare_snarkjs(
    out: dict[str, object], files: KeyFiles, compiled: Compiled, wtns: Path, ours_s: float
) -> None:
    """Prove the same circuit and witness with snarkjs, in this run, on this machine."""
    directory = files.directory.parent / "snarkjs"
    zkey = directory / "circuit.zkey"  # a real key of this circuit, if someone put one here
    out["snarkjs_key"] = "ceremony"
    if not zkey.is_file():
        directory.mkdir(parents=True, exist_ok=True)
        zkey = directory / "timing.zkey"
        if not zkey.is_file():
            write_timing_zkey(compiled.r1cs, zkey)
        out["snarkjs_key"] = "timing-only"
    with tempfile.TemporaryDirectory(prefix="bzk-snarkjs-") as tmp:
        start = time.perf_counter()
        proc = subprocess.run(
            [
                str(tool("snarkjs")),
                "groth16",
                "prove",
                str(zkey),
                str(wtns),
                str(Path(tmp) / "proof.json"),
                str(Path(tmp) / "public.json"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        snark_s = time.perf_counter() - start
    if proc.returncode != 0:
        out["snarkjs_error"] = (proc.stdout + proc.stderr)[-500:]
        return
    out["snarkjs_prove_s"] = round(snark_s, 3)
    out["speedup_vs_snarkjs"] = round(snark_s / ours_s, 2)


__all__ = ["ToolUnavailable", "default_records", "run", "transfer_block"]
