"""The native prover: `bitcoinzk.prover._arkprover` (Rust, arkworks with `parallel` + `asm`).

    prover = NativeProver(zkey, wasm)           # loads the .zkey once (memory-mapped)
    proof = prover.prove(inputs)                # witness (the circuit's .wasm) + proof
    proof = prover.prove_wtns(path)             # or from a snarkjs .wtns file

`prove` is thread-safe and releases the GIL while proving; one proof uses every core
(rayon; `RAYON_NUM_THREADS` caps it). Proofs are the 256-byte Ethereum layout that
`groth16py.Verifier`, snarkjs and the settlement verifier take.

The witness comes from the circuit's own `.wasm` (the one groth16py's in-process
compiler embeds in its keys: no circom2 build at any size), run in this process on
wasmtime (`wasm_witness`, the "wasmtime" witness backend) where the `wasmtime` package
is installed, else by node through `snarkjs wtns calculate` ("node"; also what
`$BZK_WITNESS_BACKEND=node` picks).
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from bitcoinzk.prover.tooling import ToolUnavailable, WitnessFailed, snarkjs_witness_file, tool

WitnessBackend = Literal["wasmtime", "node"]
WITNESS_BACKENDS: tuple[WitnessBackend, ...] = ("wasmtime", "node")

if TYPE_CHECKING:
    from bitcoinzk.prover.wasm_witness import WasmWitness

_arkprover: ModuleType | None
try:
    from bitcoinzk.prover import _arkprover
except ImportError:  # not built (no cargo at install time): the groth16py backend remains
    _arkprover = None


def built() -> bool:
    """True if the Rust extension is importable."""
    return _arkprover is not None


def _ext() -> ModuleType:
    if _arkprover is None:
        raise NativeUnavailable("bitcoinzk.prover._arkprover is not built (run make install)")
    return _arkprover


class NativeUnavailable(RuntimeError):
    """The native extension or a witness calculator is missing: run `make install`."""


def wasmtime_available() -> bool:
    """True if the `wasmtime` package (in-process witnesses) is importable."""
    try:
        import wasmtime  # noqa: F401
    except ImportError:
        return False
    return True


def node_available() -> bool:
    """True if node + snarkjs can compute witnesses."""
    try:
        tool("snarkjs")
    except ToolUnavailable:
        return False
    return True


def default_witness_backend() -> WitnessBackend:
    """`$BZK_WITNESS_BACKEND` if set, else wasmtime where installed, else node."""
    env = os.environ.get("BZK_WITNESS_BACKEND")
    if env:
        if env not in WITNESS_BACKENDS:
            raise ValueError(f"BZK_WITNESS_BACKEND must be one of {WITNESS_BACKENDS}")
        return "wasmtime" if env == "wasmtime" else "node"
    return "wasmtime" if wasmtime_available() else "node"


def available() -> bool:
    """True if the extension is built and something can compute witnesses."""
    return _arkprover is not None and (wasmtime_available() or node_available())


def threads() -> int:
    return int(_ext().threads())


def msm_backend() -> str:
    """Whose MSM a key loaded now would use: `batch-affine`, the crate's own bucket MSM
    (`batch_msm.rs`) on halo2curves' assembly fields (needs BMI2 and ADX), or arkworks'
    (`BZK_PROVER_ARKWORKS_MSM` set, or an older CPU)."""
    fast_msm = getattr(_ext(), "fast_msm", None)  # absent from a build older than halo2curves
    return "batch-affine" if fast_msm is not None and fast_msm() else "arkworks"


@dataclass
class Timings:
    """Seconds spent in the last proof's two phases (`witness_cpu_s`: the CPU the
    witness took, in this thread or in node's process)."""

    witness_s: float = 0.0
    prove_s: float = 0.0
    witness_cpu_s: float = 0.0


