"""The in-process witness calculator (the circuit's `.wasm` on wasmtime): the very `.wtns`
snarkjs computes, a proof from it that verifies, a broken constraint refused with the
node path's error, inputs that are not the circuit's refused clearly, the compiled module
cached and recompiled when it cannot be used, and the GIL free while it runs."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import wasmtime

from bitcoinzk.prover import native, service, wasm_witness
from bitcoinzk.prover.keys import KeyFiles, ensure_keys
from bitcoinzk.prover.service import WorkerSpec, verify_proof, worker_init, worker_prove
from bitcoinzk.prover.tooling import WitnessFailed, snarkjs_witness_file
from bitcoinzk.prover.witness import build_inputs
from bitcoinzk.spec.stf import BlockResult, apply_block
from bitcoinzk.spec.types import Deposit, Transfer

from .conftest import ALICE, ALICE_I, CAROL, DAVE, PARAMS, SHAPE, Keys, genesis_state

pytestmark = pytest.mark.skipif(not native.built(), reason="native prover not built")


@pytest.fixture(scope="module")
def native_keys(keys: Keys) -> KeyFiles:
    return ensure_keys(SHAPE, backend="native")


@pytest.fixture(scope="module")
def calc(native_keys: KeyFiles) -> wasm_witness.WasmWitness:
    return wasm_witness.WasmWitness(native_keys.wasm)


def _blocks() -> list[BlockResult]:
    state = genesis_state()
    transfer = Transfer(ALICE_I, 3, CAROL.public_key(), 4_000, 5, 0)
    deposit = Deposit(3, DAVE.public_key(), 70_000, b"\x11" * 32, 1)
    return [
        apply_block(state, PARAMS, 3, [transfer.signed(ALICE, PARAMS.chain_id)]),
        apply_block(state, PARAMS, 3, [deposit]),
        apply_block(state, PARAMS, 3, []),
    ]


def test_fnv1a_64_matches_the_reference_vectors() -> None:
    # FNV-1a 64 of "" and "a" (the published test vectors), split as the ABI takes them
    assert wasm_witness.signal_hash("") == (0xCBF29CE4, 0x84222325)
    assert wasm_witness.signal_hash("a") == (0xAF63DC4C, 0x8601EC8C)


@pytest.mark.skipif(not native.node_available(), reason="node/snarkjs not installed")
def test_the_witness_is_snarkjs_own_byte_for_byte_and_proves(
    native_keys: KeyFiles, calc: wasm_witness.WasmWitness, tmp_path: Path
) -> None:
    """Real blocks (a transfer, a deposit, an empty block): the same `.wtns` as `snarkjs
    wtns calculate` on the same `.wasm`, and a proof from it verifies under the key's
    verifying key (groth16py) for that block's public input and no other."""
    prover = native.NativeProver(native_keys.native_zkey, native_keys.wasm, "wasmtime")
    vk = native_keys.load_verifying_key()
    for n, block in enumerate(_blocks()):
        inputs = build_inputs(block.trace, PARAMS)
        ours = calc.wtns(inputs)
        node = tmp_path / f"node{n}.wtns"
        snarkjs_witness_file(native_keys.wasm, inputs, node)
        assert ours == node.read_bytes()
        witness = calc.witness(inputs)
        assert len(witness) == calc.witness_size and witness[0] == 1
        assert witness[1] == block.public_input  # the one public signal
        proof = prover.prove_wtns_bytes(ours)
        assert verify_proof(vk, proof, block.public_input)
        assert not verify_proof(vk, proof, block.public_input + 1)
    # the fallback through the prover: node's bytes, the same; both count their CPU
    inputs = build_inputs(_blocks()[0].trace, PARAMS)
    by_node = native.NativeProver(native_keys.native_zkey, native_keys.wasm, "node")
    node_wtns, node_cpu = by_node.witness_with_cpu(inputs)
    ours_wtns, ours_cpu = prover.witness_with_cpu(inputs)
    assert node_wtns == ours_wtns and node_cpu > 0 and ours_cpu > 0
    timings = native.Timings()
    proof = prover.prove(inputs, timings)
    assert verify_proof(vk, proof, _blocks()[0].public_input)
    assert timings.witness_cpu_s > 0 and timings.prove_s > 0


