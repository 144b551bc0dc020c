"""The committed Groth16 verifier is exactly what groth16py generates from the committed key."""

from __future__ import annotations

import groth16py
import pytest

from bitcoinzk.prover.circuit import circuit_id
from bitcoinzk.settlement.evm.contracts import (
    VERIFIER_PATH,
    VERIFIER_VK_PATH,
    StaleVerifier,
    check_verifier,
    verifier_header,
    verifier_source,
)

from .conftest import SHAPE, Batches


def test_committed_verifier_matches_its_key_and_the_current_circuit() -> None:
    source = VERIFIER_PATH.read_text()
    vk = groth16py.VerifyingKey.from_snarkjs(VERIFIER_VK_PATH.read_text())
    check_verifier(source, vk)  # byte-for-byte what this key generates today
    header = verifier_header(source)
    assert header is not None
    assert header[1] == circuit_id(SHAPE), (
        "the batch circuit changed since the verifier was generated: "
        "regenerate keys and run bitcoinzk.settlement.evm.contracts.write_verifier"
    )


def test_a_verifier_for_other_keys_is_refused(batches: Batches) -> None:
    committed = groth16py.VerifyingKey.from_snarkjs(VERIFIER_VK_PATH.read_text())
    source = verifier_source(batches.vk, circuit_id(SHAPE))
    check_verifier(source, batches.vk)
    if source != VERIFIER_PATH.read_text():
        with pytest.raises(StaleVerifier):
            check_verifier(source, committed)
    with pytest.raises(StaleVerifier):
        check_verifier(source.replace("SNARK_SCALAR_FIELD", "SNARK_FIELD"), batches.vk)
