"""Proving a block, in-process or in a worker process that keeps the key in memory.

The node calls:

    service = ProverService(params)            # finds or makes the key for this circuit
    service.start()                            # worker process loads the key once
    proof = await service.prove(trace)         # never blocks the caller's event loop
    assert service.verify(proof.proof, proof.public_input)
    service.close()

Witness inputs are built in the caller (pure Python, milliseconds); the witness
computation and the Groth16 proof run in the worker, which holds the proving key
for its whole life: loading a large key costs more than a proof.

Two backends (`prover.backend`): "native" (default where built; `native.py`, the Rust
prover on every core, witness by node on the circuit's `.wasm`) and "groth16py" (one
core per proof, the reference). Each has its own dev key; a ceremony key serves both.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import tempfile
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import groth16py

from bitcoinzk.procutil import exit_with_parent
from bitcoinzk.prover.circuit import CircuitShape, circuit_id
from bitcoinzk.prover.keys import Backend, KeyFiles, default_backend, ensure_keys
from bitcoinzk.prover.native import NativeProver
from bitcoinzk.prover.tooling import (
    ToolUnavailable,
    WitnessFailed,
    compile_circuit,
    has_tools,
    node_build_dir,
    snarkjs_witness_file,
)
from bitcoinzk.prover.witness import CircuitInputs, build_inputs
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.stf import BlockTrace

WitnessBackend = Literal["auto", "node", "wasmi"]


class ProofError(Exception):
    """No proof: the inputs break a circuit constraint (or the prover failed)."""


@dataclass(frozen=True)
class BatchProof:
    """A Groth16 proof (256 bytes, Ethereum layout) and the public input it proves."""

    proof: bytes
    public_input: int
    circuit_id: str
    prove_s: float

    def to_json(self) -> dict[str, object]:
        return {
            "proof": self.proof.hex(),
            "public_input": hex(self.public_input),
            "circuit_id": self.circuit_id,
            "prove_s": round(self.prove_s, 3),
        }


def prove_inputs(pk: groth16py.ProvingKey, inputs: CircuitInputs) -> bytes:
    """Witness + proof in this process, unchecked.

    groth16py does not stop at an unsatisfied constraint: it returns a proof that
    will not verify. Callers that publish proofs use `prove_checked` (or the service).
    """
    try:
        return groth16py.prove(pk, inputs)
    except (groth16py.WitnessError, groth16py.EncodingError) as exc:
        raise ProofError(f"witness generation failed: {exc}") from None


def prove_checked(
    pk: groth16py.ProvingKey, vk: groth16py.VerifyingKey, inputs: CircuitInputs
) -> bytes:
    """Prove and verify (2 ms): raise ProofError rather than return a proof that fails."""
    proof = prove_inputs(pk, inputs)
    public_input = inputs["public_input"]
    assert isinstance(public_input, int)
    if not verify_proof(vk, proof, public_input):
        raise ProofError("the inputs break a circuit constraint: the proof does not verify")
    return proof


def verify_proof(vk: groth16py.VerifyingKey, proof: bytes, public_input: int) -> bool:
    """True iff `proof` is a valid proof for `public_input` under `vk`."""
    try:
        return bool(groth16py.Verifier(vk).verify(proof, [public_input]))
    except (groth16py.VerificationError, groth16py.EncodingError, ValueError):
        return False


# --- worker process ------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerSpec:
    """What a prover process needs to hold its key: plain paths and numbers, so the same
    spec starts a local worker process or a Ray actor (`fleet.py`)."""

    proving_key: str
    verifying_key: str
    witness_wasm: str | None
    """circom2's `.wasm` for node's witness calculator; None: groth16py's own witness."""
    parallel: int
    """Blocks this process proves at once, one thread each, sharing the key."""
    native_zkey: str | None = None
    """The native backend's `.zkey` (with `native_wasm`, the circuit's witness `.wasm`);
    None: groth16py proves with `proving_key`."""
    native_wasm: str | None = None


