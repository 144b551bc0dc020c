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

from dataclasses import dataclass
from pathlib import Path

import groth16py

from bitcoinzk.prover.circuit import (
    CIRCUITS_DIR,
    circomlib_dir,
    default_key_dir,
    instance_id,
    top_level_source,
)
from bitcoinzk.prover.keys import KeyPair, key_meta, single_party_setup, store_key_pair
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
        return top_level_source("exit.circom", TOP_TEMPLATE, (self.depth,), PUBLIC_INPUTS)


def link_libraries() -> list[str]:
    """Include directories: the exit circuit, the batch circuit's templates, circomlib."""
    return [str(EXIT_CIRCUITS_DIR), str(CIRCUITS_DIR), str(circomlib_dir())]


def exit_circuit_id(shape: ExitShape) -> str:
    """Names the compiled instance: sources (both directories), compiler and depth."""
    return instance_id(shape.label, shape.main_source(), link_libraries())


@dataclass(frozen=True)
class ExitKeys(KeyPair):
    """One exit key pair on disk."""

    shape: ExitShape

    @property
    def circuit_id(self) -> str:
        return exit_circuit_id(self.shape)


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
    pk, vk, cost = single_party_setup(
        shape.main_source(), f"{shape.label}.circom", link_libraries()
    )
    if vk.n_public != len(PUBLIC_INPUTS):
        raise ContractError(f"the exit key has {vk.n_public} public inputs, not 6")
    meta = {**key_meta(exit_circuit_id(shape), "dev"), "depth": shape.depth, **cost}
    # Another process may have made the same key meanwhile: either copy is valid.
    store_key_pair(files.directory, pk, vk, meta, replace=False)
    return files


def exit_verifier_source(vk: groth16py.VerifyingKey, circuit: str = "unknown") -> str:
    """groth16py's Groth16 verifier for the exit key (six public inputs, `verifyProof`)."""
    if vk.n_public != len(PUBLIC_INPUTS):
        raise ContractError(f"the exit circuit has 6 public inputs, the key has {vk.n_public}")
    header = EXIT_VERIFIER_HEADER.format(digest=vk_digest(vk), circuit=circuit)
    return header + vk.to_vyper(pragma="~=0.4.0", contract_name="ExitVerifier")


def compile_exit_verifier(vk: groth16py.VerifyingKey, circuit: str = "unknown") -> CompiledContract:
    return compile_source(exit_verifier_source(vk, circuit), "ExitVerifier")
