"""Groth16 verification on BN254 as a program of Fq operations, hinted throughout.

What Script checks for a proof (A, B, C) and one public input s:

    e(-A, B) e(alpha, beta) e(vk_x, gamma) e(C, delta) = 1,   vk_x = IC0 + s IC1

- **Public-input MSM**: s is cut into 4-bit windows read straight from its limbs;
  window k selects one of 16 constant points d 16^k IC1 + R_k (R_k an offset so
  no entry is the point at infinity), one hinted addition per window, the offsets
  are removed at the end.  The top window's table has two entries, so s < 2^253
  (the rollup's public input is SHA-256 cut to 253 bits) and s < r.
- **Points**: affine, with the prover's slopes checked by one multiplication
  (slope * dx = dy with dx nonzero, so no inverse is ever computed).  A, B, C are
  checked to be on their curves, and B to be in G2 (the order-r subgroup of the
  twist), as the EVM's pairing precompile requires: one [x] multiplication and
  psi maps (`g2_subgroup_sides`).
- **Miller loop**: the optimal ate loop over the NAF of 6x + 2 (65 doublings, 21
  additions), all three pairs in one accumulator.  gamma and delta are fixed, so
  their lines are constants; lines are scaled by 1/y_P (an Fq factor, which the
  final exponentiation kills) so each has the sparse form 1 + l1 w + l3 w^3.
  e(alpha, beta) is the constant Miller-loop value of the pair.
- **Final exponentiation by hint** (Novakovic and Eagen, "On Proving Pairings"):
  f is an r-th residue iff f s = c^lambda for some c and some s in {1, w, w^2}
  (w of order 27), lambda = 6x + 2 + p - p^2 + p^3 (a multiple of r).  The prover
  supplies c, c^-1 and the index of s; the loop multiplies by c^-1 (or c) on each
  non-zero NAF digit, so at the end it holds f c^-(6x+2), and the check is
      g s c^(p^2) = c^p c^(p^3)      (Frobenius maps are multiplications by constants).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from py_ecc import optimized_bn128

from .fq import P
from .program import Fq, Program
from .tower import Fq2, Fq12, frobenius_constant, from_py_ecc, to_py_ecc

bn: Any = optimized_bn128  # py_ecc exports nothing explicitly

BATCH_PROOF = Path(__file__).parent / "data" / "batch_proof.json"
"""A real batch proof of the test circuit (B2-E1-D6) with the development key that
proved it and its public input: what the tests and the benchmark verify."""

X = 4965661367192848881
ATE = 6 * X + 2
R = int(bn.curve_order)
LAMBDA = ATE + P - P**2 + P**3
H_EXP = (P**12 - 1) // R  # the final exponent
B_TWIST = None  # set below: 3 / (9 + u)
MSM_WINDOW = 4
MSM_WINDOWS = 64
PUBLIC_INPUT_BITS = 253


def naf(n: int) -> list[int]:
    """Non-adjacent form, most significant digit first."""
    out = []
    while n:
        d = (2 - n % 4) if n & 1 else 0
        n = (n - d) // 2
        out.append(d)
    return out[::-1]


ATE_NAF = naf(ATE)


def _prog(*xs: Any) -> Program | None:
    for x in xs:
        if isinstance(x, Fq) and x.prog is not None:
            return x.prog
        if isinstance(x, Fq2):
            p = _prog(x.c0, x.c1)
            if p is not None:
                return p
    return None


def _inv(x: int) -> int:
    return pow(x, -1, P) if x % P else 0


def _fq2_div(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    n = _inv(b[0] * b[0] + b[1] * b[1])
    bi = (b[0] * n % P, -b[1] * n % P)
    return ((a[0] * bi[0] - a[1] * bi[1]) % P, (a[0] * bi[1] + a[1] * bi[0]) % P)


# --- G1 ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class G1:
    x: Fq
    y: Fq

    @classmethod
    def const(cls, pt: tuple[int, int], prog: Program | None) -> G1:
        if prog is None:
            return cls(Fq(pt[0] % P), Fq(pt[1] % P))
        return cls(prog.const(pt[0]), prog.const(pt[1]))

    @property
    def value(self) -> tuple[int, int]:
        return (self.x.v, self.y.v)


def g1_add(p: G1, q: G1) -> G1:
    """p + q (p != +-q): the slope is hinted and checked as slope * dx = dy, dx != 0."""
    dx, dy = q.x - p.x, q.y - p.y
    prog = _prog(p.x, p.y, q.x, q.y)
    slope_v = dy.v * _inv(dx.v) % P
    if prog is None:
        slope = Fq(slope_v)
    else:
        slope = prog.witness(slope_v)
        prog.assert_nonzero(dx)
        prog.assert_eq(slope * dx, dy)
    x3 = slope.square() - p.x - q.x
    return G1(x3, slope * (p.x - x3) - p.y)


def g1_double(p: G1) -> G1:
    """2p (p not of order 2): slope * 2y = 3x^2 (y = 0 makes the check fail, as x^3 = -3
    has no root with x = 0)."""
    prog = _prog(p.x, p.y)
    x2 = p.x.square()
    slope_v = 3 * x2.v * _inv(2 * p.y.v) % P
    if prog is None:
        slope = Fq(slope_v)
    else:
        slope = prog.witness(slope_v)
        prog.assert_eq(slope * p.y.double(), x2.mul_small(3))
    x3 = slope.square() - p.x.double()
    return G1(x3, slope * (p.x - x3) - p.y)


def g1_on_curve(p: G1, prog: Program) -> None:
    prog.assert_eq(p.y.square(), p.x.square() * p.x + 3)


def _affine(pt: Any) -> tuple[int, int]:
    x, y = bn.normalize(pt)
    return int(x), int(y)


@cache
def msm_tables(ic0: tuple[int, int], ic1: tuple[int, int]) -> tuple[Any, ...]:
    """(tables, final offset): table k entry d = d 16^k IC1 + R_k; offset = -sum R_k."""
    seed = int.from_bytes(hashlib.sha256(b"bitcoinzk/bitvm/msm-offset").digest(), "big") % R
    base = bn.multiply(bn.G1, seed)
    ic1_pt = (bn.FQ(ic1[0]), bn.FQ(ic1[1]), bn.FQ(1))
    tables = []
    for k in range(MSM_WINDOWS):
        r_k = bn.multiply(base, k + 1)
        entries = 2 if k == MSM_WINDOWS - 1 else 1 << MSM_WINDOW  # s < 2^253
        step = bn.multiply(ic1_pt, 16**k)
        tables.append(tuple(_affine(bn.add(bn.multiply(step, d), r_k)) for d in range(entries)))
    total = MSM_WINDOWS * (MSM_WINDOWS + 1) // 2
    return tuple(tables), _affine(bn.neg(bn.multiply(base, total)))


def public_input_msm(s: Fq, ic0: tuple[int, int], ic1: tuple[int, int], prog: Program | None) -> G1:
    """IC0 + s IC1 by 4-bit windows of s and constant tables."""
    tables, offset = msm_tables(ic0, ic1)
    acc = G1.const(ic0, prog)
    for k in range(MSM_WINDOWS):
        d = (s.v >> (MSM_WINDOW * k)) & ((1 << MSM_WINDOW) - 1)
        if prog is None:
            entry = G1.const(tables[k][d], None)
        else:
            idx = prog.window(s, MSM_WINDOW * k, MSM_WINDOW)
            entry = G1(
                prog.select(idx, [t[0] for t in tables[k]]),
                prog.select(idx, [t[1] for t in tables[k]]),
            )
        acc = g1_add(acc, entry)
    return g1_add(acc, G1.const(offset, prog))


# --- G2 and lines ------------------------------------------------------------------------------


@dataclass(frozen=True)
class G2:
    x: Fq2
    y: Fq2

    @classmethod
    def const(cls, pt: tuple[tuple[int, int], tuple[int, int]], prog: Program | None) -> G2:
        return cls(Fq2.of(*pt[0], prog=prog), Fq2.of(*pt[1], prog=prog))

    @property
    def value(self) -> tuple[tuple[int, int], tuple[int, int]]:
        return (self.x.value, self.y.value)

    def neg(self) -> G2:
        return G2(self.x, -self.y)

    def frobenius(self) -> G2:
        """The p-power Frobenius of the untwisted point, in twisted coordinates."""
        return G2(
            self.x.conj().mul_const(frobenius_constant(1, 2)),
            self.y.conj().mul_const(frobenius_constant(1, 3)),
        )

    def frobenius2(self) -> G2:
        return G2(
            self.x.mul_const(frobenius_constant(2, 2)), self.y.mul_const(frobenius_constant(2, 3))
        )


def _b_twist() -> tuple[int, int]:
    return _fq2_div((3, 0), (9, 1))


def g2_on_curve(q: G2, prog: Program) -> None:
    (q.y.square()).assert_eq(q.x.square() * q.x + Fq2.of(*_b_twist(), prog=prog), prog)


@dataclass(frozen=True)
class Line:
    """The line through T with slope mu, as mu and mu x_T - y_T (Fq2 each)."""

    mu: Fq2
    k: Fq2


def _slope_hint(num: tuple[int, int], den: tuple[int, int], prog: Program | None) -> Fq2:
    v = _fq2_div(num, den)
    return Fq2.of(*v) if prog is None else Fq2.witness(prog, v)


def _double_slope(t: G2) -> Fq2:
    """The tangent's slope at T, hinted: mu * 2y = 3x^2, checked (y = 0 fails it, as
    x^3 = -b' has no root with x = 0)."""
    prog = _prog(t.x, t.y)
    x2 = t.x.square()
    three_x2 = Fq2(x2.c0.mul_small(3), x2.c1.mul_small(3))
    mu = _slope_hint(three_x2.value, t.y.double().value, prog)
    if prog is not None:
        (mu * t.y.double()).assert_eq(three_x2, prog)
    return mu


