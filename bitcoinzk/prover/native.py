"""The native prover: `bitcoinzk.prover._arkprover` (Rust, arkworks with `parallel` + `asm`).

    prover = NativeProver(files)                # loads the .zkey once (memory-mapped)
    proof = prover.prove(inputs)                # witness (node, on the circuit's .wasm) + proof
    proof = prover.prove_wtns(path)             # or from a snarkjs .wtns file

`prove` is thread-safe and releases the GIL while proving; one proof uses every core
(rayon; `RAYON_NUM_THREADS` caps it). Proofs are the 256-byte Ethereum layout that
`groth16py.Verifier`, snarkjs and the settlement verifier take.

The witness comes from the circuit's own `.wasm` (the one groth16py's in-process
compiler embeds in its keys: no circom2 build at any size), run by node through
`snarkjs wtns calculate`.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from bitcoinzk.prover.tooling import WitnessFailed, snarkjs_witness_file, tool

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
    """The native extension or node (for witnesses) is missing: run `make install`."""


def available() -> bool:
    """True if the extension is built and node + snarkjs can compute witnesses."""
    if _arkprover is None:
        return False
    try:
        tool("snarkjs")
    except RuntimeError:
        return False
    return True


def threads() -> int:
    return int(_ext().threads())


def msm_backend() -> str:
    """Whose MSM a key loaded now would use: halo2curves' (its assembly needs BMI2 and
    ADX) or arkworks' (`BZK_PROVER_ARKWORKS_MSM` set, or an older CPU)."""
    fast_msm = getattr(_ext(), "fast_msm", None)  # absent from a build older than halo2curves
    return "halo2curves" if fast_msm is not None and fast_msm() else "arkworks"


@dataclass
class Timings:
    """Seconds spent in the last proof's two phases."""

    witness_s: float = 0.0
    prove_s: float = 0.0


@dataclass
class NativeProver:
    """One native proving key in memory, and the circuit's witness calculator.

    `zkey` is a snarkjs `.zkey` (ceremony or native dev setup) or a groth16py dev
    `proving.key`, proven as it is under groth16py's verifying key (no setup of ours).
    """

    zkey: Path
    wasm: Path
    key: Any = field(init=False, repr=False)
    load_s: float = field(init=False)

    def __post_init__(self) -> None:
        start = time.perf_counter()
        with open(self.zkey, "rb") as f:
            magic = f.read(6)
        if magic == b"g16pk1":  # a groth16py key: its own CRS and QAP, its verifying key
            self.key = _ext().ProvingKey.load_groth16py(str(self.zkey))
        else:
            self.key = _ext().ProvingKey.load(str(self.zkey))
        self.load_s = time.perf_counter() - start

    def verification_key_json(self) -> str:
        return str(self.key.verification_key_json())

    def prove_wtns(self, wtns: Path) -> bytes:
        """Proof from a `.wtns` file (thread-safe, GIL released)."""
        return bytes(self.key.prove_wtns(str(wtns)))

    def witness(self, inputs: dict[str, object], wtns: Path) -> None:
        """Write the `.wtns` for these inputs; WitnessFailed at a failed constraint."""
        snarkjs_witness_file(self.wasm, inputs, wtns)

    def prove(self, inputs: dict[str, object], timings: Timings | None = None) -> bytes:
        """Witness + proof, unchecked (a broken constraint stops the witness; callers
        still verify, as with every backend)."""
        with tempfile.TemporaryDirectory(prefix="bzk-native-") as tmp:
            wtns = Path(tmp) / "w.wtns"
            start = time.perf_counter()
            self.witness(inputs, wtns)
            mid = time.perf_counter()
            proof = self.prove_wtns(wtns)
            end = time.perf_counter()
        if timings is not None:
            timings.witness_s, timings.prove_s = mid - start, end - mid
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
    "NativeProver",
    "NativeUnavailable",
    "Timings",
    "WitnessFailed",
    "available",
    "built",
    "extract_wasm",
    "msm_backend",
    "native_setup",
    "r1cs_shape",
    "threads",
]
