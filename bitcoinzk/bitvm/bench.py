"""`bzk bench bitvm`: sizes and timings of the BitVM game and of Gold DA, measured on
an embedded regtest chain (every transaction accepted by the mempool and mined)."""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Any

import coincurve

from bitcoinzk.bitcoin.node import RegtestNode
from bitcoinzk.bitcoin.tx import OutPoint, Tx, TxOut
from bitcoinzk.bitcoin.wallet import Wallet
from bitcoinzk.da.gold import GoldBatch, GoldPublisher
from bitcoinzk.l2.params import ChainParams
from bitcoinzk.l2.pubdata import BlockPubdata, PubdataOp, public_input
from bitcoinzk.l2.types import OP_TRANSFER

from .bristol import Circuit, load_bristol, shipped_circuit
from .commitments import WinternitzParams, winternitz_signature_bytes
from .game import Challenger, Game, GameConfig, Prover, Statement, cheating_values
from .leaves import compile_circuit


def _confirm(node: RegtestNode, tx: Tx) -> None:
    node.send_raw_transaction(tx)
    node.mine(1)


def _fund(node: RegtestNode, wallet: Wallet, spk: bytes, amount: int) -> OutPoint:
    tx = wallet.create_transaction([TxOut(amount, spk)], 2, node)
    _confirm(node, tx)
    return OutPoint(tx.txid, next(i for i, o in enumerate(tx.vout) if o.script_pubkey == spk))


def play(
    node: RegtestNode, wallet: Wallet, circuit: Circuit, config: GameConfig, seed: int
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
    node: RegtestNode, wallet: Wallet, sizes: tuple[int, ...]
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
            wallet = Wallet.from_seed(b"\x42" * 32, lookahead=5)
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
