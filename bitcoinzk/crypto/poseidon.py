"""
Poseidon hash over the BN254 scalar field, identical to circomlib's ``Poseidon(n)``.

The rollup commits to state (tree nodes, leaves) and to signed messages with
Poseidon because it is cheap inside the circuit. Every value computed here must
equal what circomlib's ``Poseidon(n)`` template computes, bit for bit, or a
block the STF accepts would not prove.

Back ends:

- the C extension ``bitcoinzk.crypto._native`` (built by ``pip install -e .``),
  used for every arity when it imported: the same optimised algorithm as
  :func:`poseidon_gmpy` in 4x64-bit Montgomery arithmetic, ~6-10x faster than
  gmpy2 (see ``benchmarks/crypto_eddsa.py``). It holds no constants of its own: on
  first use of an arity this module hands it the constants it parsed (see below).
  ``BITCOINZK_PURE_PYTHON=1`` in the environment disables it (read once, at
  import); if it is not built, a ``RuntimeWarning`` says so and the pure-Python
  back end is used.
- otherwise every ``n`` (1..16, including the ``Poseidon(8)`` of every Merkle
  node) runs :func:`poseidon_gmpy`, a gmpy2 implementation of circomlib's
  *optimised* Poseidon (the ``C``/``S``/``M``/``P`` form of ``PoseidonEx`` in
  ``poseidon.circom``) that is also the reference the native code is tested against.

:func:`merkle_path` hashes a whole path of the 8-ary account tree (leaf to root)
in one call. With the extension that saves only the Python round trip per level:
the hashing itself dominates.

The constants are read, on first use of an arity, from circomlib's own
``poseidon_constants.circom`` as vendored in the pinned ``groth16py`` wheel --
the very file the prover compiles -- so hash and circuit cannot drift apart. The
test-suite cross-checks both back ends against each other, against
``light_poseidon_python`` (an independent Rust implementation, a test dependency
only) for ``n == 2``, and against published circomlib/circomlibjs/go-iden3-crypto
vectors.
"""

from __future__ import annotations

import functools
import operator
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import gmpy2
from gmpy2 import mpz

from . import _native_api

FIELD_MODULUS: int = 0x30644E72E131A029B85045B68181585D2833E84879B9709143E1F593F0000001
"""``r``, the BN254 scalar field order: the native field of circom circuits."""

MAX_INPUTS = 16
"""circomlib ships Poseidon constants for ``t = 2..17``, i.e. 1..16 inputs."""

N_ROUNDS_F = 8
N_ROUNDS_P = (56, 57, 56, 60, 60, 63, 64, 63, 60, 66, 60, 65, 70, 60, 64, 68)
"""Partial rounds per ``t = 2..17``, as in ``PoseidonEx`` of ``poseidon.circom``."""

_R = mpz(FIELD_MODULUS)


class PoseidonError(ValueError):
    """Base class for Poseidon input errors."""


class InvalidArityError(PoseidonError):
    """Raised when the number of inputs is outside ``1..MAX_INPUTS``."""


class NotAFieldElementError(PoseidonError):
    """
    Raised when an input is not an integer in ``[0, r)``.

    circomlibjs silently reduces inputs mod ``r``; we refuse instead, because a
    caller passing ``x >= r`` almost certainly has an encoding bug and two
    different Python values would otherwise hash equal.
    """


@dataclass(frozen=True)
class _Constants:
    """circomlib's optimised Poseidon constants for one state width ``t``."""

    t: int
    n_rounds_p: int
    c: tuple[mpz, ...]
    s: tuple[mpz, ...]
    m: tuple[tuple[mpz, ...], ...]
    p: tuple[tuple[mpz, ...], ...]


def _constants_file() -> Path:
    """Locate circomlib's ``poseidon_constants.circom`` inside groth16py."""
    import groth16py

    return Path(groth16py.circomlib_path(2)) / "poseidon_constants.circom"


_HEX = re.compile(r"0x[0-9a-fA-F]+")
_CASE = re.compile(r"if\s*\(\s*t\s*==\s*(\d+)\s*\)")