def _add_slope(t: G2, q: G2) -> Fq2:
    """The chord's slope through T and Q, hinted: mu (x_Q - x_T) = y_Q - y_T, x_Q != x_T."""
    prog = _prog(t.x, t.y, q.x, q.y)
    dx, dy = q.x - t.x, q.y - t.y
    mu = _slope_hint(dy.value, dx.value, prog)
    if prog is not None:
        prog.assert_nonzero(dx.c0, dx.c1)
        (mu * dx).assert_eq(dy, prog)
    return mu


def g2_double(t: G2) -> tuple[G2, Line]:
    """2T and the tangent at T."""
    return _step(t, t, _double_slope(t))


def g2_add(t: G2, q: G2) -> tuple[G2, Line]:
    """T + Q and the line through both."""
    return _step(t, q, _add_slope(t, q))


def _sum(t: G2, q: G2, mu: Fq2) -> G2:
    x3 = mu.square() - t.x - q.x
    return G2(x3, mu * (t.x - x3) - t.y)


def _step(t: G2, q: G2, mu: Fq2) -> tuple[G2, Line]:
    return _sum(t, q, mu), Line(mu, mu * t.x - t.y)


def g2_double_point(t: G2) -> G2:
    """2T without the line (the subgroup check needs no lines)."""
    return _sum(t, t, _double_slope(t))


