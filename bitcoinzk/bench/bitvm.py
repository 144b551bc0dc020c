"""`bzk bench bitvm`: sizes and timings of the BitVM game and of Gold DA, measured on
an embedded regtest chain (every transaction accepted by the mempool and mined)."""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import coincurve

from bitcoinzk.bitcoin.regtest import RegtestNode
from bitcoinzk.bitcoin.tx import OutPoint, Tx, TxOut
from bitcoinzk.bitcoin.wallet import BitcoinWallet
from bitcoinzk.da.gold import GoldBatch, GoldPublisher
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.pubdata import BlockPubdata, PubdataOp, public_input
from bitcoinzk.spec.types import OP_TRANSFER

from ..settlement.bitvm import blake3, fq
from ..settlement.bitvm.bristol import Circuit, load_bristol, shipped_circuit
from ..settlement.bitvm.chunker import MAX_CHUNK_BYTES, compile_chunks, digests, plan, spends
from ..settlement.bitvm.commitments import WinternitzParams, winternitz_signature_bytes
from ..settlement.bitvm.execute import run_spends
from ..settlement.bitvm.game import Challenger, Game, GameConfig, Prover, Statement, cheating_values
from ..settlement.bitvm.leaves import compile_circuit
from ..settlement.bitvm.pairing import BATCH_PROOF, Proof, VerifyingKey, verifier_program
from ..settlement.bitvm.program import Program, compile_range
from ..settlement.bitvm.tower import Fq12


def _confirm(node: RegtestNode, tx: Tx) -> None:
    node.send_raw_transaction(tx)
    node.mine(1)


def _fund(node: RegtestNode, wallet: BitcoinWallet, spk: bytes, amount: int) -> OutPoint:
    tx = wallet.create_transaction([TxOut(amount, spk)], 2, node)
    _confirm(node, tx)
    return OutPoint(tx.txid, next(i for i, o in enumerate(tx.vout) if o.script_pubkey == spk))


def play(
    node: RegtestNode, wallet: BitcoinWallet, circuit: Circuit, config: GameConfig, seed: int
) -> dict[str, Any]:
    """One honest assertion and one cheating one (random gate); sizes of each step."""
    rng = random.Random(seed)
    inputs = tuple(rng.getrandbits(s) for s in circuit.input_sizes)
    challenger = Challenger(coincurve.PrivateKey(b"\xcc" * 32))
    out: dict[str, Any] = {}
    bad_gate = rng.randrange(len(circuit.gates))
    for label, values in (
        ("honest", circuit.evaluate_wires(inputs)),
        ("cheat", cheating_values(circuit, inputs, bad_gate)),
    ):
        prover = Prover(coincurve.PrivateKey(bytes([seed % 250 + 1]) * 32), b"bench", circuit)
        st = Statement(circuit, inputs, tuple(circuit.outputs_of(values)))
        game = Game.build(st, prover.commitments, prover.public_key, challenger.public_key, config)
        stake = _fund(node, wallet, game.stake_script_pubkey, config.stake)
        asserts = prover.complete_asserts(game, stake, challenger.presign(game, stake), values)
        for tx in asserts:
            _confirm(node, tx)
        payout = wallet.new_key().script_pubkey
        if label == "honest":
            out["assert_txs"] = len(asserts)
            out["assert_vbytes"] = sum(t.vsize for t in asserts)
            node.mine(config.timelock - 1)
            reclaim = prover.reclaim(game, stake, payout)
            _confirm(node, reclaim)
            out["reclaim_vbytes"] = reclaim.vsize
        else:
            pre = challenger.read_assertion(game, asserts)
            [leaf] = challenger.find_faults(game, pre)
            disprove = challenger.disprove(game, stake, leaf, pre, payout)
            _confirm(node, disprove)
            out["disprove_vbytes"] = disprove.vsize
    return out


def gold_vbytes(
    node: RegtestNode, wallet: BitcoinWallet, sizes: tuple[int, ...]
) -> dict[int, dict[str, float]]:
    """Commit + reveal vbytes per plain transfer for batches of `sizes` transfers."""
    key = coincurve.PrivateKey(b"\x5e" * 32)
    out: dict[int, dict[str, float]] = {}
    for n in sizes:
        params = ChainParams(chain_id=7, block_slots=n, block_records=1)
        ops = [PubdataOp(OP_TRANSFER, 1 + i % 9000, 2 + i % 7000, 1_000, 1) for i in range(n)]
        pubdata = BlockPubdata.from_ops(ops)
        batch = GoldBatch(1, 1, 2, public_input(params, 1, 1, 2, pubdata), bytes(256), pubdata)
        pub = GoldPublisher(node, wallet, key, params.chain_id).publish(batch)
        node.mine(1)
        out[n] = {
            "vbytes": pub.vbytes,
            "reveals": len(pub.reveals),
            "vbytes_per_transfer": round(pub.vbytes / n, 3),
        }
    return out


