"""The batch proof's one public input, computed in Python independently of the circuit.

    preimage = chain_id:u32 || block_number:u64 || old_root:32 || new_root:32
               || fee_account:u24 || forced_digest:u128 || outpoints_digest:32
               || chunks (B * 10 bytes, NOOP-padded) || records (E * 35 bytes, zero-padded)
    forced_digest = the digest of the forced request slot 0 processed, else 0
    outpoints_digest = sha256(the deposits' outpoints, 36 bytes each)
    public_input = int(sha256(preimage)) mod 2^253

(docs/protocol.md, "The public input"). This module deliberately does not call
`bitcoinzk.spec.pubdata.public_input`: the tests hold the two (and the circuit)
to the same value, so a mistake in one shows up as a disagreement.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from bitcoinzk.prover.circuit import CircuitShape

CHUNK_BYTES = 10
FORCED_DIGEST_BITS = 128
RECORD_BYTES = 35
PUBLIC_INPUT_BITS = 253
FIELD_MODULUS = 0x30644E72E131A029B85045B68181585D2833E84879B9709143E1F593F0000001


class PublicInputError(ValueError):
    """The block's data does not fit the circuit's shape or encoding."""


def public_input(
    shape: CircuitShape,
    chain_id: int,
    block_number: int,
    old_root: int,
    new_root: int,
    fee_account: int,
    outpoints_digest: bytes,
    chunks: Sequence[bytes],
    records: Sequence[bytes],
    forced_digest: int = 0,
) -> int:
    """What the verifier (contract, BitVM game, or `verify_proof`) checks the proof against."""
    if len(chunks) > shape.slots or len(records) > shape.records:
        raise PublicInputError(
            f"{len(chunks)} chunks / {len(records)} records do not fit {shape.label}"
        )
    if any(len(c) != CHUNK_BYTES for c in chunks) or any(len(r) != RECORD_BYTES for r in records):
        raise PublicInputError(f"chunks are {CHUNK_BYTES} bytes and records {RECORD_BYTES} bytes")
    if len(outpoints_digest) != 32:
        raise PublicInputError("the outpoints digest is 32 bytes")
    if not (0 <= old_root < FIELD_MODULUS and 0 <= new_root < FIELD_MODULUS):
        raise PublicInputError("roots must be field elements")
    if not 0 <= fee_account < 2**24:
        raise PublicInputError("fee_account must be a u24")
    if not 0 <= forced_digest < 2**FORCED_DIGEST_BITS:
        raise PublicInputError(f"the forced digest is {FORCED_DIGEST_BITS} bits")
    preimage = b"".join(
        [
            chain_id.to_bytes(4, "big"),
            block_number.to_bytes(8, "big"),
            old_root.to_bytes(32, "big"),
            new_root.to_bytes(32, "big"),
            fee_account.to_bytes(3, "big"),
            forced_digest.to_bytes(FORCED_DIGEST_BITS // 8, "big"),
            outpoints_digest,
            *chunks,
            bytes(CHUNK_BYTES * (shape.slots - len(chunks))),
            *records,
            bytes(RECORD_BYTES * (shape.records - len(records))),
        ]
    )
    assert len(preimage) * 8 == shape.sha256_bits
    digest = hashlib.sha256(preimage).digest()
    return int.from_bytes(digest, "big") % (1 << PUBLIC_INPUT_BITS)
