"""The exit circuit's key and verifier: made once per circuit, and checked at node start."""

from __future__ import annotations

from pathlib import Path

import pytest

from bitcoinzk.prover.circuit import CIRCUITS_DIR
from bitcoinzk.settlement.evm.client import EmbeddedClient
from bitcoinzk.settlement.evm.contracts import compile_verifier
from bitcoinzk.settlement.evm.exit.circuit import (
    EXIT_CIRCUITS_DIR,
    ExitShape,
    compile_exit_verifier,
    ensure_exit_keys,
    exit_circuit_id,
)
from bitcoinzk.settlement.evm.rollup import DeploymentMismatch, deploy_with_verifier
from tests.settlement.evm.conftest import PARAMS, Batches


def test_the_exit_circuit_does_not_rename_the_batch_circuit() -> None:
    # the batch circuit's identity hashes every .circom under its directory
    assert CIRCUITS_DIR not in EXIT_CIRCUITS_DIR.parents
    assert exit_circuit_id(ExitShape(6)) != exit_circuit_id(ExitShape(24))
    with pytest.raises(ValueError):
        ExitShape(7)


def test_a_rollup_whose_exit_verifier_is_another_keys_is_refused(
    batches: Batches, tmp_path: Path
) -> None:
    """A node must not settle to a rollup whose exits verify under a key it did not make
    (whoever made that key can forge exits)."""
    verifier = compile_verifier(batches.vk)
    client = EmbeddedClient()
    own = deploy_with_verifier(client, verifier, PARAMS, batches.genesis.root)
    own.check_deployment(PARAMS, batches.genesis.root, batches.vk)
    other_keys = ensure_exit_keys(ExitShape(PARAMS.tree_depth), key_dir=tmp_path)
    other = deploy_with_verifier(
        client,
        verifier,
        PARAMS,
        batches.genesis.root,
        exit_verifier=compile_exit_verifier(other_keys.load_verifying_key()),
    )
    with pytest.raises(DeploymentMismatch, match="exit verifier"):
        other.check_deployment(PARAMS, batches.genesis.root, batches.vk)
