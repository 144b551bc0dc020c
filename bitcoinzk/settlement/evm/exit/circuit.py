"""The exodus exit circuit: its sources, identity, Groth16 key and verifier contract.

`ExitCircuit(D)` (`circuits/exit.circom`) proves that leaf `account` of a depth-`D`
tree with root `root` holds `balance` and that the account's key signed the exit to
a script_pubkey on chain `chain_id`. Six public inputs, in this order:

    root, chain_id, account, balance, spk_hi, spk_lo

The contract supplies `root` (its last proven state root) and `chain_id` itself, so
a proof made against any other root or chain does not verify there.

The circuit lives outside `bitcoinzk/prover/circuits/` on purpose: the batch
circuit's identity hashes every `.circom` file of that directory, and an exit
circuit beside it would change every batch key's name. It includes
`merkle.circom` from there, so its own identity hashes both directories.

Keys: one single-party dev key per circuit identity, cached under the key
directory like the batch keys (`<key dir>/<exit circuit id>/dev/`). UNSAFE for
real funds (whoever ran the setup can forge exits): a deployment needs a ceremony
key, as for the batch circuit. The circuit is small (5,658 constraints at D = 6, 8,166 at D = 24),
so groth16py proves it in-process in seconds; no native setup is needed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import groth16py

from bitcoinzk.prover.circuit import (
    CIRCOM_PRAGMA,
    CIRCUITS_DIR,
    circomlib_dir,
    default_key_dir,
)
from bitcoinzk.prover.keys import (
    META,
    PROVING_KEY,
    VERIFYING_KEY,
    _stdout_to,
    compiler_report,
)
from bitcoinzk.settlement.evm.contracts import (
    CompiledContract,
    ContractError,
    compile_source,
    vk_digest,
)
from bitcoinzk.spec.params import LEVEL_BITS, MAX_TREE_DEPTH

EXIT_CIRCUITS_DIR = Path(__file__).resolve().parent / "circuits"
TOP_TEMPLATE = "ExitCircuit"
PUBLIC_INPUTS = ("root", "chainId", "account", "balance", "spkHi", "spkLo")
EXIT_TAG = 5
"""The exit message's first field (docs/protocol.md, "Exodus")."""

EXIT_VERIFIER_HEADER = (
    "# bitcoinzk: exit verifier from verifying key sha256={digest} circuit={circuit}\n"
)


@dataclass(frozen=True)
class ExitShape:
    """The one parameter an exit circuit (and so its key) is specific to: the tree depth."""

    depth: int

    def __post_init__(self) -> None:
        if not LEVEL_BITS <= self.depth <= MAX_TREE_DEPTH or self.depth % LEVEL_BITS:
            raise ValueError(f"depth must be a multiple of {LEVEL_BITS} in 3..{MAX_TREE_DEPTH}")

    @property
    def label(self) -> str:
        return f"exit-D{self.depth}"

    def main_source(self) -> str:
        return (
            f"pragma circom {CIRCOM_PRAGMA};\n"
            f'include "exit.circom";\n'
            f"component main {{public [{', '.join(PUBLIC_INPUTS)}]}} = "
            f"{TOP_TEMPLATE}({self.depth});\n"
        )


def link_libraries() -> list[str]:
    """Include directories: the exit circuit, the batch circuit's templates, circomlib."""
    return [str(EXIT_CIRCUITS_DIR), str(CIRCUITS_DIR), str(circomlib_dir())]


@cache
def _sources_digest() -> str:
    h = hashlib.sha256()
    for root in (EXIT_CIRCUITS_DIR, CIRCUITS_DIR, circomlib_dir()):
        for path in sorted(root.rglob("*.circom")):
            h.update(str(path.relative_to(root)).encode())
            h.update(b"\0")
            h.update(path.read_bytes())
            h.update(b"\0")
    h.update(f"groth16py={groth16py.__version__}".encode())
    return h.hexdigest()


