"""MiMC-7 over the BN254 scalar field, identical to circomlib's ``MultiMiMC7(n, 91)``.

The forced-withdrawal queue needs one hash that is cheap both inside the batch
circuit (~360 constraints per input) and in the EVM (a few thousand gas per
input, where Poseidon's MDS matrix costs tens of thousands): the Rollup contract
hashes each queued request with it once, and the circuit recomputes it from the
request it processed (docs/protocol.md, "Forced withdrawals").

The round constants are circomlibjs' ``mimc7.getConstants()``: ``c_0 = 0``,
``h_0 = keccak256("mimc")``, ``h_i = keccak256(h_(i-1))``, ``c_i = h_i mod r``.
tests/crypto/test_mimc.py checks them against circomlib's ``mimc.circom``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from eth_utils.crypto import keccak

FIELD_MODULUS = 21888242871839275222246405745257275088548364400416034343698204186575808495617
ROUNDS = 91
SEED = b"mimc"


@cache
def constants() -> tuple[int, ...]:
    out = [0]
    h = keccak(SEED)
    for _ in range(1, ROUNDS):
        h = keccak(h)
        out.append(int.from_bytes(h, "big") % FIELD_MODULUS)
    return tuple(out)


def mimc7(x: int, k: int) -> int:
    """circomlib ``MiMC7(91)``: 91 rounds of ``t -> (t + k + c_i)^7``, then ``+ k``."""
    p = FIELD_MODULUS
    c = constants()
    t = (x + k) % p
    for i in range(ROUNDS):
        if i > 0:
            t = (t + k + c[i]) % p
        t = pow(t, 7, p)
    return (t + k) % p


def multi_mimc7(inputs: Sequence[int], k: int = 0) -> int:
    """circomlib ``MultiMiMC7(n, 91)``: ``r_0 = k``, ``r_(i+1) = r_i + x_i + MiMC7(x_i, r_i)``."""
    p = FIELD_MODULUS
    r = k % p
    for x in inputs:
        if not 0 <= x < p:
            raise ValueError("MiMC inputs must be field elements")
        r = (r + x + mimc7(x, r)) % p
    return r
