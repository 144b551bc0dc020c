"""Proving benchmark: one full block of transfers through the real circuit.

Native backend (the default where built; `run_native`): key load, witness (the circuit's
`.wasm` by the prover's witness backend: `witness_backend` "wasmtime" in this process, or
"node"), proof (Rust, all cores), each timed, then `overlapped_block_s`: the next block's
witness and a proof side by side (a pipeline's period); `peak_rss_mb` is the proving
process's peak (key + in-process witness + proof; node's witness process is not in it).
`witness_cpu_s` is the witness's CPU time; with node installed and another backend in
use, node's witness of the same inputs is timed in the same run too (`witness_node_s`,
`witness_node_cpu_s`, `witness_node_peak_rss_mb`, and `witness_node_identical`: the two
`.wtns` byte for byte). With `compare`, the same `.wtns`
is proven by groth16py (`prove_wtns` with its own dev key of the same circuit, in a child
process) and by snarkjs (`groth16 prove` with the native key itself: it is a real snarkjs
`.zkey`), and `speedup_vs_*` divide their proof time by ours. `cpu_ratio_vs_*` divide
their proof's CPU seconds (`*_prove_cpu_s`) by ours (`prove_cpu_s`): on a loaded machine
the wall-time ratio mostly measures what the other processes take from our threads, the
CPU ratio does not (ours uses every core; groth16py one; snarkjs what node gives it).
The groth16py path below
is the reference backend's benchmark, unchanged.

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
import os
import resource
import subprocess
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import groth16py

from bitcoinzk.bench.snarkjs_timing import write_timing_zkey
from bitcoinzk.crypto.eddsa import PrivateKey
from bitcoinzk.prover import native
from bitcoinzk.prover.circuit import CircuitShape, circuit_id
from bitcoinzk.prover.keys import Backend, KeyFiles, default_backend, ensure_keys, key_files
from bitcoinzk.prover.service import verify_proof
from bitcoinzk.prover.tooling import (
    Compiled,
    ToolUnavailable,
    compile_circuit,
    has_tools,
    node_build_dir,
    snarkjs_witness,
    snarkjs_witness_file,
    tool,
)
from bitcoinzk.prover.witness import CircuitInputs, build_inputs
from bitcoinzk.spec.genesis import Genesis
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.stf import BlockResult, apply_block
from bitcoinzk.spec.types import Operation, Transfer


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


def _ensure_keys_child(shape: CircuitShape, key_dir: Path | None, backend: Backend) -> str:
    return str(ensure_keys(shape, key_dir, backend=backend).directory)


def _keys_in_child(
    shape: CircuitShape, key_dir: Path | None, backend: Backend = "groth16py"
) -> KeyFiles:
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx) as pool:
        pool.submit(_ensure_keys_child, shape, key_dir, backend).result()
    return ensure_keys(shape, key_dir, allow_dev_setup=False, backend=backend)


def _children_cpu_s() -> float:
    """CPU seconds (user + system) of this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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
    backend: Backend | None = None,
    compare: bool = False,
    witness_backend: native.WitnessBackend | None = None,
) -> dict[str, object]:
    chosen = backend if backend is not None else default_backend()
    if chosen == "native":
        return run_native(
            batch_size, tree_depth, compare, records, key_dir, use_node, witness_backend
        )
    out = run_groth16py(
        batch_size, tree_depth, compare_snarkjs or compare, records, key_dir, use_node, parallel
    )
    out["backend"] = "groth16py"
    out["threads"] = 1
    return out


def _params(batch_size: int, tree_depth: int, records: int | None) -> ChainParams:
    return ChainParams(
        chain_id=1337,
        tree_depth=tree_depth,
        block_slots=batch_size,
        block_records=records if records is not None else default_records(batch_size),
        fee_account=0,
    )


def _head(shape: CircuitShape, batch_size: int, tree_depth: int) -> dict[str, object]:
    """The first fields of a result line: what was proven."""
    return {
        "batch_size": batch_size,
        "records": shape.records,
        "tree_depth": tree_depth,
        "circuit_id": circuit_id(shape),
    }