def run_bench(
    circuit_file: Path | None = None,
    bits: int = 32,
    gates_per_leaf: tuple[int, ...] = (1, 4),
    batch_sizes: tuple[int, ...] = (100, 1_000, 10_000, 39_000),
    seed: int = 1,
    verifier: bool = True,
) -> dict[str, Any]:
    """Figures for `bzk bench bitvm --json` (the lead's CLI prints them as the last line).

    `circuit_file`: any Bristol Fashion file (default: the shipped `add_lt{bits}`).
    """
    circuit = load_bristol(circuit_file) if circuit_file else shipped_circuit(f"add_lt{bits}")
    prover = Prover(coincurve.PrivateKey(b"\x01" * 32), b"bench", circuit)
    challenger_key = Challenger(coincurve.PrivateKey(b"\xcc" * 32)).public_key
    result: dict[str, Any] = {"circuit": circuit.name, "gates": len(circuit.gates)}
    result["wires"] = circuit.n_wires
    with tempfile.TemporaryDirectory(prefix="bzk-bench-bitvm-") as tmp:
        node = RegtestNode(Path(tmp) / "node")
        try:
            wallet = BitcoinWallet.from_seed(b"\x42" * 32, lookahead=5)
            node.mine(20, wallet.new_key().script_pubkey)
            node.mine(100)
            for k in gates_per_leaf:
                t0 = time.perf_counter()
                tree = compile_circuit(
                    circuit, prover.commitments, challenger_key, prover.public_key, 6, k
                )
                _ = tree.output.script_pubkey  # every leaf hash, the Merkle root, the tweak
                elapsed = time.perf_counter() - t0
                config = GameConfig(stake=1_000_000, timelock=6, gates_per_leaf=k)
                played = play(node, wallet, circuit, config, seed)
                row = {
                    "leaves": len(tree.output.leaves),
                    "tree_build_s": round(elapsed, 4),
                    "max_leaf_script_bytes": tree.max_leaf_script_bytes,
                    **played,
                }
                if k == gates_per_leaf[0]:
                    result.update(row)
                result[f"gates_per_leaf_{k}"] = row
            start = time.perf_counter()
            gold = gold_vbytes(node, wallet, batch_sizes)
            result["gold_publish_s"] = round(time.perf_counter() - start, 2)
            if verifier:
                _progress("game and Gold DA done; the Groth16 verifier")
                result.update(verifier_figures(node=node, wallet=wallet))
        finally:
            node.close()
    result["winternitz_sig_bytes_per_32_bytes"] = winternitz_signature_bytes(
        WinternitzParams(256, 4)
    )
    result["gold_by_batch_size"] = gold
    headline = 10_000 if 10_000 in gold else max(gold)
    result["gold_batch_size"] = headline
    result["gold_vbytes_per_transfer"] = gold[headline]["vbytes_per_transfer"]
    return result


def _fq12_mul_bytes() -> int:
    """One Fq12 multiplication (54 hinted Fq multiplications), inputs from the witness."""
    prog = Program()
    a = Fq12.witness(prog, [(i + 1, i + 2) for i in range(6)])
    b = Fq12.witness(prog, [(i + 7, i + 3) for i in range(6)])
    c = a * b
    return len(compile_range(prog, 0, len(prog.instrs), [f.id for f in c.fqs()]).script)