def g2_add_point(t: G2, q: G2) -> G2:
    return _sum(t, q, _add_slope(t, q))


X_NAF = naf(X)


def g2_mul_x(q: G2) -> G2:
    """[x]Q by the NAF of x (62 doublings, 23 additions).  Every addition's dx != 0
    check holds for Q in G2 (the partial sums are [k]Q with 1 < k < x < r); for
    another Q a failed check only rejects."""
    t = q
    for d in X_NAF[1:]:
        t = g2_double_point(t)
        if d:
            t = g2_add_point(t, q if d == 1 else q.neg())
    return t


def g2_subgroup_sides(q: G2) -> tuple[G2, G2]:
    """Both sides of the G2 membership test of El Housni, Guillevic and Piellard
    ("Co-factor clearing and subgroup membership testing on pairing-friendly
    curves") for BN curves, with psi the untwist-Frobenius-twist endomorphism:

        Q in G2  iff  [x+1]Q + psi([x]Q) + psi^2([x]Q) = psi^3([2x]Q),

    arranged as [x+1]Q + psi([x]Q) = psi^3([2x]Q) - psi^2([x]Q) so that no sum is
    of points that are equal for Q in G2.  For Q on E'(Fq2) the map Q -> left - right
    is a homomorphism that vanishes on G2 (psi acts there as [p], and
    x + 1 + p x + p^2 x - 2 p^3 x = 0 mod r); E'(Fq2) = G2 x H with H cyclic of
    squarefree order 2p - r = 10069 * 5864401 * 1875725156269 * (a 178-bit prime),
    and a point of each prime order in H fails the test (tests/settlement/bitvm/
    test_tower.py), so the kernel is exactly G2.  Costs one [x] multiplication (63
    bits) instead of the [6x^2] (127 bits) of psi(Q) = [6x^2]Q."""
    xq = g2_mul_x(q)
    lhs = g2_add_point(g2_add_point(xq, q), xq.frobenius())
    psi3 = g2_double_point(xq).frobenius2().frobenius()
    return lhs, g2_add_point(psi3, xq.frobenius2().neg())