def witness_wasm(shape: CircuitShape, witness: WitnessBackend, key_dir: Path | None) -> str | None:
    """The circom2 `.wasm` for node's witness calculator, or None for groth16py's.

    "auto" uses a build already in the key cache (`bzk bench prove` or
    `prepare_node_witness` makes one); "node" compiles one if needed (minutes
    for a large circuit, once); "wasmi" never uses node.
    """
    if witness == "wasmi" or not has_tools():
        return None
    build = node_build_dir(shape, key_dir)
    if witness == "auto" and not list(build.glob("*_js/*.wasm")):
        return None
    try:
        return str(compile_circuit(shape, build).wasm)
    except (RuntimeError, StopIteration, ToolUnavailable):
        return None


def worker_spec(
    keys: KeyFiles, witness: WitnessBackend, key_dir: Path | None, parallel: int
) -> WorkerSpec:
    if keys.backend == "native":
        return WorkerSpec(
            str(keys.proving_key),
            str(keys.verifying_key),
            None,
            parallel,
            str(keys.native_zkey),
            str(keys.wasm),
        )
    return WorkerSpec(
        str(keys.proving_key),
        str(keys.verifying_key),
        witness_wasm(keys.shape, witness, key_dir),
        parallel,
    )


_WORKER_PK: groth16py.ProvingKey | None = None
_WORKER_VK: groth16py.VerifyingKey | None = None
_WORKER_WASM: Path | None = None
_WORKER_THREADS: ThreadPoolExecutor | None = None
_WORKER_NATIVE: NativeProver | None = None

ProveResult = tuple[bytes | None, str, float]
"""(proof, "", seconds), or (None, why, seconds) when the block does not prove."""


def worker_init(spec: WorkerSpec, parent: int | None = None) -> None:
    """Load the key into this process, once: every later `worker_prove` here uses it.
    `parent`: a pool's parent process, which this one must not outlive (a Ray actor has
    none: Ray owns its life)."""
    global _WORKER_PK, _WORKER_VK, _WORKER_WASM, _WORKER_THREADS, _WORKER_NATIVE
    if parent is not None:
        exit_with_parent(parent)  # before the key: loading it takes a while
    if spec.native_zkey is not None and spec.native_wasm is not None:
        _WORKER_NATIVE = NativeProver(Path(spec.native_zkey), Path(spec.native_wasm))
    else:
        _WORKER_PK = groth16py.ProvingKey.load(spec.proving_key)
    _WORKER_VK = groth16py.VerifyingKey.load(spec.verifying_key)
    _WORKER_WASM = Path(spec.witness_wasm) if spec.witness_wasm else None
    _WORKER_THREADS = ThreadPoolExecutor(spec.parallel, thread_name_prefix="prove")


def _node_witness_proof(inputs: CircuitInputs) -> bytes | None:
    """Witness by node's JIT wasm (circom2 build, ~5x faster than wasmi), proof by groth16py.

    None if the node path is unavailable or its proof does not verify (the caller
    falls back to groth16py's own witness). Raises ProofError on a failed constraint.
    """
    assert _WORKER_PK is not None and _WORKER_VK is not None and _WORKER_WASM is not None
    with tempfile.TemporaryDirectory(prefix="bzk-wtns-") as tmp:
        wtns = Path(tmp) / "w.wtns"
        try:
            snarkjs_witness_file(_WORKER_WASM, inputs, wtns)
        except WitnessFailed as exc:
            raise ProofError(f"witness generation failed: {exc}") from None
        except (OSError, RuntimeError, ToolUnavailable):
            return None
        proof = groth16py.prove_wtns(_WORKER_PK, str(wtns))
    public_input = inputs["public_input"]
    assert isinstance(public_input, int)
    return proof if verify_proof(_WORKER_VK, proof, public_input) else None


def worker_prove(inputs: CircuitInputs) -> ProveResult:
    """Prove one block with this process's key (thread-safe: the key is only read)."""
    start = time.perf_counter()
    if _WORKER_NATIVE is not None:
        try:
            native_proof = _WORKER_NATIVE.prove(inputs)
        except WitnessFailed as exc:
            return None, f"witness generation failed: {exc}", time.perf_counter() - start
        except (OSError, RuntimeError, ValueError) as exc:
            return None, f"native prover failed: {exc}", time.perf_counter() - start
        return native_proof, "", time.perf_counter() - start
    assert _WORKER_PK is not None, "worker started without a key"
    try:
        proof = _node_witness_proof(inputs) if _WORKER_WASM is not None else None
        if proof is None:
            proof = prove_inputs(_WORKER_PK, inputs)
    except ProofError as exc:  # exceptions from the extension may not pickle: send text
        return None, str(exc), time.perf_counter() - start
    return proof, "", time.perf_counter() - start


