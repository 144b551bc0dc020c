"""MiMC7 in Python equals circomlib's: the round constants are read from mimc.circom."""

from __future__ import annotations

import re

from bitcoinzk.crypto.mimc import FIELD_MODULUS, constants, mimc7, multi_mimc7
from bitcoinzk.prover.circuit import circomlib_dir


def test_constants_are_circomlibs() -> None:
    source = (circomlib_dir() / "mimc.circom").read_text()
    table = source[source.index("var c[91] = [") + len("var c[91] = [") : source.index("];")]
    assert [int(n) for n in re.findall(r"\d+", table)] == list(constants())


def test_multi_mimc_chains_mimc7() -> None:
    r = 0
    for x in (1, 2, FIELD_MODULUS - 1):
        r = (r + x + mimc7(x, r)) % FIELD_MODULUS
    assert multi_mimc7([1, 2, FIELD_MODULUS - 1]) == r
    assert multi_mimc7([1, 2]) != multi_mimc7([2, 1])
