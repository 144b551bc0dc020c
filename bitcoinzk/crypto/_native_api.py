"""The interface of the C extension ``bitcoinzk.crypto._native`` (``_native.c``), for typing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class NativeModule(Protocol):
    """What ``_native.c`` exports. All ints are plain Python ints."""

    ABI_VERSION: int
    FIELD_MODULUS: int
    ASM: int

    def poseidon_init(
        self,
        t: int,
        n_rounds_p: int,
        c: Sequence[int],
        s: Sequence[int],
        m: Sequence[int],
        p: Sequence[int],
        /,
    ) -> bool:
        """Install circomlib's constants for width ``t`` (``M``, ``P`` flattened row-major)."""

    def poseidon(self, inputs: list[int] | tuple[int, ...], /) -> int:
        """Poseidon of 1..16 ints in ``[0, r)``; ``LookupError`` if the arity is not installed."""

    def merkle_path(
        self, index: int, leaf: int, siblings: list[int] | tuple[int, ...], /
    ) -> list[int]:
        """Nodes from ``leaf`` (level 0) to the root of an 8-ary path (7 siblings a level, <=56)."""

    def curve_init(self, a: int, d: int, b8x: int, b8y: int, l: int, /) -> bool:  # noqa: E741
        """Install BabyJubJub's ``a``, ``d``, ``B8`` and subgroup order ``l``."""

    def scalar_mul(self, x: int, y: int, k: int, /) -> tuple[int, int]:
        """``k * (x, y)`` with exactly babyjub.ext_mul's operation sequence, ``0 <= k < 2^256``."""

    def base8_mul(self, k: int, /) -> tuple[int, int]:
        """``k * B8``, ``0 <= k < 2^256``."""

    def is_on_curve(self, x: int, y: int, /) -> bool:
        """babyjub.is_on_curve for ints."""

    def sqrt(self, n: int, /) -> int | None:
        """babyjub._sqrt's root of ``n`` in ``[0, r)``, or ``None`` for a non-residue."""

    def selftest(self, n: int, seed: int, /) -> bool:
        """The field multiplication in use agrees with the portable C one on ``n`` pairs."""

    def eddsa_verify(self, ax: int, ay: int, msg: int, r8x: int, r8y: int, s: int, /) -> bool:
        """eddsa.verify on plain ints (any value; out-of-range verifies False)."""