def _worker_prove_many(many: list[CircuitInputs]) -> list[ProveResult]:
    """Prove several blocks at once on the worker's threads, all with its one key:
    groth16py proves on a single core and releases the GIL, so N threads use N cores
    (1.8x the proofs per hour with 2 on 2 cores) without loading the key N times."""
    assert _WORKER_THREADS is not None, "worker started without threads"
    return list(_WORKER_THREADS.map(worker_prove, many))


def _worker_ping() -> bool:
    return _WORKER_PK is not None or _WORKER_NATIVE is not None


def checked_result(
    vk: groth16py.VerifyingKey, circuit: str, inputs: CircuitInputs, result: ProveResult
) -> BatchProof:
    """A worker's answer as a BatchProof, verified here with the node's own key (2 ms):
    a worker's key or prover is never trusted."""
    proof, error, elapsed = result
    if proof is None:
        raise ProofError(error)
    public_input = inputs["public_input"]
    assert isinstance(public_input, int)
    if not verify_proof(vk, proof, public_input):
        raise ProofError("the inputs break a circuit constraint: the proof does not verify")
    return BatchProof(proof, public_input, circuit, elapsed)


class Prover(Protocol):
    """The prover a node runs: `ProverService` (one machine) or
    `fleet.RayProverFleet` (a Ray cluster). Results may finish in any order; the
    pipeline keeps commits in block order."""

    circuit_id: str
    vk: groth16py.VerifyingKey

    @property
    def parallel(self) -> int:
        """Blocks worth proving at once (the pipeline hands over up to this many)."""
        ...

    def start(self, wait: bool = True) -> None: ...

    def close(self) -> None: ...

    async def prove_inputs(self, inputs: CircuitInputs) -> BatchProof: ...

    async def prove_many(self, many: list[CircuitInputs]) -> list[BatchProof | ProofError]: ...

    def verify(self, proof: bytes, public_input: int) -> bool: ...


KEY_LOAD_BYTES_PER_S = 100e6
"""Measured: the B=64, E=4, D=24 native.zkey (1.80 GB) loaded in 17.5 s on 2 cores
(docs/prover.md, "B=64, E=4, D=24"), for the expected time printed before a load."""
KEY_MEMORY_PER_BYTE = 1.4
"""Measured: that key held in ~2.5 GB of memory once loaded."""
BIG_KEY_BYTES = 256 << 20
"""A key this large takes seconds to load: its expected time and memory are said first
even when no progress bar is drawn (a log, not a terminal)."""


def key_load_cost(size: int, workers: int = 1) -> str:
    """What loading a key of `size` bytes costs, from the measured production load."""
    each = " each" if workers > 1 else ""
    return (
        f"{size / 1e9:.2f} GB, expected ~{max(1, round(size / KEY_LOAD_BYTES_PER_S))} s and "
        f"~{size * KEY_MEMORY_PER_BYTE / 1e9:.1f} GB of memory{each}"
    )


