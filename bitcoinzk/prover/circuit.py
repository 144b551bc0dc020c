"""The batch circuit's sources, its shape, and the identity of a compiled instance.

A circuit instance is `BatchCircuit(B, E, D)` from `circuits/batch.circom`: `B`
operation slots, `E` record slots and a depth-`D` account tree (the chain
parameters `block_slots`, `block_records`, `tree_depth`). Keys are only valid for
the exact sources they were made from, so an instance is named by a hash of every
`.circom` file it includes (ours and circomlib's) plus its parameters
(`instance_id`, which the exit circuit's identity uses too).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import groth16py

from bitcoinzk.spec.params import MAX_TREE_DEPTH, ChainParams

CIRCUITS_DIR = Path(__file__).resolve().parent / "circuits"
TOP_TEMPLATE = "BatchCircuit"
CIRCOM_PRAGMA = "2.1.0"


def default_key_dir() -> Path:
    """Where compiled circuits and their keys are cached, one directory per `circuit_id`
    (`$BZK_KEY_DIR`, else ~/.cache/bitcoinzk/keys)."""
    env = os.environ.get("BZK_KEY_DIR")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "bitcoinzk" / "keys"


HEADER_BITS = 32 + 64 + 256 + 256 + 24 + 128 + 256
"""chain_id:u32, block_number:u64, old_root, new_root, fee_account:u24, forced_digest:u128,
outpoints_digest."""
CHUNK_BITS = 80
RECORD_BITS = 280


@dataclass(frozen=True)
class CircuitShape:
    """The parameters a compiled circuit (and so a key) is specific to."""

    slots: int
    records: int
    depth: int

    def __post_init__(self) -> None:
        if self.slots < 1 or self.records < 1:
            raise ValueError("a batch circuit needs at least one slot and one record")
        if not 3 <= self.depth <= MAX_TREE_DEPTH or self.depth % 3:
            raise ValueError(f"depth must be a multiple of 3 in 3..{MAX_TREE_DEPTH}")

    @classmethod
    def of(cls, params: ChainParams) -> CircuitShape:
        return cls(params.block_slots, params.block_records, params.tree_depth)

    @property
    def label(self) -> str:
        return f"B{self.slots}-E{self.records}-D{self.depth}"

    @property
    def main_file(self) -> str:
        """The name `main_source()` is compiled under."""
        return f"batch_{self.label}.circom"

    @property
    def sha256_bits(self) -> int:
        """Length of the public-input preimage in bits."""
        return HEADER_BITS + CHUNK_BITS * self.slots + RECORD_BITS * self.records

    def main_source(self) -> str:
        """The top-level `.circom` file for this instance."""
        return top_level_source(
            "batch.circom", TOP_TEMPLATE, (self.slots, self.records, self.depth), ("public_input",)
        )


def top_level_source(
    include: str, template: str, args: Sequence[int], public: Sequence[str]
) -> str:
    """A top-level `.circom` file: `main` is `template(args)` from `include`, with these
    public inputs in this order."""
    return (
        f"pragma circom {CIRCOM_PRAGMA};\n"
        f'include "{include}";\n'
        f"component main {{public [{', '.join(public)}]}} = "
        f"{template}({', '.join(map(str, args))});\n"
    )


def circomlib_dir() -> Path:
    return Path(groth16py.circomlib_path(2))


def link_libraries() -> list[str]:
    """Include directories, in the order the compiler searches them."""
    return [str(CIRCUITS_DIR), str(circomlib_dir())]


@cache
def _sources_digest(libraries: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    for library in libraries:
        root = Path(library)
        for path in sorted(root.rglob("*.circom")):
            h.update(str(path.relative_to(root)).encode())
            h.update(b"\0")
            h.update(path.read_bytes())
            h.update(b"\0")
    h.update(f"groth16py={groth16py.__version__}".encode())
    return h.hexdigest()


def instance_id(label: str, main: str, libraries: Sequence[str]) -> str:
    """Names a compiled instance `<label>-<hash>`: the hash covers every `.circom` file of
    its include directories, the compiler's version and its top-level source `main`, so
    a key made from other sources never carries this name."""
    h = hashlib.sha256()
    h.update(_sources_digest(tuple(libraries)).encode())
    h.update(main.encode())
    return f"{label}-{h.hexdigest()[:16]}"


def circuit_id(shape: CircuitShape) -> str:
    """Names the compiled instance: sources, compiler and parameters."""
    return instance_id(shape.label, shape.main_source(), link_libraries())


def write_main(shape: CircuitShape, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / shape.main_file
    path.write_text(shape.main_source())
    return path