def _g16_prove_wtns_child(pk: str, vk: str, wtns: str, public_input: int) -> dict[str, object]:
    """groth16py on the same witness, in its own process (its 183 s key load and 8.5 GB
    at B=64 stay out of the native figures)."""
    start = time.perf_counter()
    key = groth16py.ProvingKey.load(pk)
    load_s = time.perf_counter() - start
    start, cpu = time.perf_counter(), time.process_time()
    proof = groth16py.prove_wtns(key, wtns)
    prove_s, prove_cpu_s = time.perf_counter() - start, time.process_time() - cpu
    return {
        "groth16py_key_load_s": round(load_s, 3),
        "groth16py_prove_s": round(prove_s, 3),
        "groth16py_prove_cpu_s": round(prove_cpu_s, 3),
        "groth16py_verified": verify_proof(groth16py.VerifyingKey.load(vk), proof, public_input),
        "groth16py_peak_rss_mb": round(_peak_rss_mb(), 1),
    }


def _snarkjs_prove(zkey: Path, wtns: Path, vk: groth16py.VerifyingKey) -> dict[str, object]:
    """snarkjs with the very same key (the native key is a snarkjs .zkey) and witness."""
    cli = tool("snarkjs").resolve().parent.parent / "snarkjs" / "build" / "cli.cjs"
    cmd = [str(tool("snarkjs"))]
    if cli.is_file():  # a large key needs more than node's default heap
        cmd = ["node", "--max-old-space-size=16384", str(cli)]
    with tempfile.TemporaryDirectory(prefix="bzk-snarkjs-") as tmp:
        proof_json, public_json = Path(tmp) / "proof.json", Path(tmp) / "public.json"
        start, cpu = time.perf_counter(), _children_cpu_s()
        proc = subprocess.run(
            [*cmd, "groth16", "prove", str(zkey), str(wtns), str(proof_json), str(public_json)],
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed, elapsed_cpu = time.perf_counter() - start, _children_cpu_s() - cpu
        if proc.returncode != 0:
            return {"snarkjs_error": (proc.stdout + proc.stderr)[-500:]}
        ok = groth16py.Verifier(vk).verify_snarkjs(proof_json.read_text(), public_json.read_text())
    return {
        "snarkjs_key": "same-zkey",
        "snarkjs_prove_s": round(elapsed, 3),
        "snarkjs_prove_cpu_s": round(elapsed_cpu, 3),
        "snarkjs_verified": bool(ok),
    }


def run_native(
    batch_size: int = 4,
    tree_depth: int = 24,
    compare: bool = False,
    records: int | None = None,
    key_dir: Path | None = None,
    use_node: bool = True,
    witness_backend: native.WitnessBackend | None = None,
) -> dict[str, object]:
    params = _params(batch_size, tree_depth, records)
    shape = CircuitShape.of(params)
    out: dict[str, object] = {
        **_head(shape, batch_size, tree_depth),
        "backend": "native",
        "threads": native.threads(),
        "msm": native.msm_backend(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    start = time.perf_counter()
    files = _keys_in_child(shape, key_dir, "native")
    meta = files.meta()
    out["key_source"] = files.source
    out["setup_s"] = meta.get("setup_s")
    out["compile_setup_s"] = meta.get("compile_setup_s")
    out["keys_ready_s"] = round(time.perf_counter() - start, 3)
    out["constraints"] = meta.get("constraints")
    constraints = meta.get("constraints")
    out["constraints_per_tx"] = (
        round(constraints / batch_size) if isinstance(constraints, int) else None
    )

    result = transfer_block(params)
    inputs = build_inputs(result.trace, params)
    prover = native.NativeProver(files.native_zkey, files.wasm, witness_backend)
    out["key_load_s"] = round(prover.load_s, 3)
    out["witness_backend"] = prover.witness_backend
    out["witness_load_s"] = round(prover.witness_load_s, 3)
    vk = files.load_verifying_key()
    with tempfile.TemporaryDirectory(prefix="bzk-bench-") as tmp:
        wtns = Path(tmp) / "w.wtns"
        start = time.perf_counter()
        data, witness_cpu_s = prover.witness_with_cpu(inputs)
        witness_s = time.perf_counter() - start
        wtns.write_bytes(data)  # for the comparisons, which read a file
        start, cpu = time.perf_counter(), time.process_time()
        proof = prover.prove_wtns_bytes(data)
        prove_s, prove_cpu_s = time.perf_counter() - start, time.process_time() - cpu
        out["verified"] = verify_proof(vk, proof, result.public_input)
        out["peak_rss_mb"] = round(_peak_rss_mb(), 1)
        out["witness_s"] = round(witness_s, 3)
        out["witness_cpu_s"] = round(witness_cpu_s, 3)
        out["prove_s"] = round(prove_s, 3)
        out["prove_cpu_s"] = round(prove_cpu_s, 3)
        out["total_s"] = round(witness_s + prove_s, 3)
        out["proven_tps"] = round(batch_size / (witness_s + prove_s), 3)
        if use_node and prover.witness_backend != "node" and native.node_available():
            out.update(_node_witness(files.wasm, inputs, data, Path(tmp) / "node.wtns"))
        out.update(_overlapped(prover, inputs, data, batch_size))
        if compare:
            g16 = key_files(shape, "dev", key_dir, "groth16py")
            if g16.exists():
                ctx = multiprocessing.get_context("spawn")
                with ProcessPoolExecutor(1, mp_context=ctx) as pool:
                    got = pool.submit(
                        _g16_prove_wtns_child,
                        str(g16.proving_key),
                        str(g16.verifying_key),
                        str(wtns),
                        result.public_input,
                    ).result()
                out.update(got)
                g16_s = got["groth16py_prove_s"]
                assert isinstance(g16_s, float)
                out["speedup_vs_groth16py"] = round(g16_s / prove_s, 2)
                g16_cpu = got["groth16py_prove_cpu_s"]
                assert isinstance(g16_cpu, float)
                out["cpu_ratio_vs_groth16py"] = round(g16_cpu / prove_cpu_s, 2)
            out.update(_snarkjs_prove(files.native_zkey, wtns, vk))
            snark_s = out.get("snarkjs_prove_s")
            if isinstance(snark_s, float):
                out["speedup_vs_snarkjs"] = round(snark_s / prove_s, 2)
                snark_cpu = out["snarkjs_prove_cpu_s"]
                assert isinstance(snark_cpu, float)
                out["cpu_ratio_vs_snarkjs"] = round(snark_cpu / prove_cpu_s, 2)
    out["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    return out


def _node_witness(wasm: Path, inputs: CircuitInputs, ours: bytes, wtns: Path) -> dict[str, object]:
    """node's witness (`snarkjs wtns calculate`) of the same inputs, in this run: its wall
    and CPU seconds and peak memory, and whether its `.wtns` is ours byte for byte.

    Started from a fresh small process: Linux counts the memory of the process that
    started a command in the command's peak (the address space it was spawned from), so
    started from here it would report this process's key."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx) as pool:
        got = pool.submit(_node_witness_child, str(wasm), inputs, str(wtns)).result()
    got["witness_node_identical"] = wtns.read_bytes() == ours
    return got


def _node_witness_child(wasm: str, inputs: CircuitInputs, wtns: str) -> dict[str, object]:
    start = time.perf_counter()
    usage = snarkjs_witness_file(Path(wasm), inputs, Path(wtns))
    elapsed = time.perf_counter() - start
    return {
        "witness_node_s": round(elapsed, 3),
        "witness_node_cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "witness_node_peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def _overlapped(
    prover: native.NativeProver, inputs: CircuitInputs, wtns: bytes, batch: int
) -> dict[str, object]:
    """A prover that computes block n+1's witness (one core) while it proves block n
    (Rust, every core), as `prover.parallel` 2 does: one period of that steady state is
    the witness and a proof side by side, timed here on the same block twice."""
    start = time.perf_counter()
    with ThreadPoolExecutor(1) as pool:
        witness = pool.submit(prover.witness_wtns, inputs)
        prover.prove_wtns_bytes(wtns)
        witness.result()
    period = time.perf_counter() - start
    return {"overlapped_block_s": round(period, 3), "overlapped_tps": round(batch / period, 3)}


def run_groth16py(
    batch_size: int = 4,
    tree_depth: int = 24,
    compare_snarkjs: bool = False,
    records: int | None = None,
    key_dir: Path | None = None,
    use_node: bool = True,
    parallel: int = 1,
) -> dict[str, object]:
    params = _params(batch_size, tree_depth, records)
    shape = CircuitShape.of(params)
    out = _head(shape, batch_size, tree_depth)

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