def await_key_load(
    pool: ProcessPoolExecutor,
    pings: list[Future[bool]],
    key: Path,
    label: str,
    progress: bool | None = None,
) -> None:
    """Wait until every worker has loaded `key` (its `pings` done). With `progress`
    (default: when stderr is a terminal) a line with the expected time and memory, then
    a bar of the bytes the workers have read (Linux `/proc/<pid>/io`); the line alone
    for a large key without a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    show = console.is_terminal if progress is None else progress
    size = key.stat().st_size
    if show or size >= BIG_KEY_BYTES:
        console.print(
            f"key load {label} ({len(pings)} worker(s)): {key_load_cost(size, len(pings))}, "
            f"from {key}",
            soft_wrap=True,
        )
    if show:
        total = size * len(pings)
        with Progress(
            TextColumn("key load"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            task = bar.add_task("key load", total=total)
            while wait_futures(pings, timeout=0.2).not_done:
                bar.update(task, completed=min(_bytes_read(pool), total))
            bar.update(task, completed=total)
    for ping in pings:
        ping.result()


def _bytes_read(pool: ProcessPoolExecutor) -> int:
    """Bytes the pool's processes have read so far (the key, and their imports); 0
    where `/proc/<pid>/io` cannot be read."""
    done = 0
    for process in list(getattr(pool, "_processes", {}).values()):
        try:
            text = Path(f"/proc/{process.pid}/io").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("rchar:"):
                done += int(line.split()[1])
    return done


class ProverService:
    """A prover process holding the key, proving up to `parallel` blocks at once.

    The native backend uses every core for one proof (`parallel` 2 lets one block's
    witness overlap another's proof). groth16py proves on one core, so `parallel` =
    the number of cores is what uses the machine; each proof in flight costs its own
    witness and MSM memory, the key is shared. `workers` > 1 starts more processes,
    each with its own copy of the key.
    """

    def __init__(
        self,
        params: ChainParams,
        key_dir: Path | None = None,
        workers: int = 1,
        allow_dev_setup: bool = True,
        witness: WitnessBackend = "auto",
        parallel: int = 1,
        backend: Backend | None = None,
    ) -> None:
        if workers < 1 or parallel < 1:
            raise ValueError("workers and parallel must be at least 1")
        self.params = params
        self.shape = CircuitShape.of(params)
        self.circuit_id = circuit_id(self.shape)
        self.backend: Backend = backend if backend is not None else default_backend()
        self.keys: KeyFiles = ensure_keys(self.shape, key_dir, allow_dev_setup, self.backend)
        self.vk = self.keys.load_verifying_key()
        self._verifier = groth16py.Verifier(self.vk)
        self._workers = workers
        self.parallel = parallel
        self._pool: ProcessPoolExecutor | None = None
        self.spec = worker_spec(self.keys, witness, key_dir, parallel)

    def start(self, wait: bool = True, progress: bool | None = None) -> None:
        """Start the workers; with `wait`, return once each has loaded the key, showing
        the load (`progress`; default: when stderr is a terminal, see `await_key_load`)."""
        if self._pool is not None:
            return
        self._pool = ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=worker_init,
            initargs=(self.spec, os.getpid()),
        )
        if wait:
            pings = [self._pool.submit(_worker_ping) for _ in range(self._workers)]
            key = Path(self.spec.native_zkey or self.spec.proving_key)
            await_key_load(self._pool, pings, key, self.shape.label, progress)

    def close(self) -> None:
        """Stop the workers now, a proof in flight included: the node marks an
        unfinished proof pending again at its next start, while waiting for it
        could hold a shutdown (SIGTERM, Ctrl-C) for minutes."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            # ProcessPoolExecutor has no public way to stop a running task before 3.14
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
            pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ProverService:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def inputs(self, trace: BlockTrace) -> CircuitInputs:
        return build_inputs(trace, self.params)

    def _finish(self, inputs: CircuitInputs, result: ProveResult) -> BatchProof:
        return checked_result(self.vk, self.circuit_id, inputs, result)

    def prove_inputs_sync(self, inputs: CircuitInputs) -> BatchProof:
        self.start()
        assert self._pool is not None
        return self._finish(inputs, self._pool.submit(worker_prove, inputs).result())

    async def prove_inputs(self, inputs: CircuitInputs) -> BatchProof:
        self.start(wait=False)
        assert self._pool is not None
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self._pool, worker_prove, inputs)
        return self._finish(inputs, result)

    async def prove_many(self, many: list[CircuitInputs]) -> list[BatchProof | ProofError]:
        """Prove several blocks at once (up to `parallel` in flight); per block, its
        proof or the ProofError that stopped it."""
        self.start(wait=False)
        assert self._pool is not None
        loop = asyncio.get_running_loop()
        results = await loop.run_in_executor(self._pool, _worker_prove_many, many)
        out: list[BatchProof | ProofError] = []
        for inputs, result in zip(many, results, strict=True):
            try:
                out.append(self._finish(inputs, result))
            except ProofError as exc:
                out.append(exc)
        return out

    async def prove(self, trace: BlockTrace) -> BatchProof:
        """Prove a block without blocking the event loop."""
        return await self.prove_inputs(self.inputs(trace))

    def verify(self, proof: bytes, public_input: int) -> bool:
        try:
            return bool(self._verifier.verify(proof, [public_input]))
        except (groth16py.VerificationError, groth16py.EncodingError, ValueError):
            return False
