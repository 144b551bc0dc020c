"""Exit claims: the proof an account owner submits in exodus mode, and its submission.

    claim = build_exit(state, account, key, script_pubkey, chain_id)   # ~1-2 s
    receipt = submit_exit(rollup, claim)                               # Rollup.exit(...)

`state` is any `State` whose root is the contract's last proven root (a full node's,
rebuilt from the contract's data alone): only the account's leaf and its Merkle path
are read. The proof binds (root, chain_id, account, balance, script_pubkey), and the
owner's key signs the exit message, so nobody else can redirect the balance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import groth16py

from bitcoinzk.crypto.eddsa import PrivateKey, Signature
from bitcoinzk.crypto.poseidon import poseidon
from bitcoinzk.settlement.evm.client import TransactionReverted, TxReceipt
from bitcoinzk.settlement.evm.exit.circuit import EXIT_TAG, ExitKeys, ExitShape, ensure_exit_keys
from bitcoinzk.settlement.evm.rollup import Rollup, proof_words
from bitcoinzk.spec.params import LEVEL_BITS, MAX_SCRIPT_PUBKEY, RECORD_BYTES, TREE_ARITY
from bitcoinzk.spec.state import State
from bitcoinzk.spec.tree import MerkleProof
from bitcoinzk.spec.types import Account, script_pubkey_fields


class ExitError(Exception):
    """An exit claim that cannot be built (no such account, bad script, bad signature)."""


class ExitRejected(TransactionReverted):
    """The Rollup contract refused an exit claim; nothing on-chain changed."""


def exit_message(chain_id: int, account: int, script_pubkey: bytes) -> int:
    """M = Poseidon(5, chain_id, account, spk_hi, spk_lo): what the owner's key signs."""
    spk_hi, spk_lo = script_pubkey_fields(script_pubkey)
    return poseidon([EXIT_TAG, chain_id, account, spk_hi, spk_lo])


def sign_exit(key: PrivateKey, chain_id: int, account: int, script_pubkey: bytes) -> Signature:
    return key.sign(exit_message(chain_id, account, script_pubkey))


def exit_record(script_pubkey: bytes) -> bytes:
    """len:u8 || script_pubkey, zero-padded to 35 bytes: the record the bridge pays."""
    check_script_pubkey(script_pubkey)
    return (bytes([len(script_pubkey)]) + script_pubkey).ljust(RECORD_BYTES, b"\0")


def check_script_pubkey(script_pubkey: bytes) -> None:
    if not 1 <= len(script_pubkey) <= MAX_SCRIPT_PUBKEY:
        raise ExitError(f"script_pubkey must be 1..{MAX_SCRIPT_PUBKEY} bytes")


@dataclass(frozen=True)
class ExitClaim:
    """One account's exit: what `Rollup.exit` takes, and the root it was proven against."""

    account: int
    balance: int
    script_pubkey: bytes
    root: int
    chain_id: int
    proof: bytes

    @property
    def record(self) -> bytes:
        return exit_record(self.script_pubkey)

    def public_inputs(self) -> list[int]:
        spk_hi, spk_lo = script_pubkey_fields(self.script_pubkey)
        return [self.root, self.chain_id, self.account, self.balance, spk_hi, spk_lo]

    def to_json(self) -> dict[str, object]:
        return {
            "account": self.account,
            "balance": self.balance,
            "script_pubkey": self.script_pubkey.hex(),
            "root": hex(self.root),
            "chain_id": self.chain_id,
            "proof": self.proof.hex(),
        }