def test_a_broken_constraint_raises_witness_failed_with_the_circuit_message(
    native_keys: KeyFiles, calc: wasm_witness.WasmWitness, monkeypatch: pytest.MonkeyPatch
) -> None:
    block = _blocks()[0]
    inputs = build_inputs(block.trace, PARAMS)
    bad = dict(inputs)
    bad["public_input"] = block.public_input ^ 1  # attack: claim another block's commitment
    with pytest.raises(WitnessFailed, match=r"Assert Failed\. Error in template"):
        calc.wtns(bad)
    # the prover raises the very error the node path raises; the service turns it into a
    # refused block, not a crash
    prover = native.NativeProver(native_keys.native_zkey, native_keys.wasm, "wasmtime")
    with pytest.raises(WitnessFailed):
        prover.prove(bad)
    spec = WorkerSpec(
        str(native_keys.proving_key),
        str(native_keys.verifying_key),
        None,
        1,
        str(native_keys.native_zkey),
        str(native_keys.wasm),
    )
    for name in ("_WORKER_PK", "_WORKER_VK", "_WORKER_WASM", "_WORKER_THREADS", "_WORKER_NATIVE"):
        monkeypatch.setattr(service, name, getattr(service, name))  # restored afterwards
    worker_init(spec)  # what a prover process (or Ray actor) runs, here in this one
    assert service._WORKER_THREADS is not None
    service._WORKER_THREADS.shutdown()
    proof, why, _ = worker_prove(bad)
    assert proof is None and why.startswith("witness generation failed: Assert Failed")
    # the calculator is not left broken: the honest inputs still give the witness
    assert calc.witness(inputs)[1] == block.public_input


def test_inputs_that_are_not_the_circuits_are_refused_clearly(
    calc: wasm_witness.WasmWitness,
) -> None:
    inputs = build_inputs(_blocks()[0].trace, PARAMS)
    misspelt = dict(inputs)
    misspelt["public_inputs"] = misspelt.pop("public_input")
    with pytest.raises(wasm_witness.InputSignalError, match="'public_inputs' is not an input"):
        calc.wtns(misspelt)
    missing = dict(inputs)
    del missing["public_input"]
    with pytest.raises(wasm_witness.InputSignalError, match="some input signals are missing"):
        calc.wtns(missing)
    name, value = next((k, v) for k, v in inputs.items() if isinstance(v, list))
    assert isinstance(value, list)
    short = {**inputs, name: value[:-1]}
    with pytest.raises(wasm_witness.InputSignalError, match=f"input '{name}' has"):
        calc.wtns(short)
    with pytest.raises(TypeError):
        calc.wtns({**inputs, "public_input": "1"})
    assert issubclass(wasm_witness.InputSignalError, ValueError)  # what callers catch


def test_the_compiled_module_is_cached_by_wasm_and_engine(tmp_path: Path) -> None:
    """`load_module` on a small module (the cache does not care what the code does)."""
    engine = wasmtime.Engine()
    wasm = tmp_path / "circuit.wasm"
    wasm.write_bytes(wasmtime.wat2wasm('(module (func (export "f") (result i32) i32.const 7))'))
    module, cached = wasm_witness.load_module(engine, wasm)
    assert not cached
    (path,) = tmp_path.glob("circuit.*.cwasm")
    module, cached = wasm_witness.load_module(engine, wasm)
    assert cached
    store = wasmtime.Store(engine)
    f = wasmtime.Instance(store, module, []).exports(store)["f"]
    assert isinstance(f, wasmtime.Func) and f(store) == 7
    # a cache file another engine (or a crash) left behind is compiled again, not run;
    # rewritten in place, it does not take down a prover that loaded it before (a
    # memory-mapped module would die of SIGBUS here)
    path.write_bytes(b"\x7fELF not a module")
    assert f(store) == 7
    again = wasmtime.Instance(store, module, []).exports(store)["f"]
    assert isinstance(again, wasmtime.Func) and again(store) == 7
    assert not wasm_witness.load_module(engine, wasm)[1]
    assert wasm_witness.load_module(engine, wasm)[1]
    # another .wasm is another file, compiled anew, and the old file goes: here the same
    # module plus a custom section (id 0, 5 bytes: name "bzk", payload "x")
    wasm.write_bytes(wasm.read_bytes() + b"\x00\x05\x03bzkx")
    assert not wasm_witness.load_module(engine, wasm)[1]
    (now,) = tmp_path.glob("circuit.*.cwasm")
    assert now != path
    # a cache that cannot be written (here a directory in the way): compiled, no error
    now.unlink()
    now.mkdir()
    assert not wasm_witness.load_module(engine, wasm)[1]
    assert not list(tmp_path.glob("*.tmp"))


def test_the_calculator_loads_its_module_from_the_cache(
    native_keys: KeyFiles, calc: wasm_witness.WasmWitness
) -> None:
    assert wasm_witness.WasmWitness(native_keys.wasm).from_cache  # the fixture compiled it


def test_the_gil_is_released_while_the_witness_runs(
    calc: wasm_witness.WasmWitness,
) -> None:
    inputs = build_inputs(_blocks()[0].trace, PARAMS)
    ticks = 0
    done = threading.Event()

    def tick() -> None:
        nonlocal ticks
        while not done.is_set():
            time.sleep(0.005)
            ticks += 1

    ticker = threading.Thread(target=tick)
    ticker.start()
    results: list[bytes] = []
    workers = [threading.Thread(target=lambda: results.append(calc.wtns(inputs))) for _ in range(2)]
    start = time.perf_counter()
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    elapsed = time.perf_counter() - start
    done.set()
    ticker.join()
    assert len(results) == 2 and results[0] == results[1]  # two at once, each its own store
    assert ticks > elapsed / 0.005 / 4  # Python kept running while both were in wasm