def g2_in_subgroup(q: G2) -> bool:
    """The Python reference (plain values)."""
    lhs, rhs = g2_subgroup_sides(q)
    return lhs.value == rhs.value


def g2_subgroup_check(q: G2, prog: Program) -> None:
    lhs, rhs = g2_subgroup_sides(q)
    lhs.x.assert_eq(rhs.x, prog)
    lhs.y.assert_eq(rhs.y, prog)


@dataclass(frozen=True)
class ScaledP:
    """A G1 point prepared for line evaluation: a = -x/y and b = 1/y, so that the line
    (y - mu x w + (mu x_T - y_T) w^3) / y = 1 + (mu a) w + (k b) w^3."""

    a: Fq
    b: Fq


def prepare(p: G1) -> ScaledP:
    b = p.y.inverse()
    return ScaledP(-(p.x * b), b)


def mul_by_line(f: Fq12, line: Line, p: ScaledP) -> Fq12:
    l1 = line.mu.scale(p.a)
    l3 = line.k.scale(p.b)
    return mul_line_1(f, l1, l3)


def mul_line_1(f: Fq12, l1: Fq2, l3: Fq2) -> Fq12:
    """f (1 + l1 w + l3 w^3): 30 Fq multiplications."""
    a0, a1 = f.c0, f.c1
    t1 = a1.mul_01(l1, l3)
    one = Fq2(l1.c0 + 1, l1.c1)
    c1 = (a0 + a1).mul_01(one, l3) - a0 - t1
    return Fq12(a0 + t1.mul_by_v(), c1)


@dataclass(frozen=True)
class FixedLines:
    """A constant G2 point's lines, in loop order (constants: cost nothing to compute)."""

    lines: tuple[tuple[tuple[int, int], tuple[int, int]], ...]


@cache
def fixed_lines(q: tuple[tuple[int, int], tuple[int, int]]) -> FixedLines:
    out = []
    for line in _lines(G2.const(q, None)):
        out.append((line.mu.value, line.k.value))
    return FixedLines(tuple(out))