def circuit_children(index: int, siblings: tuple[int, ...], depth: int) -> list[list[int]]:
    """The circuit's `children[L][8]` from flat siblings: per level the 7 siblings with a
    0 at the path's own position (the circuit puts the path's node there)."""
    out = []
    for level in range(depth // LEVEL_BITS):
        at = (index >> (LEVEL_BITS * level)) & (TREE_ARITY - 1)
        row = list(siblings[7 * level : 7 * level + 7])
        row.insert(at, 0)
        out.append(row)
    return out


def exit_inputs(
    account: int,
    leaf: Account,
    path: MerkleProof,
    depth: int,
    script_pubkey: bytes,
    chain_id: int,
    signature: Signature,
) -> dict[str, object]:
    """The exit circuit's inputs (`circuits/exit.circom`)."""
    spk_hi, spk_lo = script_pubkey_fields(script_pubkey)
    return {
        "root": path.root(),
        "chainId": chain_id,
        "account": account,
        "balance": leaf.balance,
        "spkHi": spk_hi,
        "spkLo": spk_lo,
        "ax": leaf.pubkey.x,
        "ay": leaf.pubkey.y,
        "nonce": leaf.nonce,
        "children": circuit_children(account, path.siblings, depth),
        "sigR8x": signature.r8x,
        "sigR8y": signature.r8y,
        "sigS": signature.s,
    }


def prove_exit(
    account: int,
    leaf: Account,
    path: MerkleProof,
    depth: int,
    script_pubkey: bytes,
    chain_id: int,
    signature: Signature,
    keys: ExitKeys | None = None,
    key_dir: Path | None = None,
) -> ExitClaim:
    """An exit claim from the account's leaf, its Merkle path and the owner's signature
    (made elsewhere, e.g. by a wallet that never hands over its key). Raises ExitError
    rather than return a claim the contract would refuse."""
    check_script_pubkey(script_pubkey)
    if path.index != account or path.leaf != leaf.leaf():
        raise ExitError(f"the Merkle path is not account {account}'s leaf")
    files = keys if keys is not None else ensure_exit_keys(ExitShape(depth), key_dir)
    claim_inputs = exit_inputs(account, leaf, path, depth, script_pubkey, chain_id, signature)
    try:
        proof = groth16py.prove(files.load_proving_key(), claim_inputs)
    except (groth16py.WitnessError, groth16py.EncodingError) as exc:
        raise ExitError(f"no exit proof: {exc}") from None
    claim = ExitClaim(account, leaf.balance, script_pubkey, path.root(), chain_id, proof)
    if not verify_exit(files.load_verifying_key(), claim):
        # groth16py returns a proof that fails rather than stop at a broken constraint
        raise ExitError("the exit breaks a circuit rule (wrong key or signature?)")
    return claim


def build_exit(
    state: State,
    account: int,
    key: PrivateKey,
    script_pubkey: bytes,
    chain_id: int,
    keys: ExitKeys | None = None,
    key_dir: Path | None = None,
) -> ExitClaim:
    """Sign and prove `account`'s exit of its whole balance in `state` to `script_pubkey`."""
    leaf = state.get(account)
    if leaf is None:
        raise ExitError(f"account {account} does not exist in this state")
    if leaf.pubkey != key.public_key():
        raise ExitError(f"account {account} belongs to another key")
    signature = sign_exit(key, chain_id, account, script_pubkey)
    return prove_exit(
        account,
        leaf,
        state.proof(account),
        state.depth,
        script_pubkey,
        chain_id,
        signature,
        keys,
        key_dir,
    )


def verify_exit(vk: groth16py.VerifyingKey, claim: ExitClaim) -> bool:
    try:
        return bool(groth16py.Verifier(vk).verify(claim.proof, claim.public_inputs()))
    except (groth16py.VerificationError, groth16py.EncodingError, ValueError):
        return False


def exit_calldata(rollup: Rollup, claim: ExitClaim) -> bytes:
    return rollup.abi.encode_call(
        "exit", claim.account, claim.balance, claim.script_pubkey, proof_words(claim.proof)
    )


def submit_exit(rollup: Rollup, claim: ExitClaim) -> TxReceipt:
    """Send `Rollup.exit` for the claim (from the rollup client's sender: anyone may).

    Raises ExitRejected (with the contract's reason) if the contract refuses it.
    """
    try:
        return rollup.client.send(rollup.address, exit_calldata(rollup, claim))
    except TransactionReverted as exc:
        raise ExitRejected(exc.reason, exc.tx_hash) from None
