"""bitcoinzk.crypto: Poseidon, BabyJubJub and EdDSA-Poseidon, all circomlib-compatible."""

from .eddsa import PrivateKey, PublicKey, Signature, verify, verify_batch, verify_batch_bytes
from .poseidon import FIELD_MODULUS, poseidon

__all__ = [
    "FIELD_MODULUS",
    "PrivateKey",
    "PublicKey",
    "Signature",
    "poseidon",
    "verify",
    "verify_batch",
    "verify_batch_bytes",
]
