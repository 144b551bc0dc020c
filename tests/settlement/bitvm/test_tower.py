"""Fq2/Fq6/Fq12 arithmetic, Frobenius maps, G1 and G2 point steps, the public-input MSM,
a Miller-loop step and the final check: checked against py_ecc in Python, then
recorded, compiled and spent chunk by chunk in regtest blocks, honest results
connected and each primitive's wrong result refused by libbitcoinkernel."""

from __future__ import annotations

import json
import math
import random
from functools import cache
from typing import Any

import pytest
from py_ecc import optimized_bn128
from py_ecc.optimized_bn128.optimized_pairing import linefunc

from bitcoinzk.settlement.bitvm import pairing as pr
from bitcoinzk.settlement.bitvm.chunker import run_program
from bitcoinzk.settlement.bitvm.fq import P
from bitcoinzk.settlement.bitvm.program import Fq, Program
from bitcoinzk.settlement.bitvm.tower import Fq2, Fq6, Fq12, from_py_ecc, to_py_ecc

bn: Any = optimized_bn128  # py_ecc exports nothing explicitly

RNG = random.Random(2015)
DATA = pr.BATCH_PROOF


def rfq2() -> tuple[int, int]:
    return RNG.randrange(P), RNG.randrange(P)


def rfq12() -> list[tuple[int, int]]:
    return [rfq2() for _ in range(6)]


def py12(x: list[tuple[int, int]]) -> bn.FQ12:
    return bn.FQ12(to_py_ecc(x))


def g1_point(k: int) -> tuple[int, int]:
    x, y = bn.normalize(bn.multiply(bn.G1, k))
    return int(x), int(y)


def g2_point(k: int) -> tuple[tuple[int, int], tuple[int, int]]:
    x, y = bn.normalize(bn.multiply(bn.G2, k))
    return (int(x.coeffs[0]), int(x.coeffs[1])), (int(y.coeffs[0]), int(y.coeffs[1]))


@cache
def batch() -> tuple[pr.VerifyingKey, bytes, int]:
    d = json.loads(DATA.read_text())
    vk = pr.VerifyingKey.from_snarkjs(json.dumps(d["verifying_key"]))
    return vk, bytes.fromhex(d["proof"]), int(d["public_input"], 16)


# --- Python reference against py_ecc ----------------------------------------------------------


def test_tower_matches_py_ecc():
    for _ in range(3):
        a, b = rfq12(), rfq12()
        pa, pb = py12(a), py12(b)
        assert from_py_ecc(to_py_ecc(a)) == a
        A, B = Fq12.constant(a), Fq12.constant(b)
        assert to_py_ecc((A * B).value) == [int(c) for c in (pa * pb).coeffs]
        assert to_py_ecc(A.square().value) == [int(c) for c in (pa * pa).coeffs]
        for n in (1, 2, 3):
            assert to_py_ecc(A.frobenius(n).value) == [int(c) for c in (pa ** (P**n)).coeffs]
        x, y = rfq2(), rfq2()
        prod = Fq2.of(*x) * Fq2.of(*y)
        ref = bn.FQ2(list(x)) * bn.FQ2(list(y))
        assert prod.value == tuple(int(c) for c in ref.coeffs)


def test_points_and_lines_match_py_ecc():
    p, q = g1_point(5), g1_point(11)
    s = pr.g1_add(pr.G1.const(p, None), pr.G1.const(q, None))
    assert s.value == g1_point(16)
    assert pr.g1_double(pr.G1.const(p, None)).value == g1_point(10)
    t = pr.G2.const(g2_point(3), None)
    t2, tangent = pr.g2_double(t)
    assert t2.value == g2_point(6)
    t3, chord = pr.g2_add(t2, pr.G2.const(g2_point(1), None))
    assert t3.value == g2_point(7)
    # the scaled line is py_ecc's line through the untwisted points divided by -y_P
    pt = g1_point(9)
    sp = pr.prepare(pr.G1.const(pt, None))
    one = Fq12.one()
    for line, a, b in ((tangent, t, t), (chord, t2, pr.G2.const(g2_point(1), None))):
        ours = py12(pr.mul_by_line(one, line, sp).value)
        ta, tb = bn.twist(_jac(a)), bn.twist(_jac(b))
        cast = (bn.FQ12([pt[0]] + [0] * 11), bn.FQ12([pt[1]] + [0] * 11), bn.FQ12.one())
        num, den = linefunc(ta, tb, cast)
        assert ours == num / den / bn.FQ12([-pt[1] % P] + [0] * 11)


