"""The BN254 extension tower over `program.Fq`: Fq2 = Fq[u]/(u^2 + 1),
Fq6 = Fq2[v]/(v^3 - xi) with xi = 9 + u, Fq12 = Fq6[w]/(w^2 - v).

Written once: on plain `Fq` values it is the Python reference (checked against
py_ecc), on recorded ones it is the program the Script verifier runs.  The
formulas are the usual Karatsuba / Chung-Hasan ones, chosen to minimise
multiplications, the one expensive operation in Script.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from .fq import P
from .program import Fq, Program

XI = (9, 1)


def _fq(x: Fq | int) -> Fq:
    return x if isinstance(x, Fq) else Fq(x % P)


@dataclass(frozen=True)
class Fq2:
    c0: Fq
    c1: Fq

    @classmethod
    def of(cls, a: int, b: int = 0, prog: Program | None = None) -> Fq2:
        if prog is None:
            return cls(Fq(a % P), Fq(b % P))
        return cls(prog.const(a), prog.const(b))

    @classmethod
    def witness(cls, prog: Program, value: tuple[int, int]) -> Fq2:
        return cls(prog.witness(value[0]), prog.witness(value[1]))

    @property
    def value(self) -> tuple[int, int]:
        return (self.c0.v, self.c1.v)

    def __add__(self, o: Fq2) -> Fq2:
        return Fq2(self.c0 + o.c0, self.c1 + o.c1)

    def __sub__(self, o: Fq2) -> Fq2:
        return Fq2(self.c0 - o.c0, self.c1 - o.c1)

    def __neg__(self) -> Fq2:
        return Fq2(-self.c0, -self.c1)

    def double(self) -> Fq2:
        return Fq2(self.c0.double(), self.c1.double())

    def __mul__(self, o: Fq2) -> Fq2:
        prog = self.c0.prog or self.c1.prog or o.c0.prog or o.c1.prog
        if prog is not None:
            # two sums of products, one quotient each (cheaper in Script than Karatsuba)
            c0 = prog.lc2(self.c0, o.c0, -self.c1, o.c1)
            return Fq2(c0, prog.lc2(self.c0, o.c1, self.c1, o.c0))
        t0, t1 = self.c0 * o.c0, self.c1 * o.c1
        return Fq2(t0 - t1, (self.c0 + self.c1) * (o.c0 + o.c1) - t0 - t1)

    def mul_const(self, k: tuple[int, int]) -> Fq2:
        """By a constant: 4 multiplications by constants (no additions of constants)."""
        k0, k1 = k[0] % P, k[1] % P
        if k1 == 0:
            return Fq2(self.c0 * k0, self.c1 * k0)
        if k0 == 0:
            return Fq2(-(self.c1 * k1), self.c0 * k1)
        return Fq2(self.c0 * k0 - self.c1 * k1, self.c0 * k1 + self.c1 * k0)

    def scale(self, s: Fq) -> Fq2:
        return Fq2(self.c0 * s, self.c1 * s)

    def square(self) -> Fq2:
        return Fq2((self.c0 + self.c1) * (self.c0 - self.c1), (self.c0 * self.c1).double())

    def conj(self) -> Fq2:
        return Fq2(self.c0, -self.c1)

    def mul_by_xi(self) -> Fq2:
        """(a + b u)(9 + u) = (9a - b) + (a + 9b) u, by additions only."""
        return Fq2(self.c0.mul_small(9) - self.c1, self.c0 + self.c1.mul_small(9))

    def inverse(self) -> Fq2:
        """By hint, checked with one Fq2 multiplication."""
        a, b = self.value
        n = pow((a * a + b * b) % P, -1, P)
        inv = (a * n % P, -b * n % P)
        prog = self.c0.prog or self.c1.prog
        if prog is None:
            return Fq2.of(*inv)
        h = Fq2.witness(prog, inv)
        prod = self * h
        prog.assert_eq(prod.c0, prog.const(1))
        prog.assert_eq(prod.c1, prog.const(0))
        return h

    def assert_eq(self, o: Fq2, prog: Program) -> None:
        prog.assert_eq(self.c0, o.c0)
        prog.assert_eq(self.c1, o.c1)


def fq2_pow(x: tuple[int, int], e: int) -> tuple[int, int]:
    """Plain Fq2 exponentiation (for constants)."""
    r = (1, 0)
    a0, a1 = x
    while e:
        if e & 1:
            r = ((r[0] * a0 - r[1] * a1) % P, (r[0] * a1 + r[1] * a0) % P)
        a0, a1 = (a0 * a0 - a1 * a1) % P, 2 * a0 * a1 % P
        e >>= 1
    return r


@dataclass(frozen=True)
class Fq6:
    c0: Fq2
    c1: Fq2
    c2: Fq2

    def __add__(self, o: Fq6) -> Fq6:
        return Fq6(self.c0 + o.c0, self.c1 + o.c1, self.c2 + o.c2)

    def __sub__(self, o: Fq6) -> Fq6:
        return Fq6(self.c0 - o.c0, self.c1 - o.c1, self.c2 - o.c2)

    def __neg__(self) -> Fq6:
        return Fq6(-self.c0, -self.c1, -self.c2)

    def double(self) -> Fq6:
        return Fq6(self.c0.double(), self.c1.double(), self.c2.double())

    def __mul__(self, o: Fq6) -> Fq6:
        a0, a1, a2 = self.c0, self.c1, self.c2
        b0, b1, b2 = o.c0, o.c1, o.c2
        t0, t1, t2 = a0 * b0, a1 * b1, a2 * b2
        c0 = t0 + ((a1 + a2) * (b1 + b2) - t1 - t2).mul_by_xi()
        c1 = (a0 + a1) * (b0 + b1) - t0 - t1 + t2.mul_by_xi()
        c2 = (a0 + a2) * (b0 + b2) - t0 - t2 + t1
        return Fq6(c0, c1, c2)

    def mul_01(self, b0: Fq2, b1: Fq2) -> Fq6:
        """By (b0, b1, 0): 5 Fq2 multiplications."""
        a0, a1, a2 = self.c0, self.c1, self.c2
        t0, t1 = a0 * b0, a1 * b1
        c0 = t0 + (a2 * b1).mul_by_xi()
        c1 = (a0 + a1) * (b0 + b1) - t0 - t1
        c2 = t1 + a2 * b0
        return Fq6(c0, c1, c2)

    def scale(self, s: Fq2) -> Fq6:
        return Fq6(self.c0 * s, self.c1 * s, self.c2 * s)

    def scale_fq(self, s: Fq) -> Fq6:
        return Fq6(self.c0.scale(s), self.c1.scale(s), self.c2.scale(s))

    def square(self) -> Fq6:
        """Chung-Hasan SQR2: 3 Fq2 squarings and 2 multiplications."""
        a0, a1, a2 = self.c0, self.c1, self.c2
        s0 = a0.square()
        s1 = (a0 * a1).double()
        s2 = (a0 - a1 + a2).square()
        s3 = (a1 * a2).double()
        s4 = a2.square()
        return Fq6(s0 + s3.mul_by_xi(), s1 + s4.mul_by_xi(), s1 + s2 + s3 - s0 - s4)

    def mul_by_v(self) -> Fq6:
        return Fq6(self.c2.mul_by_xi(), self.c0, self.c1)


@dataclass(frozen=True)
class Fq12:
    c0: Fq6
    c1: Fq6

    @classmethod
    def from_coeffs(cls, xs: Sequence[Fq2]) -> Fq12:
        """From the Fq2 coefficients of w^0 .. w^5."""
        return cls(Fq6(xs[0], xs[2], xs[4]), Fq6(xs[1], xs[3], xs[5]))

    @classmethod
    def constant(cls, coeffs: Sequence[tuple[int, int]], prog: Program | None = None) -> Fq12:
        return cls.from_coeffs([Fq2.of(a, b, prog) for a, b in coeffs])

    @classmethod
    def witness(cls, prog: Program, coeffs: Sequence[tuple[int, int]]) -> Fq12:
        return cls.from_coeffs([Fq2.witness(prog, c) for c in coeffs])

    @classmethod
    def one(cls, prog: Program | None = None) -> Fq12:
        return cls.constant([(1, 0)] + [(0, 0)] * 5, prog)

    def coeffs(self) -> list[Fq2]:
        a, b = self.c0, self.c1
        return [a.c0, b.c0, a.c1, b.c1, a.c2, b.c2]

    @property
    def value(self) -> list[tuple[int, int]]:
        return [x.value for x in self.coeffs()]

    def fqs(self) -> list[Fq]:
        return [f for x in self.coeffs() for f in (x.c0, x.c1)]

    def __mul__(self, o: Fq12) -> Fq12:
        t0, t1 = self.c0 * o.c0, self.c1 * o.c1
        return Fq12(t0 + t1.mul_by_v(), (self.c0 + self.c1) * (o.c0 + o.c1) - t0 - t1)

    def square(self) -> Fq12:
        """Complex squaring: 2 Fq6 multiplications."""
        a0, a1 = self.c0, self.c1
        t = a0 * a1
        c0 = (a0 + a1) * (a0 + a1.mul_by_v()) - t - t.mul_by_v()
        return Fq12(c0, t.double())

    def mul_line(self, l0: Fq, l1: Fq2, l3: Fq2) -> Fq12:
        """By the sparse line l0 + l1 w + l3 w^3 (l0 in Fq): 36 Fq multiplications."""
        a0, a1 = self.c0, self.c1
        t0 = a0.scale_fq(l0)
        t1 = a1.mul_01(l1, l3)
        l0_2 = Fq2(l0, l0 - l0) if l0.prog is None else Fq2(l0, l0.prog.const(0))
        c1 = (a0 + a1).mul_01(l0_2 + l1, l3) - t0 - t1
        return Fq12(t0 + t1.mul_by_v(), c1)

    def conj(self) -> Fq12:
        return Fq12(self.c0, -self.c1)

    def frobenius(self, n: int) -> Fq12:
        """x -> x^(p^n): conjugate each Fq2 coefficient n times, scale by constants."""
        out = []
        for k, x in enumerate(self.coeffs()):
            y = x.conj() if n % 2 else x
            out.append(y if k == 0 else y.mul_const(frobenius_constant(n, k)))
        return Fq12.from_coeffs(out)

    def assert_eq(self, o: Fq12, prog: Program) -> None:
        for a, b in zip(self.coeffs(), o.coeffs(), strict=True):
            a.assert_eq(b, prog)


@cache
def frobenius_constant(n: int, k: int) -> tuple[int, int]:
    """xi^(k (p^n - 1) / 6): what w^k picks up under x -> x^(p^n)."""
    return fq2_pow(XI, k * (P**n - 1) // 6)


# --- plain Fq12 for the prover's exponentiations (ints, no recording) ----------------------

Plain12 = tuple[tuple[int, int], ...]


def to_py_ecc(x: Sequence[tuple[int, int]]) -> list[int]:
    """Tower coefficients -> py_ecc's FQ12 coefficients (basis w^0..w^11, w^6 = 9 + u)."""
    out = [0] * 12
    for k, (a, b) in enumerate(x):
        out[k] = (out[k] + a - 9 * b) % P
        out[k + 6] = (out[k + 6] + b) % P
    return out


def from_py_ecc(c: Sequence[int]) -> list[tuple[int, int]]:
    """Inverse of `to_py_ecc`."""
    return [((int(c[k]) + 9 * int(c[k + 6])) % P, int(c[k + 6]) % P) for k in range(6)]
