"""A snarkjs `.zkey` of the right shape for *timing only* (never for proofs anyone checks).

A real snarkjs Groth16 key needs a prepared powers-of-tau file of the circuit's
size, which this machine cannot make beyond ~2^15 (DESIGN facts). `snarkjs
groth16 prove` does the same work whatever the points are, so for the speed
comparison we write a `.zkey` with the circuit's real R1CS coefficients (from
circom2's `.r1cs`), its real sizes, and the curve generators in place of every
point. snarkjs proves with it in the same time as with a ceremony key; the proof
itself is meaningless, which is why the benchmark says `"snarkjs_key": "timing-only"`.

File layout follows snarkjs `zkey_new.js` / `zkey_utils.js` (sections 1-10).
"""

from __future__ import annotations

import struct
from pathlib import Path

Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583
R = 21888242871839275222246405745257275088548364400416034343698204186575808495617
MONT = (1 << 256) % Q
G1 = (1, 2)
G2 = (
    (
        10857046999023057135944570762232829481370756359578518086990519993285655852781,
        11559732032986387107991004021392285783925812861821192530917403151452391805634,
    ),
    (
        8495653923123431417604973247489272438418190587263600148770280649306958101930,
        4082367875863433681332203403145435568316851327593401208105741076214120093531,
    ),
)


def _fq(v: int) -> bytes:
    return ((v * MONT) % Q).to_bytes(32, "little")


G1_BYTES = _fq(G1[0]) + _fq(G1[1])
G2_BYTES = _fq(G2[0][0]) + _fq(G2[0][1]) + _fq(G2[1][0]) + _fq(G2[1][1])
ONE_MONT_R = ((1 << 256) % R).to_bytes(32, "little")


def _read_r1cs(path: Path) -> tuple[int, int, int, list[bytes]]:
    """(nVars, nPublic, nConstraints, coefficient entries for A and B)."""
    data = path.read_bytes()
    if data[:4] != b"r1cs":
        raise ValueError(f"{path} is not an r1cs file")
    n_sections = struct.unpack_from("<I", data, 8)[0]
    pos = 12
    sections: dict[int, tuple[int, int]] = {}
    for _ in range(n_sections):
        kind, size = struct.unpack_from("<IQ", data, pos)
        pos += 12
        sections[kind] = (pos, size)
        pos += size
    hp = sections[1][0]
    n8 = struct.unpack_from("<I", data, hp)[0]
    hp += 4 + n8
    n_wires, n_pub_out, n_pub_in, _n_prv_in = struct.unpack_from("<IIII", data, hp)
    hp += 16 + 8
    n_constraints = struct.unpack_from("<I", data, hp)[0]
    n_public = n_pub_out + n_pub_in

    entries: list[bytes] = []
    cp = sections[2][0]
    term = 4 + n8
    for c in range(n_constraints):
        for matrix in range(3):
            n_terms = struct.unpack_from("<I", data, cp)[0]
            cp += 4
            if matrix < 2:
                for t in range(n_terms):
                    off = cp + t * term
                    wire = struct.unpack_from("<I", data, off)[0]
                    entries.append(
                        struct.pack("<III", matrix, c, wire) + data[off + 4 : off + term]
                    )
            cp += n_terms * term
    for i in range(n_public + 1):
        entries.append(struct.pack("<III", 0, n_constraints + i, i) + ONE_MONT_R)
    return n_wires, n_public, n_constraints, entries


def write_timing_zkey(r1cs: Path, out: Path) -> dict[str, int]:
    n_vars, n_public, n_constraints, coeffs = _read_r1cs(r1cs)
    domain = 1
    while domain < n_constraints + n_public + 1:
        domain *= 2

    def section(kind: int, body: bytes) -> bytes:
        return struct.pack("<IQ", kind, len(body)) + body

    header = (
        struct.pack("<I", 32)
        + Q.to_bytes(32, "little")
        + struct.pack("<I", 32)
        + R.to_bytes(32, "little")
        + struct.pack("<III", n_vars, n_public, domain)
        + G1_BYTES  # alpha1
        + G1_BYTES  # beta1
        + G2_BYTES  # beta2
        + G2_BYTES  # gamma2
        + G1_BYTES  # delta1
        + G2_BYTES  # delta2
    )
    with out.open("wb") as f:
        f.write(b"zkey" + struct.pack("<II", 1, 10))
        f.write(section(1, struct.pack("<I", 1)))
        f.write(section(2, header))
        f.write(section(3, G1_BYTES * (n_public + 1)))
        f.write(section(4, struct.pack("<I", len(coeffs)) + b"".join(coeffs)))
        f.write(section(5, G1_BYTES * n_vars))
        f.write(section(6, G1_BYTES * n_vars))
        f.write(section(7, G2_BYTES * n_vars))
        f.write(section(8, G1_BYTES * (n_vars - n_public - 1)))
        f.write(section(9, G1_BYTES * domain))
        f.write(section(10, bytes(64 + 4)))
    return {"n_vars": n_vars, "constraints": n_constraints, "domain": domain}