def _jac(q: pr.G2) -> tuple[bn.FQ2, bn.FQ2, bn.FQ2]:
    (x0, x1), (y0, y1) = q.value
    return bn.FQ2([x0, x1]), bn.FQ2([y0, y1]), bn.FQ2.one()


TwistPoint = tuple[tuple[int, int], tuple[int, int]]
COFACTOR_PRIMES = (
    10069,
    5864401,
    1875725156269,
    197620364512881247228717050342013327560683201906968909,
)
"""The prime factors of #E'(Fq2) / r = 2p - r (each once: the cofactor group is cyclic)."""


def _fq2_sqrt(a: bn.FQ2) -> bn.FQ2 | None:
    """A square root in Fq2 = Fq[u]/(u^2 + 1) by the complex method (p = 3 mod 4)."""
    a0, a1 = (int(c) for c in a.coeffs)
    s = pow((a0 * a0 + a1 * a1) % P, (P + 1) // 4, P)
    for sign in (s, -s % P):
        t = (a0 + sign) * pow(2, -1, P) % P
        x0 = pow(t, (P + 1) // 4, P)
        if x0 and x0 * x0 % P == t:
            root = bn.FQ2([x0, a1 * pow(2 * x0, -1, P) % P])
            if root * root == a:
                return root
    return None


def twist_point(seed: int) -> TwistPoint:
    """A point of E'(Fq2) from an x-coordinate derived from `seed` (in G2 with
    probability 1/(2p - r): never, in practice; callers check)."""
    rng = random.Random(seed)
    while True:
        x = bn.FQ2([rng.randrange(P), rng.randrange(P)])
        y = _fq2_sqrt(x**3 + bn.b2)
        if y is not None:
            return (int(x.coeffs[0]), int(x.coeffs[1])), (int(y.coeffs[0]), int(y.coeffs[1]))


def _affine2(q: tuple[bn.FQ2, bn.FQ2, bn.FQ2]) -> TwistPoint:
    x, y = bn.normalize(q)
    return (int(x.coeffs[0]), int(x.coeffs[1])), (int(y.coeffs[0]), int(y.coeffs[1]))


def test_g2_subgroup_test_is_exact():
    """G2 points pass; points of E'(Fq2) outside G2 fail, among them a point of each
    prime order dividing the cofactor: the test's kernel meets the cofactor group
    (cyclic, squarefree order) in the identity only, so it is exactly G2."""
    r = int(bn.curve_order)
    assert 2 * P - r == math.prod(COFACTOR_PRIMES)
    for k in (1, 2, RNG.randrange(r)):
        assert pr.g2_in_subgroup(pr.G2.const(_affine2(bn.multiply(bn.G2, k)), None))
    seeds = iter(range(100))
    for ell in COFACTOR_PRIMES:
        while True:
            q = _jac(pr.G2.const(twist_point(next(seeds)), None))
            q_ell = bn.multiply(q, r * (2 * P - r) // ell)  # of order ell or 1
            if not bn.is_inf(q_ell):
                break
        assert bn.is_inf(bn.multiply(q_ell, ell))
        assert not pr.g2_in_subgroup(pr.G2.const(_affine2(q_ell), None))
        assert not bn.is_inf(bn.multiply(q, r))  # q itself: off G2, on the curve
        assert bn.is_on_curve(q, bn.b2)
        assert not pr.g2_in_subgroup(pr.G2.const(_affine2(q), None))


def test_public_input_msm_matches_py_ecc():
    vk, _, s = batch()
    got = pr.public_input_msm(Fq(s), vk.ic[0], vk.ic[1], None).value
    ic0 = (bn.FQ(vk.ic[0][0]), bn.FQ(vk.ic[0][1]), bn.FQ(1))
    ic1 = (bn.FQ(vk.ic[1][0]), bn.FQ(vk.ic[1][1]), bn.FQ(1))
    ref = bn.normalize(bn.add(ic0, bn.multiply(ic1, s)))
    assert got == (int(ref[0]), int(ref[1]))


def test_final_exponentiation_witness():
    """The prover's c satisfies c^lambda = f w^i exactly when f's final exponentiation is 1."""
    vk, raw, s = batch()
    f = pr._loop_value(vk, pr.Proof.from_bytes(raw), s)
    assert bn.final_exponentiate(py12(f)) == bn.FQ12.one()
    c, i = pr.residue_witness(f)
    lhs = pr._pow(Fq12.constant(c), pr.LAMBDA).value
    assert lhs == (Fq12.constant(f) * Fq12.constant(pr.scalings()[i])).value
    # another proof's A (on the curve, in the group): f is no longer an r-th residue
    bad = pr.Proof(g1_point(7), pr.Proof.from_bytes(raw).b, pr.Proof.from_bytes(raw).c)
    f_bad = pr._loop_value(vk, bad, s)
    assert bn.final_exponentiate(py12(f_bad)) != bn.FQ12.one()
    with pytest.raises((ValueError, StopIteration)):
        pr.residue_witness(f_bad)


# --- kernel runs --------------------------------------------------------------------------------


def _fq2_program() -> tuple[Program, list[int], list[int]]:
    prog = Program()
    x, y = rfq2(), rfq2()
    a, b = Fq2.witness(prog, x), Fq2.witness(prog, y)
    m, sq = a * b, a.square()
    ref_m = bn.FQ2(list(x)) * bn.FQ2(list(y))
    ref_s = bn.FQ2(list(x)) ** 2
    expected = [int(c) for c in (*ref_m.coeffs, *ref_s.coeffs)]
    return prog, [m.c0.id, m.c1.id, sq.c0.id, sq.c1.id], expected


def _fq12_program(op: str) -> tuple[Program, list[int], list[int]]:
    prog = Program()
    x, y = rfq12(), rfq12()
    a, b = Fq12.witness(prog, x), Fq12.witness(prog, y)
    if op == "mul":
        out, ref = a * b, py12(x) * py12(y)
    elif op == "square":
        out, ref = a.square(), py12(x) ** 2
    else:
        n = int(op[-1])
        out, ref = a.frobenius(n), py12(x) ** (P**n)
    flat = [c for pair in from_py_ecc([int(v) for v in ref.coeffs]) for c in pair]
    return prog, [f.id for f in out.fqs()], flat


def _fq6_program() -> tuple[Program, list[int], list[int]]:
    """Fq6 product and square, referenced through py_ecc as Fq12 elements with c1 = 0."""
    prog = Program()
    x, y = [rfq2() for _ in range(3)], [rfq2() for _ in range(3)]
    a = Fq6(*(Fq2.witness(prog, v) for v in x))
    b = Fq6(*(Fq2.witness(prog, v) for v in y))
    m, sq = a * b, a.square()
    zero = [(0, 0)] * 3

    def embed(v: list[tuple[int, int]]) -> list[tuple[int, int]]:
        return [v[0], zero[0], v[1], zero[1], v[2], zero[2]]  # w^0, w^2, w^4

    expected: list[int] = []
    for ref in (py12(embed(x)) * py12(embed(y)), py12(embed(x)) ** 2):
        coeffs = from_py_ecc([int(c) for c in ref.coeffs])
        expected += [c for k in (0, 2, 4) for c in coeffs[k]]
    outs = [f.id for e in (m, sq) for x2 in (e.c0, e.c1, e.c2) for f in (x2.c0, x2.c1)]
    return prog, outs, expected


def _g1_program() -> tuple[Program, list[int], list[int]]:
    prog = Program()
    p, q = g1_point(21), g1_point(34)
    a = pr.G1(prog.witness(p[0]), prog.witness(p[1]))
    b = pr.G1(prog.witness(q[0]), prog.witness(q[1]))
    s, d = pr.g1_add(a, b), pr.g1_double(a)
    return prog, [s.x.id, s.y.id, d.x.id, d.y.id], [*g1_point(55), *g1_point(42)]


def _msm_program() -> tuple[Program, list[int], list[int]]:
    vk, _, s = batch()
    prog = Program()
    out = pr.public_input_msm(prog.witness(s), vk.ic[0], vk.ic[1], prog)
    ic0 = (bn.FQ(vk.ic[0][0]), bn.FQ(vk.ic[0][1]), bn.FQ(1))
    ic1 = (bn.FQ(vk.ic[1][0]), bn.FQ(vk.ic[1][1]), bn.FQ(1))
    ref = bn.normalize(bn.add(ic0, bn.multiply(ic1, s)))
    return prog, [out.x.id, out.y.id], [int(ref[0]), int(ref[1])]


def _miller_step_program() -> tuple[Program, list[int], list[int]]:
    """One loop iteration with an addition (digit 1): square, tangent, chord, c^-1."""
    g_v, c_v = rfq12(), rfq12()
    c_inv_v = pr._inverse12(Fq12.constant(c_v)).value
    t_v, q_v, p_v = g2_point(13), g2_point(1), g1_point(3)

    def run(prog: Program | None) -> tuple[Fq12, pr.G2]:
        if prog is None:
            g, c, ci = Fq12.constant(g_v), Fq12.constant(c_v), Fq12.constant(c_inv_v)
            t, q = pr.G2.const(t_v, None), pr.G2.const(q_v, None)
            p = pr.G1.const(p_v, None)
        else:
            g, c, ci = (Fq12.witness(prog, v) for v in (g_v, c_v, c_inv_v))
            t = pr.G2(Fq2.witness(prog, t_v[0]), Fq2.witness(prog, t_v[1]))
            q = pr.G2(Fq2.witness(prog, q_v[0]), Fq2.witness(prog, q_v[1]))
            p = pr.G1(prog.witness(p_v[0]), prog.witness(p_v[1]))
        return pr.miller_step(g, t, pr.prepare(p), 1, q, c, ci)

    ref_g, ref_t = run(None)
    assert ref_t.value == g2_point(27)
    prog = Program()
    g, t = run(prog)
    outs = [f.id for f in g.fqs()] + [t.x.c0.id, t.x.c1.id, t.y.c0.id, t.y.c1.id]
    flat = [f.v for f in ref_g.fqs()] + [*ref_t.x.value, *ref_t.y.value]
    return prog, outs, flat


def _final_check_program() -> tuple[Program, list[int], list[int]]:
    """The hinted final exponentiation on the real proof's Miller-loop value."""
    vk, raw, s = batch()
    f = pr._loop_value(vk, pr.Proof.from_bytes(raw), s)
    c_v, i = pr.residue_witness(f)
    # g = f c^-(6x+2): what the loop hands over
    c_inv = pr._inverse12(Fq12.constant(c_v))
    g_v = (Fq12.constant(f) * pr._pow(c_inv, pr.ATE)).value
    prog = Program()
    g, c = Fq12.witness(prog, g_v), Fq12.witness(prog, c_v)
    idx = prog.small_witness(i)
    sc = pr.scalings()
    s12 = Fq12.from_coeffs(
        [
            Fq2(prog.select(idx, [x[k][0] for x in sc]), prog.select(idx, [x[k][1] for x in sc]))
            for k in range(6)
        ]
    )
    pr.final_check(g, c, s12, prog)
    assert not prog.failed
    done = g.fqs()[0] + c.fqs()[0]  # a result to claim: the check has none of its own
    return prog, [done.id], [(g_v[0][0] + c_v[0][0]) % P]


PROGRAMS = {
    "fq2 mul+square": _fq2_program,
    "fq6 mul+square": _fq6_program,
    "fq12 mul": lambda: _fq12_program("mul"),
    "fq12 square": lambda: _fq12_program("square"),
    "frobenius 1": lambda: _fq12_program("frob1"),
    "frobenius 2": lambda: _fq12_program("frob2"),
    "frobenius 3": lambda: _fq12_program("frob3"),
    "g1 add+double": _g1_program,
    "public-input msm": _msm_program,
    "miller step": _miller_step_program,
    "final check": _final_check_program,
}


def test_primitives_in_the_kernel(funded):
    node, wallet = funded
    for name, build in PROGRAMS.items():
        prog, outs, expected = build()
        assert [prog.values[v] for v in outs] == expected, name
        assert not prog.failed, name
        assert run_program(node, wallet, prog, outs), name
        wrong = {outs[0]: (expected[0] + 1) % P}
        assert not run_program(node, wallet, prog, outs, wrong, only_claiming=True), name


def test_final_check_refuses_a_wrong_witness(funded):
    """c replaced by c * w (still a 27th-root shift away): the check fails in Script."""
    node, wallet = funded
    vk, raw, s = batch()
    f = pr._loop_value(vk, pr.Proof.from_bytes(raw), s)
    c_v, i = pr.residue_witness(f)
    c_bad = (Fq12.constant(c_v) * Fq12.constant(pr.scalings()[1])).value
    c_inv = pr._inverse12(Fq12.constant(c_bad))
    g_v = (Fq12.constant(f) * pr._pow(c_inv, pr.ATE)).value
    prog = Program()
    g, c = Fq12.witness(prog, g_v), Fq12.witness(prog, c_bad)
    sc = pr.scalings()
    idx = prog.small_witness(i)
    s12 = Fq12.from_coeffs(
        [
            Fq2(prog.select(idx, [x[k][0] for x in sc]), prog.select(idx, [x[k][1] for x in sc]))
            for k in range(6)
        ]
    )
    pr.final_check(g, c, s12, prog)
    assert prog.failed
    assert not run_program(node, wallet, prog, [])