@functools.cache
def _circom_functions() -> dict[str, str]:
    """Split the constants file into its four ``POSEIDON_X(t)`` function bodies."""
    text = _constants_file().read_text()
    parts = re.split(r"function\s+(POSEIDON_[CSMP])\s*\(t\)", text)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def _numbers_for(body: str, t: int) -> list[mpz]:
    pieces = _CASE.split(body)
    for i in range(1, len(pieces), 2):
        if int(pieces[i]) == t:
            return [mpz(int(h, 16)) for h in _HEX.findall(pieces[i + 1])]
    raise LookupError(f"no Poseidon constants for t={t}")  # pragma: no cover


def _matrix(flat: list[mpz], t: int) -> tuple[tuple[mpz, ...], ...]:
    if len(flat) != t * t:  # pragma: no cover - guards a malformed constants file
        raise LookupError(f"bad Poseidon matrix size for t={t}")
    return tuple(tuple(flat[i * t : (i + 1) * t]) for i in range(t))


@functools.cache
def _constants(t: int) -> _Constants:
    funcs = _circom_functions()
    n_rounds_p = N_ROUNDS_P[t - 2]
    c = _numbers_for(funcs["POSEIDON_C"], t)
    s = _numbers_for(funcs["POSEIDON_S"], t)
    if len(c) != t * N_ROUNDS_F + n_rounds_p or len(s) != n_rounds_p * (2 * t - 1):
        raise LookupError(f"bad Poseidon constants for t={t}")  # pragma: no cover
    return _Constants(
        t=t,
        n_rounds_p=n_rounds_p,
        c=tuple(c),
        s=tuple(s),
        m=_matrix(_numbers_for(funcs["POSEIDON_M"], t), t),
        p=_matrix(_numbers_for(funcs["POSEIDON_P"], t), t),
    )


def _mix(state: list[mpz], m: tuple[tuple[mpz, ...], ...]) -> list[mpz]:
    """``out[i] = sum_j M[j][i] * in[j]`` (circomlib's ``Mix``)."""
    t = len(state)
    return [sum((m[j][i] * state[j] for j in range(t)), mpz(0)) % _R for i in range(t)]


def _pow5(x: mpz) -> mpz:
    x2 = x * x % _R
    return x2 * x2 % _R * x % _R


def poseidon_gmpy(inputs: Sequence[int]) -> int:
    """
    circomlib's optimised ``PoseidonEx(n, 1)`` with ``initialState = 0``, in gmpy2.

    Mirrors ``poseidon.circom`` template for template (Ark, Sigma, Mix with
    ``M``/``P``, MixS, MixLast) so a reader can check it against the circuit.
    Inputs must already be validated field elements.
    """
    t = len(inputs) + 1
    k = _constants(t)
    c, half = k.c, N_ROUNDS_F // 2
    state = [mpz(0), *(mpz(x) for x in inputs)]
    state = [(x + c[i]) % _R for i, x in enumerate(state)]
    for r in range(half - 1):
        state = [(_pow5(x) + c[(r + 1) * t + i]) % _R for i, x in enumerate(state)]
        state = _mix(state, k.m)
    state = [(_pow5(x) + c[half * t + i]) % _R for i, x in enumerate(state)]
    state = _mix(state, k.p)
    s = k.s
    base_c = (half + 1) * t
    for r in range(k.n_rounds_p):
        state[0] = (_pow5(state[0]) + c[base_c + r]) % _R
        off = (2 * t - 1) * r
        s0 = sum((s[off + j] * state[j] for j in range(t)), mpz(0)) % _R
        x0 = state[0]
        for j in range(1, t):
            state[j] = (state[j] + x0 * s[off + t + j - 1]) % _R
        state[0] = s0
    base_c2 = (half + 1) * t + k.n_rounds_p
    for r in range(half - 1):
        state = [(_pow5(x) + c[base_c2 + r * t + i]) % _R for i, x in enumerate(state)]
        state = _mix(state, k.m)
    state = [_pow5(x) for x in state]
    m = k.m
    return int(sum((m[j][0] * state[j] for j in range(t)), mpz(0)) % _R)