def _lines(q: G2) -> list[Line]:
    """Every line of the loop for Q, in order (doublings, additions, the two final ones)."""
    t, out = q, []
    for d in ATE_NAF[1:]:
        t, line = g2_double(t)
        out.append(line)
        if d:
            t, line = g2_add(t, q if d == 1 else q.neg())
            out.append(line)
    q1, q2 = q.frobenius(), q.frobenius2().neg()
    t, line = g2_add(t, q1)
    out.append(line)
    _, line = g2_add(t, q2)
    out.append(line)
    return out


def miller_loop(
    var: tuple[ScaledP, G2] | None,
    fixed: Sequence[tuple[ScaledP, FixedLines]],
    c: Fq12,
    c_inv: Fq12,
    prog: Program | None,
) -> Fq12:
    """g = f c^-(6x+2), f the product of the pairs' Miller loops (lines scaled)."""
    g = c_inv
    t = var[1] if var else None
    n = 0

    def apply(g: Fq12, var_line: Line | None) -> Fq12:
        nonlocal n
        if var is not None and var_line is not None:
            g = mul_by_line(g, var_line, var[0])
        for p, lines in fixed:
            mu, k = lines.lines[n]
            g = mul_by_line(g, Line(Fq2.of(*mu, prog=prog), Fq2.of(*k, prog=prog)), p)
        n += 1
        return g

    for i, d in enumerate(ATE_NAF[1:]):
        if prog is not None:
            prog.mark(f"miller {i} digit {d}")
        g = g.square()
        line = None
        if t is not None:
            t, line = g2_double(t)
        g = apply(g, line)
        if d:
            if t is not None and var is not None:
                t, line = g2_add(t, var[1] if d == 1 else var[1].neg())
            g = apply(g, line)
            g = g * (c_inv if d == 1 else c)
    if prog is not None:
        prog.mark("miller final lines")
    line1 = line2 = None
    if t is not None and var is not None:
        q = var[1]
        t, line1 = g2_add(t, q.frobenius())
        _, line2 = g2_add(t, q.frobenius2().neg())
    g = apply(g, line1)
    g = apply(g, line2)
    return g


def miller_step(
    g: Fq12, t: G2, p: ScaledP, digit: int, q: G2, c: Fq12, c_inv: Fq12
) -> tuple[Fq12, G2]:
    """One loop iteration for one variable pair (the unit the benchmark measures)."""
    g = g.square()
    t, line = g2_double(t)
    g = mul_by_line(g, line, p)
    if digit:
        t, line = g2_add(t, q if digit == 1 else q.neg())
        g = mul_by_line(g, line, p)
        g = g * (c_inv if digit == 1 else c)
    return g, t


# --- the final check and the prover's witness ---------------------------------------------------


def final_check(g: Fq12, c: Fq12, s: Fq12, prog: Program) -> None:
    """g s c^(p^2) = c^p c^(p^3)."""
    lhs = g * s * c.frobenius(2)
    rhs = c.frobenius(1) * c.frobenius(3)
    lhs.assert_eq(rhs, prog)


Plain = list[tuple[int, int]]


def _plain(x: Plain) -> Fq12:
    return Fq12.constant(x)


def _py(x: Plain) -> Any:
    return bn.FQ12(to_py_ecc(x))


def _unpy(x: Any) -> Plain:
    return from_py_ecc([int(c) for c in x.coeffs])


def _pow(x: Fq12, e: int) -> Fq12:
    """Plain exponentiation (py_ecc's FQ12 is several times faster than the tower here)."""
    return Fq12.constant(_unpy(_py(x.value) ** e))


def _inverse12(x: Fq12) -> Fq12:
    return Fq12.constant(_unpy(_py(x.value).inv()))