def exit_circuit_id(shape: ExitShape) -> str:
    """Names the compiled instance: sources, compiler and depth."""
    h = hashlib.sha256()
    h.update(_sources_digest().encode())
    h.update(shape.main_source().encode())
    return f"{shape.label}-{h.hexdigest()[:16]}"


@dataclass(frozen=True)
class ExitKeys:
    """One exit key pair on disk."""

    directory: Path
    shape: ExitShape

    @property
    def proving_key(self) -> Path:
        return self.directory / PROVING_KEY

    @property
    def verifying_key(self) -> Path:
        return self.directory / VERIFYING_KEY

    @property
    def circuit_id(self) -> str:
        return exit_circuit_id(self.shape)

    def exists(self) -> bool:
        return self.proving_key.is_file() and self.verifying_key.is_file()

    def meta(self) -> dict[str, object]:
        path = self.directory / META
        if not path.is_file():
            return {}
        data = json.loads(path.read_text())
        assert isinstance(data, dict)
        return data

    def load_proving_key(self) -> groth16py.ProvingKey:
        return groth16py.ProvingKey.load(str(self.proving_key))

    def load_verifying_key(self) -> groth16py.VerifyingKey:
        return groth16py.VerifyingKey.load(str(self.verifying_key))


def exit_key_files(shape: ExitShape, key_dir: Path | None = None) -> ExitKeys:
    root = key_dir if key_dir is not None else default_key_dir()
    return ExitKeys(root / exit_circuit_id(shape) / "dev", shape)


def ensure_exit_keys(shape: ExitShape, key_dir: Path | None = None) -> ExitKeys:
    """The exit key for this depth, from a single-party dev setup made once and cached.

    UNSAFE for real funds (see the module docstring): production ships a ceremony key.
    """
    files = exit_key_files(shape, key_dir)
    if files.exists():
        return files
    files.directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".dev-", dir=files.directory.parent))
    try:
        main = tmp / f"{shape.label}.circom"
        main.write_text(shape.main_source())
        start = time.perf_counter()
        with tempfile.TemporaryFile() as report:
            with _stdout_to(report):
                pk, vk = groth16py.setup_circom(str(main), link_libraries())
            report.seek(0)
            text = report.read().decode(errors="replace")
        elapsed = time.perf_counter() - start
        main.unlink()
        if vk.n_public != len(PUBLIC_INPUTS):
            raise ContractError(f"the exit key has {vk.n_public} public inputs, not 6")
        pk.save(str(tmp / PROVING_KEY))
        vk.save(str(tmp / VERIFYING_KEY))
        meta: dict[str, object] = {
            "circuit_id": exit_circuit_id(shape),
            "depth": shape.depth,
            "source": "dev",
            "groth16py": groth16py.__version__,
            "created": int(time.time()),
            "setup_s": round(elapsed, 3),
            **compiler_report(text),
        }
        (tmp / META).write_text(json.dumps(meta, indent=2, sort_keys=True))
        # Another process may have made the same key meanwhile: either copy is valid.
        try:
            tmp.rename(files.directory)
        except OSError:
            if not files.exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return files


def exit_verifier_source(vk: groth16py.VerifyingKey, circuit: str = "unknown") -> str:
    """groth16py's Groth16 verifier for the exit key (six public inputs, `verifyProof`)."""
    if vk.n_public != len(PUBLIC_INPUTS):
        raise ContractError(f"the exit circuit has 6 public inputs, the key has {vk.n_public}")
    header = EXIT_VERIFIER_HEADER.format(digest=vk_digest(vk), circuit=circuit)
    return header + vk.to_vyper(pragma="~=0.4.0", contract_name="ExitVerifier")


def compile_exit_verifier(vk: groth16py.VerifyingKey, circuit: str = "unknown") -> CompiledContract:
    return compile_source(exit_verifier_source(vk, circuit), "ExitVerifier")
