"""The prover service (worker process, key kept in memory) and the key cache."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path

import pytest

from bitcoinzk.bench.snarkjs_timing import write_timing_zkey
from bitcoinzk.prover import native
from bitcoinzk.prover.circuit import CircuitShape, circuit_id
from bitcoinzk.prover.keys import dev_setup, find_keys, import_zkey, key_files
from bitcoinzk.prover.service import ProofError, ProverService, key_load_cost
from bitcoinzk.prover.tooling import compile_circuit, has_tools, node_build_dir
from bitcoinzk.prover.witness import build_inputs
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.stf import apply_block

from .conftest import ALICE, ALICE_I, BOB_I, CAROL, PARAMS, SHAPE, Keys, genesis_state


def test_circuit_id_names_sources_and_shape() -> None:
    assert circuit_id(SHAPE) == circuit_id(CircuitShape(2, 1, 6))
    assert circuit_id(SHAPE) != circuit_id(CircuitShape(2, 1, 9))
    assert circuit_id(SHAPE) != circuit_id(CircuitShape(3, 1, 6))


def test_key_cache_reuses_setup(keys: Keys) -> None:
    files = dev_setup(SHAPE)  # already made by the `keys` fixture: no second setup
    assert files.exists() and files.meta()["circuit_id"] == circuit_id(SHAPE)
    assert find_keys(SHAPE, backend="groth16py") in (files, key_files(SHAPE, "ceremony"))


def test_missing_key_without_dev_setup(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        ProverService(PARAMS, key_dir=tmp_path, allow_dev_setup=False)


def test_service_proves_off_the_event_loop(keys: Keys) -> None:
    from bitcoinzk.spec.types import Transfer

    state = genesis_state()
    op = Transfer(ALICE_I, 3, CAROL.public_key(), 4_000, 5, 0).signed(ALICE, PARAMS.chain_id)
    result = apply_block(state, PARAMS, 3, [op])

    async def main(service: ProverService) -> tuple[object, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.05)
                ticks += 1

        task = asyncio.create_task(ticker())
        proof = await service.prove(result.trace)
        task.cancel()
        return proof, ticks

    with ProverService(PARAMS) as service:
        proof, ticks = asyncio.run(main(service))
        assert ticks > 10  # the loop kept running while the worker proved
        assert service.verify(proof.proof, result.public_input)  # type: ignore[attr-defined]
        bad = copy.deepcopy(build_inputs(result.trace, PARAMS))
        bad["chunk_b"] = [BOB_I, 0]  # published recipient is not the account credited
        with pytest.raises(ProofError):
            service.prove_inputs_sync(bad)


def test_parallel_proofs_share_one_key(keys: Keys) -> None:
    from bitcoinzk.spec.types import Transfer

    state = genesis_state()
    first = apply_block(
        state,
        PARAMS,
        3,
        [Transfer(ALICE_I, 3, CAROL.public_key(), 4_000, 5, 0).signed(ALICE, 1337)],
    )
    second = apply_block(
        first.state,
        PARAMS,
        4,
        [Transfer(ALICE_I, 3, CAROL.public_key(), 1_000, 5, 1).signed(ALICE, 1337)],
    )
    bad = copy.deepcopy(build_inputs(second.trace, PARAMS))
    bad["chunk_b"] = [BOB_I, 0]
    many = [build_inputs(first.trace, PARAMS), bad, build_inputs(second.trace, PARAMS)]
    with ProverService(PARAMS, parallel=2) as service:
        out = asyncio.run(service.prove_many(many))
    assert [type(x).__name__ for x in out] == ["BatchProof", "ProofError", "BatchProof"]
    for result, proof in ((first, out[0]), (second, out[2])):
        assert not isinstance(proof, ProofError)
        assert proof.public_input == result.public_input
        assert service.verify(proof.proof, result.public_input)
    with pytest.raises(ValueError):
        ProverService(PARAMS, parallel=0)


def test_other_chain_params_are_another_circuit() -> None:
    wide = ChainParams(1337, 6, 2, 2, 0)
    assert circuit_id(CircuitShape.of(wide)) != circuit_id(SHAPE)


@pytest.mark.skipif(not has_tools(), reason="circom2/snarkjs not installed")
def test_import_zkey_installs_a_ceremony_key(keys: Keys, tmp_path: Path) -> None:
    """`bzk keys import` mechanics, with a stand-in .zkey of this circuit's exact shape.

    (A real ceremony .zkey of this circuit needs a 2^18 ptau, which cannot be
    prepared here; the import path parses and stores it the same way.)
    """
    compiled = compile_circuit(SHAPE, node_build_dir(SHAPE))
    zkey = tmp_path / "final.zkey"
    write_timing_zkey(compiled.r1cs, zkey)
    files = import_zkey(zkey, SHAPE, tmp_path / "keys")
    assert files.source == "ceremony" and files.exists()
    assert find_keys(SHAPE, tmp_path / "keys", "groth16py") == files
    if native.built():  # the native prover reads the .zkey itself, with the circuit's .wasm
        ceremony = find_keys(SHAPE, tmp_path / "keys", "native")
        assert ceremony is not None and ceremony.source == "ceremony"
        assert ceremony.native_zkey.read_bytes() == zkey.read_bytes()
        assert ceremony.wasm.read_bytes()[:4] == b"\0asm"
    assert files.load_verifying_key().n_public == 1
    assert files.meta()["zkey"] == str(zkey.resolve())


def test_key_load_says_its_cost_first_then_draws_its_progress(
    keys: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    """The line with the expected time and memory comes before the bar, and the bar
    ends full once every worker holds the key (the production key: 1.8 GB, ~18 s)."""
    service = ProverService(PARAMS)
    try:
        service.start(progress=True)
    finally:
        service.close()
    err = capsys.readouterr().err
    first = err.splitlines()[0]
    assert first.startswith(f"key load {SHAPE.label} (1 worker(s)): ")
    assert "expected ~" in first and "GB of memory" in first
    assert "key load" in err.splitlines()[-1] and "100%" in err
    # the production key, as measured (docs/prover.md): 1.80 GB in 17.5 s, ~2.5 GB held
    assert key_load_cost(1_800_851_348) == "1.80 GB, expected ~18 s and ~2.5 GB of memory"