@cache
def _w27() -> Plain:
    """An element of order 27 (the 3-Sylow subgroup of Fq12* has order 27)."""
    one = bn.FQ12.one()
    for seed in range(2, 100):
        cand = _py([(seed, 1)] + [(1, 0)] * 5) ** ((P**12 - 1) // 27)
        if cand**9 != one:
            return _unpy(cand)
    raise AssertionError("no element of order 27")


def scalings() -> tuple[Plain, Plain, Plain]:
    w = _py(_w27())
    return (Fq12.one().value, _unpy(w), _unpy(w * w))


@cache
def _residue_witness(f: tuple[tuple[int, int], ...]) -> tuple[Plain, int]:
    one = bn.FQ12.one()
    ff, w = _py(list(f)), _py(_w27())
    cube_test = H_EXP // 3
    omega, fc = w**cube_test, ff**cube_test
    i = next(j for j in range(3) if fc * omega**j == one)
    big_f = ff * w**i
    f1 = big_f ** pow(R, -1, H_EXP)
    m = LAMBDA // R
    f2 = f1 ** pow(m // 3, -1, H_EXP)
    t = H_EXP // 27
    root_t = (f2 ** (27 * pow(27, -1, t))) ** pow(3, -1, t)
    part_3 = f2 ** (t * pow(t, -1, 27))
    k = next(j for j in range(27) if w**j == part_3)
    if k % 3:
        raise ValueError("not a cube: f is not an r-th residue")
    return _unpy(root_t * w ** (k // 3)), i


def residue_witness(f: Plain) -> tuple[Plain, int]:
    """(c, i) with c^lambda = f w^i, for f an r-th residue (the proof is valid).

    f w^i is the cube it must be (i from its cubic character), F1 = (f w^i)^(1/r) and
    F2 = F1^(1/m') are exponentiations by inverses modulo the order h = (p^12 - 1)/r
    of the group f lives in (gcd(r, h) = gcd(m', h) = 1, lambda = 3 m' r); the cube
    root of F2 is taken apart: by 3^-1 mod t on the order-t part (h = 27 t) and by
    a discrete log on the order-27 part."""
    return _residue_witness(tuple(f))


# --- Groth16 -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyingKey:
    alpha: tuple[int, int]
    beta: tuple[tuple[int, int], tuple[int, int]]
    gamma: tuple[tuple[int, int], tuple[int, int]]
    delta: tuple[tuple[int, int], tuple[int, int]]
    ic: tuple[tuple[int, int], tuple[int, int]]

    @classmethod
    def from_snarkjs(cls, text: str) -> VerifyingKey:
        j = json.loads(text)

        def g1(v: list[str]) -> tuple[int, int]:
            return int(v[0]), int(v[1])

        def g2(v: list[list[str]]) -> tuple[tuple[int, int], tuple[int, int]]:
            return (int(v[0][0]), int(v[0][1])), (int(v[1][0]), int(v[1][1]))

        if len(j["IC"]) != 2:
            raise ValueError("one public input expected")
        return cls(
            g1(j["vk_alpha_1"]),
            g2(j["vk_beta_2"]),
            g2(j["vk_gamma_2"]),
            g2(j["vk_delta_2"]),
            (g1(j["IC"][0]), g1(j["IC"][1])),
        )


@dataclass(frozen=True)
class Proof:
    a: tuple[int, int]
    b: tuple[tuple[int, int], tuple[int, int]]
    c: tuple[int, int]

    @classmethod
    def from_bytes(cls, raw: bytes) -> Proof:
        """a.x a.y b.x.c1 b.x.c0 b.y.c1 b.y.c0 c.x c.y, 32 bytes each, big-endian."""
        if len(raw) != 256:
            raise ValueError("a proof is 256 bytes")
        v = [int.from_bytes(raw[32 * i : 32 * i + 32], "big") for i in range(8)]
        return cls((v[0], v[1]), ((v[3], v[2]), (v[5], v[4])), (v[6], v[7]))


@cache
def alpha_beta(vk: VerifyingKey) -> Plain:
    """The Miller-loop value of (alpha, beta) with this module's line scaling."""
    p = prepare(G1.const(vk.alpha, None))
    one = Fq12.one()
    return miller_loop((p, G2.const(vk.beta, None)), [], one, one, None).value


@dataclass
class Verification:
    """The recorded verifier for one proof: the program and what the prover supplied."""

    prog: Program
    valid: bool  # every check holds for the honest values
    inputs: list[int]  # variables of the proof and the public input, in order
    c: Plain
    scaling: int


def verifier_program(vk: VerifyingKey, proof: Proof, public_input: int) -> Verification:
    """Run the verifier on (proof, public input), recording it.  For an invalid proof
    the prover's hints cannot satisfy the final check; c is then a best effort."""
    # the prover's side: f without c, then c and the scaling index
    f_plain = _loop_value(vk, proof, public_input)
    try:
        c_value, index = residue_witness(f_plain)
    except (ValueError, StopIteration):
        c_value, index = Fq12.one().value, 0

    prog = Program()
    a = G1(prog.witness(proof.a[0]), prog.witness(proof.a[1]))
    b = G2(Fq2.witness(prog, proof.b[0]), Fq2.witness(prog, proof.b[1]))
    cc = G1(prog.witness(proof.c[0]), prog.witness(proof.c[1]))
    s = prog.witness(public_input)
    inputs = [v.id for v in (a.x, a.y, b.x.c0, b.x.c1, b.y.c0, b.y.c1, cc.x, cc.y, s)]
    c = Fq12.witness(prog, c_value)
    c_inv = Fq12.witness(prog, _inverse12(_plain(c_value)).value)
    (c * c_inv).assert_eq(Fq12.one(prog), prog)
    idx = prog.small_witness(index)
    scalings_ = scalings()
    s12 = Fq12.from_coeffs(
        [
            Fq2(
                prog.select(idx, [sc[k][0] for sc in scalings_]),
                prog.select(idx, [sc[k][1] for sc in scalings_]),
            )
            for k in range(6)
        ]
    )
    g1_on_curve(a, prog)
    g1_on_curve(cc, prog)
    g2_on_curve(b, prog)
    prog.mark("public-input msm")
    vk_x = public_input_msm(s, vk.ic[0], vk.ic[1], prog)
    prog.mark("miller loop")
    neg_a = G1(a.x, -a.y)
    fixed = [
        (prepare(vk_x), fixed_lines(vk.gamma)),
        (prepare(cc), fixed_lines(vk.delta)),
    ]
    g = miller_loop((prepare(neg_a), b), fixed, c, c_inv, prog)
    g = g * Fq12.constant(alpha_beta(vk), prog)
    prog.mark("final check")
    final_check(g, c, s12, prog)
    # last: the cut of everything before is the one measured without it (where a
    # stretch of ~3,000 instructions goes moves every later cut, and the Miller
    # loop's cuts are sensitive to that: 349 committed chunks with the check first)
    prog.mark("g2 subgroup")
    g2_subgroup_check(b, prog)
    return Verification(prog, not prog.failed, inputs, c_value, index)


def _loop_value(vk: VerifyingKey, proof: Proof, public_input: int) -> Plain:
    """f (no c) in plain arithmetic: what the prover needs to find c."""
    one = Fq12.one()
    a = G1.const((proof.a[0], -proof.a[1] % P), None)
    b = G2.const(proof.b, None)
    vk_x = public_input_msm(Fq(public_input % P), vk.ic[0], vk.ic[1], None)
    fixed = [
        (prepare(vk_x), fixed_lines(vk.gamma)),
        (prepare(G1.const(proof.c, None)), fixed_lines(vk.delta)),
    ]
    g = miller_loop((prepare(a), b), fixed, one, one, None)
    return (g * _plain(alpha_beta(vk))).value
