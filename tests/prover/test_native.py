"""The native prover (Rust, `bitcoinzk.prover._arkprover`): its proofs verify with groth16py,
snarkjs and the exported Vyper verifier; it reads real snarkjs ceremony keys; snarkjs proves
with the keys its setup writes; it releases the GIL and shares one key across threads."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import groth16py
import pytest

from bitcoinzk.prover import native
from bitcoinzk.prover.keys import KeyFiles, ensure_keys
from bitcoinzk.prover.service import ProverService, verify_proof
from bitcoinzk.prover.tooling import has_tools, tool
from bitcoinzk.prover.witness import build_inputs
from bitcoinzk.settlement.evm.abi import Abi
from bitcoinzk.settlement.evm.client import EmbeddedClient
from bitcoinzk.settlement.evm.contracts import compile_verifier
from bitcoinzk.settlement.evm.rollup import proof_words
from bitcoinzk.spec.stf import BlockResult, apply_block
from bitcoinzk.spec.types import Transfer

from .conftest import ALICE, ALICE_I, CAROL, PARAMS, SHAPE, Keys, genesis_state

pytestmark = pytest.mark.skipif(not native.available(), reason="native prover or node missing")

TINY = """pragma circom 2.1.0;
template T() {
  signal input public_input;
  signal input x;
  signal input y;
  signal z;
  z <== x * y;
  signal w;
  w <== z * 3 + x;
  public_input === w * y + 7;
}
component main {public [public_input]} = T();
"""


@pytest.fixture(scope="module")
def native_keys(keys: Keys) -> KeyFiles:
    return ensure_keys(SHAPE, backend="native")


@pytest.fixture(scope="module")
def block() -> BlockResult:
    op = Transfer(ALICE_I, 3, CAROL.public_key(), 4_000, 5, 0).signed(ALICE, PARAMS.chain_id)
    return apply_block(genesis_state(), PARAMS, 3, [op])


@pytest.fixture(scope="module")
def prover(native_keys: KeyFiles) -> native.NativeProver:
    return native.NativeProver(native_keys.native_zkey, native_keys.wasm)


def _snarkjs(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tool("snarkjs")), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        cwd=cwd,
    )


def _proof_json(proof: bytes) -> str:
    w = [str(x) for x in proof_words(proof)]
    return json.dumps(
        {
            "pi_a": [w[0], w[1], "1"],
            "pi_b": [[w[3], w[2]], [w[5], w[4]], ["1", "0"]],
            "pi_c": [w[6], w[7], "1"],
            "protocol": "groth16",
            "curve": "bn128",
        }
    )


def _snarkjs_verifies(vk_json: str, proof: bytes, public: int, tmp: Path) -> bool:
    (tmp / "vk.json").write_text(vk_json)
    (tmp / "proof.json").write_text(_proof_json(proof))
    (tmp / "public.json").write_text(json.dumps([str(public)]))
    out = _snarkjs(
        "groth16", "verify", *(str(tmp / n) for n in ("vk.json", "public.json", "proof.json"))
    )
    return out.returncode == 0 and "OK" in out.stdout


def test_native_proof_verifies_with_groth16py_snarkjs_and_vyper(
    native_keys: KeyFiles, prover: native.NativeProver, block: BlockResult, tmp_path: Path
) -> None:
    proof = prover.prove(build_inputs(block.trace, PARAMS))
    assert len(proof) == 256
    pi = block.public_input
    vk = native_keys.load_verifying_key()
    assert verify_proof(vk, proof, pi)
    assert not verify_proof(vk, proof, pi + 1)  # attack: the same proof for another block
    forged = proof[:64] + proof[192:] + proof[64:192]  # attack: a and c points swapped around
    assert not verify_proof(vk, forged, pi)

    vk_json = prover.verification_key_json()
    assert _snarkjs_verifies(vk_json, proof, pi, tmp_path)
    assert not _snarkjs_verifies(vk_json, proof, pi + 1, tmp_path)

    client = EmbeddedClient()
    compiled = compile_verifier(vk, "native-test")
    address = client.deploy(compiled.bytecode).contract_address
    assert address is not None
    abi = Abi(compiled.abi)
    w = proof_words(proof)
    args = ([w[0], w[1]], [[w[2], w[3]], [w[4], w[5]]], [w[6], w[7]])

    def call(x: int) -> object:
        return abi.decode_result(
            "verifyProof", client.call(address, abi.encode_call("verifyProof", *args, [x]))
        )

    assert call(pi) is True
    assert call(pi + 1) is False


def test_native_prover_proves_with_a_groth16py_key(
    keys: Keys, block: BlockResult, tmp_path: Path
) -> None:
    """groth16py's own dev key (arkworks' QAP, not snarkjs's): same verifying key, no setup."""
    from bitcoinzk.prover.keys import key_files

    files = key_files(SHAPE, "dev", backend="groth16py")
    wasm = tmp_path / "circuit.wasm"
    native.extract_wasm(files.proving_key, wasm)
    prover = native.NativeProver(files.proving_key, wasm)
    proof = prover.prove(build_inputs(block.trace, PARAMS))
    vk = files.load_verifying_key()
    assert verify_proof(vk, proof, block.public_input)
    assert not verify_proof(vk, proof, block.public_input + 1)


