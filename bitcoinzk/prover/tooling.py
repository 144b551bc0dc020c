"""Optional Node.js tools (installed by scripts/setup-extra.sh into ./node_modules).

`circom2` (the circom 2 compiler built to WebAssembly) gives constraint counts and
a `.wasm` witness calculator; `snarkjs` computes `.wtns` witnesses and proves for
the comparison benchmark. Nothing in the prover's normal path needs them.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bitcoinzk.procutil import with_parent_death_signal
from bitcoinzk.prover.circuit import (
    CircuitShape,
    circuit_id,
    default_key_dir,
    link_libraries,
    write_main,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_BIN = REPO_ROOT / "node_modules" / ".bin"


class ToolUnavailable(RuntimeError):
    """The Node.js tool is not installed (run `make install`)."""


def tool(name: str) -> Path:
    path = NODE_BIN / name
    if path.exists():
        return path
    found = shutil.which(name)
    if found is None:
        raise ToolUnavailable(f"{name} not found in {NODE_BIN} or PATH")
    return Path(found)


def has_tools() -> bool:
    try:
        tool("circom2")
        tool("snarkjs")
    except ToolUnavailable:
        return False
    return shutil.which("node") is not None


def _wasi_path(path: Path) -> str:
    # circom2 runs under WASI with only the working directory ("/") preopened.
    return str(path.resolve()).lstrip("/")


@dataclass(frozen=True)
class Compiled:
    """Outputs of `circom2 --O2` for one circuit shape."""

    directory: Path
    constraints: int
    wires: int

    @property
    def wasm(self) -> Path:
        return next(self.directory.glob("*_js/*.wasm"))

    @property
    def r1cs(self) -> Path:
        return next(self.directory.glob("*.r1cs"))


def compile_circuit(shape: CircuitShape, out_dir: Path, wasm: bool = True) -> Compiled:
    """Compile with circom2 at --O2 (groth16py's level), caching the result in `out_dir`."""
    info = out_dir / "compile.json"
    data = json.loads(info.read_text()) if info.is_file() else {}
    if data.get("version") == 2:
        compiled = Compiled(out_dir, int(data["constraints"]), int(data["wires"]))
        if not wasm or list(out_dir.glob("*_js/*.wasm")):
            return compiled
    out_dir.mkdir(parents=True, exist_ok=True)
    main = write_main(shape, out_dir)
    args = [str(tool("circom2")), _wasi_path(main), "--r1cs", "--O2", "-o", _wasi_path(out_dir)]
    if wasm:
        args.append("--wasm")
    for lib in link_libraries():
        args += ["-l", _wasi_path(Path(lib))]
    proc = subprocess.run(
        with_parent_death_signal(args), cwd="/", capture_output=True, text=True, check=False
    )
    text = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    if proc.returncode != 0 or "Everything went okay" not in text:
        raise RuntimeError(f"circom2 failed:\n{text[-2000:]}")
    nonlinear = int(re.search(r"non-linear constraints: (\d+)", text).group(1))  # type: ignore[union-attr]
    linear = int(re.search(r"^linear constraints: (\d+)", text, re.M).group(1))  # type: ignore[union-attr]
    wires = int(re.search(r"wires: (\d+)", text).group(1))  # type: ignore[union-attr]
    info.write_text(json.dumps({"version": 2, "constraints": nonlinear + linear, "wires": wires}))
    return Compiled(out_dir, nonlinear + linear, wires)


def write_input_json(inputs: dict[str, object], path: Path) -> None:
    def conv(v: object) -> object:
        if isinstance(v, list):
            return [conv(x) for x in v]
        if isinstance(v, int):
            return str(v)
        raise TypeError(type(v).__name__)

    path.write_text(json.dumps({k: conv(v) for k, v in inputs.items()}))


class WitnessFailed(RuntimeError):
    """The witness calculator hit a failed constraint (`Assert Failed`)."""


def snarkjs_witness_file(
    wasm: Path, inputs: dict[str, object], wtns: Path
) -> resource.struct_rusage:
    """`snarkjs wtns calculate`: node's witness calculator (checks every constraint).
    Returns node's own resource usage (CPU, peak memory), for the benchmark."""
    input_json = wtns.with_suffix(".input.json")
    write_input_json(inputs, input_json)
    args = [str(tool("snarkjs")), "wtns", "calculate", str(wasm), str(input_json), str(wtns)]
    with tempfile.TemporaryFile() as output:
        proc = subprocess.Popen(
            with_parent_death_signal(args), stdout=output, stderr=subprocess.STDOUT
        )
        try:
            # wait4, not wait: the usage of this one child, not of all children so far
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read().decode(errors="replace")
    if "Assert Failed" in text or "Error in template" in text:
        raise WitnessFailed(text[-1000:])
    if proc.returncode != 0 or not wtns.is_file():
        raise RuntimeError(f"snarkjs wtns calculate failed: {text[-2000:]}")
    return usage


def node_build_dir(shape: CircuitShape, key_dir: Path | None = None) -> Path:
    """Where the circom2 build of a circuit is cached: beside its keys."""
    return (key_dir or default_key_dir()) / circuit_id(shape) / "circom2"


def prepare_node_witness(shape: CircuitShape, key_dir: Path | None = None) -> Path | None:
    """Compile (once, cached) the circuit for node's witness calculator; None without node.

    A `ProverService` created afterwards (witness="auto") computes witnesses with it:
    about 5x faster than groth16py's wasmi interpreter (2 s vs 10.6 s at B=4, D=24).
    """
    if not has_tools():
        return None
    return compile_circuit(shape, node_build_dir(shape, key_dir)).wasm


def snarkjs_witness(compiled: Compiled, inputs: dict[str, object], wtns: Path) -> None:
    snarkjs_witness_file(compiled.wasm, inputs, wtns)