def _check_inputs(inputs: Sequence[int]) -> None:
    n = len(inputs)
    if not 1 <= n <= MAX_INPUTS:
        raise InvalidArityError(f"Poseidon takes 1..{MAX_INPUTS} inputs, got {n}")
    for i, x in enumerate(inputs):
        if isinstance(x, bool) or not isinstance(x, int | type(_R)):
            raise NotAFieldElementError(f"input {i} is {type(x).__name__}, not int")
        if not 0 <= x < FIELD_MODULUS:
            raise NotAFieldElementError(f"input {i} is not a field element (0 <= x < r)")


NATIVE_ABI_VERSION = 3
"""The ``ABI_VERSION`` of ``_native.c`` this Python code was written against."""


def _load_native() -> _native_api.NativeModule | None:
    """The C extension, or ``None`` (disabled by env, not built, or stale)."""
    if os.environ.get("BITCOINZK_PURE_PYTHON", "") not in ("", "0"):
        return None
    try:
        from . import _native  # type: ignore[attr-defined, unused-ignore]
    except ImportError:
        warnings.warn(
            "bitcoinzk.crypto._native is not built; using the (much slower) pure-Python "
            "crypto. Run `pip install -e .` to build it.",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    if getattr(_native, "ABI_VERSION", None) != NATIVE_ABI_VERSION or (
        _native.FIELD_MODULUS != FIELD_MODULUS
    ):
        warnings.warn(
            "bitcoinzk.crypto._native is stale (rebuild with `pip install -e .`); "
            "using the pure-Python crypto.",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    module: _native_api.NativeModule = _native
    return module


NATIVE: _native_api.NativeModule | None = _load_native()
"""The C back end when in use (``None`` means pure Python). Shared with babyjub/eddsa."""


def native_install(t: int) -> None:
    """Hand the constants for width ``t`` to the C back end (idempotent, cheap after once)."""
    if NATIVE is None:  # pragma: no cover - callers check
        raise RuntimeError("native back end not loaded")
    k = _constants(t)
    NATIVE.poseidon_init(
        t,
        k.n_rounds_p,
        [int(x) for x in k.c],
        [int(x) for x in k.s],
        [int(x) for row in k.m for x in row],
        [int(x) for row in k.p for x in row],
    )


def poseidon(inputs: Sequence[int]) -> int:
    """
    Return circomlib ``Poseidon(len(inputs))`` of ``inputs`` as an ``int`` in ``[0, r)``.

    Raises :class:`InvalidArityError` for fewer than 1 or more than 16 inputs and
    :class:`NotAFieldElementError` for anything that is not an ``int`` in ``[0, r)``.
    """
    native = NATIVE
    if native is not None:
        try:
            # Fast path: a list/tuple of plain ints in [0, r) with constants installed.
            return native.poseidon(inputs)  # type: ignore[arg-type]
        except LookupError:  # first use of this arity in this process
            if 1 <= len(inputs) <= MAX_INPUTS:
                native_install(len(inputs) + 1)
        except (TypeError, ValueError):  # not a list/tuple of ints in range: check below
            pass
        _check_inputs(inputs)  # raises the precise error for invalid input
        return native.poseidon([int(x) for x in inputs])
    _check_inputs(inputs)
    return poseidon_gmpy(inputs)


MERKLE_ARITY = 8
"""Children per node of the trees :func:`merkle_path` hashes (a node is ``Poseidon(8)``)."""

MERKLE_SIBLINGS_PER_LEVEL = MERKLE_ARITY - 1
"""Siblings per level: the parent's other 7 children."""

MAX_MERKLE_LEVELS = 8
"""The most levels :func:`merkle_path` takes (the native code's fixed-size buffers)."""

MAX_MERKLE_SIBLINGS = MAX_MERKLE_LEVELS * MERKLE_SIBLINGS_PER_LEVEL
"""The most siblings :func:`merkle_path` takes: 56."""


def _check_merkle_inputs(index: int, leaf: int, siblings: Sequence[int]) -> None:
    operator.index(index)  # TypeError for a non-integer index
    if len(siblings) > MAX_MERKLE_SIBLINGS or len(siblings) % MERKLE_SIBLINGS_PER_LEVEL:
        raise PoseidonError(
            f"a Merkle path has {MERKLE_SIBLINGS_PER_LEVEL} siblings per level and at most "
            f"{MAX_MERKLE_LEVELS} levels ({MAX_MERKLE_SIBLINGS}), got {len(siblings)}"
        )
    for what, x in (("leaf", leaf), *((f"sibling {i}", s) for i, s in enumerate(siblings))):
        if isinstance(x, bool) or not isinstance(x, int | type(_R)):
            raise NotAFieldElementError(f"{what} is {type(x).__name__}, not int")
        if not 0 <= x < FIELD_MODULUS:
            raise NotAFieldElementError(f"{what} is not a field element (0 <= x < r)")


def merkle_path_python(index: int, leaf: int, siblings: Sequence[int]) -> list[int]:
    """
    The reference for :func:`merkle_path`: one ``Poseidon(8)`` call per level.

    Takes exactly what :func:`merkle_path` takes and raises the same errors.
    """
    _check_merkle_inputs(index, leaf, siblings)
    index = operator.index(index)
    per = MERKLE_SIBLINGS_PER_LEVEL
    node = int(leaf)
    path = [node]
    for level in range(len(siblings) // per):
        pos = (index >> (3 * level)) & (MERKLE_ARITY - 1)
        others = [int(s) for s in siblings[per * level : per * level + per]]
        node = poseidon([*others[:pos], node, *others[pos:]])
        path.append(node)
    return path


def merkle_path(index: int, leaf: int, siblings: Sequence[int]) -> list[int]:
    """
    Hash a leaf up an 8-ary Poseidon Merkle tree; return every node on the way.

    ``siblings`` is flat: level ``k`` (0 = leaves) occupies ``siblings[7k : 7k + 7]``,
    the parent's other 7 children in child order. The node at level ``k`` is child
    ``p_k = (index >> 3k) & 7`` of its parent, so ``path[0]`` is ``leaf`` and
    ``path[k + 1]`` is ``Poseidon(8)`` of ``siblings[7k : 7k + 7]`` with ``path[k]``
    inserted at position ``p_k``; ``path[-1]`` is the root (``len(siblings) // 7 + 1``
    entries). ``index`` is any integer (only bits ``0..3L-1`` are read); ``leaf`` and
    ``siblings`` must be field elements, as for :func:`poseidon`
    (:class:`NotAFieldElementError`), and ``len(siblings)`` must be a multiple of 7
    and at most :data:`MAX_MERKLE_SIBLINGS` (:class:`PoseidonError`).

    With the C extension the whole path is one native call (the 8 Poseidon(8) of
    a depth-24 write without 8 round trips through Python).
    """
    native = NATIVE
    if native is None:
        return merkle_path_python(index, leaf, siblings)
    try:
        return native.merkle_path(index, leaf, siblings)  # type: ignore[arg-type]
    except LookupError:  # first Poseidon(8) in this process
        native_install(MERKLE_ARITY + 1)
    except (TypeError, ValueError):  # not plain ints / a list or tuple: check below
        pass
    _check_merkle_inputs(index, leaf, siblings)  # raises the precise error for invalid input
    return native.merkle_path(operator.index(index), int(leaf), [int(s) for s in siblings])


__all__ = [
    "FIELD_MODULUS",
    "MAX_INPUTS",
    "MAX_MERKLE_LEVELS",
    "MAX_MERKLE_SIBLINGS",
    "MERKLE_ARITY",
    "NATIVE",
    "InvalidArityError",
    "NotAFieldElementError",
    "PoseidonError",
    "merkle_path",
    "merkle_path_python",
    "poseidon",
    "poseidon_gmpy",
]

_ = gmpy2  # gmpy2 is the arithmetic back end; keep the import explicit for readers