def test_snarkjs_proves_with_the_native_dev_key(
    native_keys: KeyFiles, prover: native.NativeProver, block: BlockResult, tmp_path: Path
) -> None:
    """The dev setup writes a real snarkjs .zkey: snarkjs's proof verifies under our key."""
    wtns = tmp_path / "w.wtns"
    prover.witness(build_inputs(block.trace, PARAMS), wtns)
    out = _snarkjs(
        "groth16",
        "prove",
        str(native_keys.native_zkey),
        str(wtns),
        str(tmp_path / "proof.json"),
        str(tmp_path / "public.json"),
    )
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "public.json").read_text()) == [str(block.public_input)]
    verifier = groth16py.Verifier(native_keys.load_verifying_key())
    proof_json = (tmp_path / "proof.json").read_text()
    assert verifier.verify_snarkjs(proof_json, (tmp_path / "public.json").read_text())
    assert not verifier.verify_snarkjs(proof_json, json.dumps([str(block.public_input + 1)]))


@pytest.mark.skipif(not has_tools(), reason="circom2/snarkjs not installed")
def test_reads_a_real_snarkjs_ceremony_zkey(tmp_path: Path) -> None:
    """A genuine snarkjs phase-2 key (tiny local powers of tau): our proofs verify under
    the verifying key snarkjs exports, with snarkjs and with groth16py."""
    (tmp_path / "t.circom").write_text(TINY)
    subprocess.run(
        [str(tool("circom2")), "t.circom", "--r1cs", "--wasm", "--O2", "-o", "."],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    steps = [
        ("powersoftau", "new", "bn128", "6", "p0.ptau"),
        ("powersoftau", "contribute", "p0.ptau", "p1.ptau", "--name=a", "-e=entropy"),
        ("powersoftau", "prepare", "phase2", "p1.ptau", "p.ptau"),
        ("groth16", "setup", "t.r1cs", "p.ptau", "t0.zkey"),
        ("zkey", "contribute", "t0.zkey", "t.zkey", "--name=b", "-e=more"),
        ("zkey", "export", "verificationkey", "t.zkey", "vk.json"),
    ]
    for step in steps:
        out = _snarkjs(*step, cwd=tmp_path)
        assert out.returncode == 0, out.stdout + out.stderr
    vk_json = (tmp_path / "vk.json").read_text()
    prover = native.NativeProver(tmp_path / "t.zkey", tmp_path / "t_js" / "t.wasm")
    assert json.loads(prover.verification_key_json())["IC"] == json.loads(vk_json)["IC"]
    public = (3 * 7 * 3 + 3) * 7 + 7
    proof = prover.prove({"public_input": public, "x": 3, "y": 7})
    vk = groth16py.VerifyingKey.from_snarkjs(vk_json)
    assert verify_proof(vk, proof, public)
    assert not verify_proof(vk, proof, public + 1)
    assert _snarkjs_verifies(vk_json, proof, public, tmp_path)
    with pytest.raises(native.WitnessFailed):  # attack: inputs that break the constraint
        prover.prove({"public_input": public + 1, "x": 3, "y": 7})


def test_one_key_many_threads_and_the_gil_is_released(
    native_keys: KeyFiles, prover: native.NativeProver, block: BlockResult, tmp_path: Path
) -> None:
    wtns = tmp_path / "w.wtns"
    prover.witness(build_inputs(block.trace, PARAMS), wtns)
    proofs: list[bytes] = []
    ticks = 0
    done = threading.Event()

    def tick() -> None:
        nonlocal ticks
        while not done.is_set():
            time.sleep(0.01)
            ticks += 1

    ticker = threading.Thread(target=tick)
    ticker.start()
    workers = [
        threading.Thread(target=lambda: proofs.append(prover.prove_wtns(wtns))) for _ in range(2)
    ]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    done.set()
    ticker.join()
    assert ticks > 5  # Python ran while both proofs were in Rust
    vk = native_keys.load_verifying_key()
    assert len(proofs) == 2 and proofs[0] != proofs[1]  # fresh randomness per proof
    assert all(verify_proof(vk, p, block.public_input) for p in proofs)


def test_service_defaults_to_native_and_rejects_a_bad_witness(
    native_keys: KeyFiles, block: BlockResult
) -> None:
    from bitcoinzk.prover.service import ProofError

    inputs = build_inputs(block.trace, PARAMS)
    with ProverService(PARAMS, backend="native") as service:
        assert service.keys == native_keys
        proof = service.prove_inputs_sync(inputs)
        assert service.verify(proof.proof, block.public_input)
        bad = dict(inputs)
        bad["public_input"] = block.public_input ^ 1  # attack: claim another block's commitment
        with pytest.raises(ProofError):
            service.prove_inputs_sync(bad)


def test_prover_rejects_a_witness_of_the_wrong_size(
    prover: native.NativeProver, tmp_path: Path
) -> None:
    wtns = tmp_path / "short.wtns"
    body = (1).to_bytes(32, "little") * 3
    r = 21888242871839275222246405745257275088548364400416034343698204186575808495617
    header = (32).to_bytes(4, "little") + r.to_bytes(32, "little") + (3).to_bytes(4, "little")
    wtns.write_bytes(
        b"wtns"
        + (2).to_bytes(4, "little")
        + (2).to_bytes(4, "little")
        + (1).to_bytes(4, "little")
        + len(header).to_bytes(8, "little")
        + header
        + (2).to_bytes(4, "little")
        + len(body).to_bytes(8, "little")
        + body
    )
    with pytest.raises(ValueError, match="witness has 3 values"):
        prover.prove_wtns(wtns)


@pytest.mark.parametrize(("n", "seed"), [(0, 1), (1, 2), (3, 3), (10, 6), (64, 4), (2_000, 5)])
def test_fast_msm_equals_arkworks_msm(n: int, seed: int) -> None:
    # random points and scalars, with zeros, ones, small scalars, a scalar repeated
    # throughout (its bucket overflows the batch), a point added to itself and to its
    # negative, and points at infinity mixed in: the proofs' batch-affine MSM on
    # halo2curves' points against arkworks' MSM, G1 and G2
    if native.msm_backend() != "batch-affine":
        pytest.skip("this CPU runs arkworks' MSM only")
    ext = native._ext()
    assert ext.msm_self_test(n, seed) is True


@pytest.mark.parametrize(("log_n", "seed"), [(0, 1), (1, 2), (2, 3), (3, 4), (6, 5), (11, 6)])
def test_fast_fft_equals_arkworks_fft(log_n: int, seed: int) -> None:
    # the witness map's transforms (halo2curves' Fr, bit-reversed coefficients in
    # between) against arkworks' inverse, forward and coset FFTs, on random values with
    # zeros and ones mixed in
    if native.msm_backend() != "batch-affine":
        pytest.skip("this CPU runs arkworks' FFTs only")
    assert native._ext().fft_self_test(log_n, seed) is True


def test_arkworks_msm_fallback_proves(
    native_keys: KeyFiles,
    block: BlockResult,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the path an older CPU (no BMI2/ADX) takes: a key loaded without halo2curves' bases
    monkeypatch.setenv("BZK_PROVER_ARKWORKS_MSM", "1")
    assert native.msm_backend() == "arkworks"
    prover = native.NativeProver(native_keys.native_zkey, native_keys.wasm)
    proof = prover.prove(build_inputs(block.trace, PARAMS))
    vk = native_keys.load_verifying_key()
    assert verify_proof(vk, proof, block.public_input)
    assert not verify_proof(vk, proof, block.public_input + 1)