def _progress(message: str) -> None:
    """The verifier figures take minutes: say where they are (stderr; stdout is JSON)."""
    print(f"[bitvm bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


COMMIT_DIGIT_BITS = 8
"""Winternitz digit width for the interface digests: 22 digits of a 160-bit digest,
524 witness bytes (4-bit digits: 43 digits, 986 bytes), 14.9 KB of leaf script."""


def verifier_figures(
    proof_file: Path = BATCH_PROOF,
    execute: bool = True,
    node: RegtestNode | None = None,
    wallet: BitcoinWallet | None = None,
) -> dict[str, Any]:
    """The chunked Groth16 verifier on a real batch proof: sizes of the committed
    layout (chunks hash their interfaces), beside the layout that reads interface
    values as plain witness items, and every committed chunk spent in a regtest block
    when `execute` (node and wallet funded)."""
    import json

    data = json.loads(proof_file.read_text())
    vk = VerifyingKey.from_snarkjs(json.dumps(data["verifying_key"]))
    proof = Proof.from_bytes(bytes.fromhex(data["proof"]))
    t0 = time.perf_counter()
    v = verifier_program(vk, proof, int(data["public_input"], 16))
    _progress("verifier recorded; planning committed chunks")
    plans = plan(v.prog, committed=True)
    chunks = list(compile_chunks(v.prog, plans, committed=True))
    generate_s = time.perf_counter() - t0
    _progress(f"{len(chunks)} committed chunks compiled; planning the uncommitted layout")
    if not v.valid:
        raise AssertionError("the batch proof does not verify")
    prog = v.prog
    groups = digests(prog, plans)
    values = {x for g in groups for x in g}
    sig = winternitz_signature_bytes(WinternitzParams(160, COMMIT_DIGIT_BITS))
    sig4 = winternitz_signature_bytes(WinternitzParams(160, 4))

    plain_plans = plan(prog)
    plain = list(compile_chunks(prog, plain_plans))
    plain_outputs = {o for c in plain for o in c.outputs}
    fq_sig = winternitz_signature_bytes(WinternitzParams(254, 4))
    small_sig = winternitz_signature_bytes(WinternitzParams(8, 4))

    marks = dict(prog.marks)
    step = next(k for k, (label, _) in enumerate(prog.marks) if label.endswith("digit 1"))
    s0, s1 = prog.marks[step][1], prog.marks[step + 1][1]
    from ..settlement.bitvm.chunker import _outputs, last_uses

    step_script = compile_range(prog, s0, s1, _outputs(prog, last_uses(prog), s0, s1)).script
    largest = max(chunks, key=lambda c: len(c.script))
    hashing = [c.hash_bytes for c in chunks]
    out: dict[str, Any] = {
        "fq_add_bytes": len(fq.add_script()),
        "fq_mul_bytes": len(fq.mul_script()),
        "fq_sum_of_2_products_bytes": len(fq.lc_script(2)),
        "fq_mul_horner_bytes": len(fq.mul_horner_script()),
        "fq_mul_horner_window4_bytes": len(fq.mul_horner_script(4)),
        "fq_sum_of_2_products_horner_bytes": len(fq.lc_horner_script(2)),
        "fq_mul_hint_free_bytes": len(fq.mul_plain_script(4)),
        "fq12_mul_bytes": _fq12_mul_bytes(),
        "miller_step_bytes": len(step_script),
        "blake3_block_bytes": len(blake3.compress_script(64, 0)),
        "fq_muls": prog.n_mul,
        "instructions": len(prog.instrs),
        "verifier_chunks": len(chunks),
        "verifier_script_bytes": sum(len(c.script) for c in chunks),
        "largest_chunk_bytes": len(largest.script),
        "largest_chunk_weight": spends(largest).weight,
        "max_chunk_bytes_limit": MAX_CHUNK_BYTES,
        "max_stack_items": max(c.max_stack for c in chunks),
        "intermediate_values": len(values),
        "committed_digests": len(groups),
        "commitment_bytes": len(groups) * sig,
        "commitment_digit_bits": COMMIT_DIGIT_BITS,
        "commitment_bytes_4bit_digits": len(groups) * sig4,
        "hash_bytes": sum(hashing),
        "hash_bytes_per_chunk": sum(hashing) // len(chunks),
        "hash_bytes_per_chunk_max": max(hashing),
        "hash_bytes_per_chunk_min": min(hashing),
        "uncommitted_chunks": len(plain),
        "uncommitted_script_bytes": sum(len(c.script) for c in plain),
        "uncommitted_max_stack_items": max(c.max_stack for c in plain),
        "uncommitted_intermediate_values": len(plain_outputs),
        "uncommitted_commitment_bytes": sum(
            small_sig if o in prog.small else fq_sig for o in plain_outputs
        ),
        "generate_s": round(generate_s, 1),
        "msm_instructions": marks["miller loop"] - marks["public-input msm"],
    }
    _progress(f"sizes {json.dumps(out)}")
    if execute and node is not None and wallet is not None:
        t1 = time.perf_counter()
        for i, c in enumerate(chunks):
            if not run_spends(node, wallet, [spends(c)]):
                raise AssertionError("a committed chunk of the valid proof was refused")
            if i % 50 == 49:
                _progress(f"{i + 1} of {len(chunks)} chunks spent in the kernel")
        out["kernel_execute_s"] = round(time.perf_counter() - t1, 1)
    return out