@dataclass
class NativeProver:
    """One native proving key in memory, and the circuit's witness calculator.

    `zkey` is a snarkjs `.zkey` (ceremony or native dev setup) or a groth16py dev
    `proving.key`, proven as it is under groth16py's verifying key (no setup of ours).
    `witness_backend`: "wasmtime" (in this process; its compiled module is loaded here,
    once) or "node"; None picks `default_witness_backend()`.
    """

    zkey: Path
    wasm: Path
    witness_backend: WitnessBackend | None = None
    key: Any = field(init=False, repr=False)
    load_s: float = field(init=False)
    witness_load_s: float = field(init=False, default=0.0)
    _calc: WasmWitness | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        start = time.perf_counter()
        with open(self.zkey, "rb") as f:
            magic = f.read(6)
        if magic == b"g16pk1":  # a groth16py key: its own CRS and QAP, its verifying key
            self.key = _ext().ProvingKey.load_groth16py(str(self.zkey))
        else:
            self.key = _ext().ProvingKey.load(str(self.zkey))
        self.load_s = time.perf_counter() - start
        if self.witness_backend is None:
            self.witness_backend = default_witness_backend()
        if self.witness_backend == "wasmtime":
            from bitcoinzk.prover.wasm_witness import WasmWitness

            start = time.perf_counter()
            self._calc = WasmWitness(self.wasm)
            self.witness_load_s = time.perf_counter() - start

    def verification_key_json(self) -> str:
        return str(self.key.verification_key_json())

    def prove_wtns(self, wtns: Path) -> bytes:
        """Proof from a `.wtns` file (thread-safe, GIL released)."""
        return bytes(self.key.prove_wtns(str(wtns)))

    def prove_wtns_bytes(self, wtns: bytes) -> bytes:
        """Proof from the bytes of a `.wtns` file (thread-safe, GIL released)."""
        return bytes(self.key.prove_wtns_bytes(wtns))

    def witness_wtns(self, inputs: dict[str, object]) -> bytes:
        """The `.wtns` bytes for these inputs, by this prover's witness backend.

        WitnessFailed at a failed constraint (either backend);
        `wasm_witness.InputSignalError` (a ValueError) for inputs that are not the
        circuit's, on wasmtime (node: a RuntimeError)."""
        return self.witness_with_cpu(inputs)[0]

    def witness_with_cpu(self, inputs: dict[str, object]) -> tuple[bytes, float]:
        """The `.wtns` bytes and the CPU seconds they took (this thread's, or node's)."""
        if self._calc is not None:
            cpu = time.thread_time()
            data = self._calc.wtns(inputs)
            return data, time.thread_time() - cpu
        with tempfile.TemporaryDirectory(prefix="bzk-wtns-") as tmp:
            wtns = Path(tmp) / "w.wtns"
            usage = snarkjs_witness_file(self.wasm, inputs, wtns)
            return wtns.read_bytes(), usage.ru_utime + usage.ru_stime

    def witness(self, inputs: dict[str, object], wtns: Path) -> None:
        """Write the `.wtns` for these inputs; WitnessFailed at a failed constraint."""
        if self._calc is not None:
            wtns.write_bytes(self._calc.wtns(inputs))
        else:
            snarkjs_witness_file(self.wasm, inputs, wtns)

    def prove(self, inputs: dict[str, object], timings: Timings | None = None) -> bytes:
        """Witness + proof, unchecked (a broken constraint stops the witness; callers
        still verify, as with every backend). The witness goes to the prover as bytes,
        no file (on wasmtime; node writes one)."""
        start = time.perf_counter()
        wtns, witness_cpu = self.witness_with_cpu(inputs)
        mid = time.perf_counter()
        proof = self.prove_wtns_bytes(wtns)
        end = time.perf_counter()
        if timings is not None:
            timings.witness_s, timings.prove_s = mid - start, end - mid
            timings.witness_cpu_s = witness_cpu
        return proof


def native_setup(
    groth16py_key: Path, zkey: Path, wasm: Path, progress: object = None
) -> dict[str, int]:
    """Single-party setup in Rust over the R1CS inside a groth16py dev key (UNSAFE for
    real funds); writes a snarkjs `.zkey` and the witness `.wasm`."""
    if _arkprover is None:
        raise NativeUnavailable("bitcoinzk.prover._arkprover is not built")
    n_vars, constraints, domain = _arkprover.setup_from_groth16py(
        str(groth16py_key), str(zkey), str(wasm), progress
    )
    return {"wires": int(n_vars), "constraints": int(constraints), "domain": int(domain)}


def r1cs_shape(groth16py_key: Path) -> tuple[int, int, int]:
    """(wires, public signals, constraints) of a groth16py dev key's R1CS."""
    w, p, c = _ext().groth16py_key_shape(str(groth16py_key))
    return int(w), int(p), int(c)


def extract_wasm(groth16py_key: Path, out: Path) -> None:
    _ext().extract_wasm(str(groth16py_key), str(out))


__all__ = [
    "WITNESS_BACKENDS",
    "NativeProver",
    "NativeUnavailable",
    "Timings",
    "WitnessBackend",
    "WitnessFailed",
    "available",
    "built",
    "default_witness_backend",
    "extract_wasm",
    "msm_backend",
    "native_setup",
    "node_available",
    "r1cs_shape",
    "threads",
    "wasmtime_available",
]
