"""The prover/challenger game as presigned Bitcoin transactions.

    stake tx (prover's wallet)
        └─ S_0: P2TR, one leaf: challenger sig + prover sig + open wires of chunk 0
    assert_0 (presigned by the challenger, completed by the prover)
        └─ S_1 ... (one assert per chunk of wires)
    assert_{k-1}
        └─ A: P2TR, DisproveTree: leaf 0 = timeout (CSV, prover), leaf 1.. = gate checks
    then either
    reclaim: A via the timeout leaf, nSequence = timelock (valid only after it)
    disprove: A via the leaf of an inconsistent gate, signed by the challenger

The statement the prover stands behind is "circuit(inputs) = outputs": the
input and output wires can only be opened to those bits (`open_as_script`),
every other wire to either bit.  An assertion whose wires are all consistent
gate by gate therefore proves the statement, and a false statement forces at
least one inconsistent gate, whose leaf the challenger then spends.

The challenger's presignatures on the assert transactions (SIGHASH_DEFAULT,
committing to their outputs) are the covenant: the stake can only move into
the next assert output and finally into the disprove tree.  Nothing in this
module decides validity: the transactions go to the regtest node, where
libbitcoinkernel runs every script.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import coincurve

from bitcoinzk.bitcoin.opcodes import Op, Script
from bitcoinzk.bitcoin.script import NUMS_H, TapLeaf, TaprootOutput
from bitcoinzk.bitcoin.tx import OutPoint, Tx, TxIn, TxOut

from .bristol import Circuit
from .commitments import HASH_BYTES, BitCommitment, BitSecret, bit_from_preimage
from .leaves import DisproveTree, compile_circuit, disprove_witness_stack

SIG_BYTES = 64


class GameError(Exception):
    """A step of the game that cannot be taken (bad presignature, nothing to disprove)."""


@dataclass(frozen=True)
class GameConfig:
    stake: int = 100_000  # sats
    timelock: int = 6  # blocks (relative) before the prover may reclaim
    fee_rate: int = 2  # sat/vB for every presigned transaction
    gates_per_leaf: int = 1
    wires_per_assert: int = 600  # keeps each assert's witness stack under 1,000 items


@dataclass(frozen=True)
class Statement:
    """What the prover claims: `circuit(inputs) == outputs`."""

    circuit: Circuit
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]

    def fixed_bits(self) -> dict[int, int]:
        """Input and output wires can be opened to one bit only."""
        c = self.circuit
        fixed: dict[int, int] = {}
        w = 0
        for value, size in zip(self.inputs, c.input_sizes, strict=True):
            for b in range(size):
                fixed[w] = (value >> b) & 1
                w += 1
        w = c.output_wires.start
        for value, size in zip(self.outputs, c.output_sizes, strict=True):
            for b in range(size):
                fixed[w] = (value >> b) & 1
                w += 1
        return fixed

    @property
    def is_true(self) -> bool:
        return list(self.outputs) == self.circuit.evaluate(self.inputs)


def xonly(key: coincurve.PrivateKey) -> bytes:
    return bytes(key.public_key_xonly.format())


def _sign(key: coincurve.PrivateKey, msg: bytes) -> bytes:
    return bytes(key.sign_schnorr(msg, os.urandom(32)))


@dataclass(frozen=True)
class Game:
    """Everything both parties agree on before the prover locks the stake."""

    statement: Statement
    config: GameConfig
    prover_key: bytes
    challenger_key: bytes
    commitments: tuple[BitCommitment, ...]
    chunks: tuple[tuple[int, ...], ...]  # wires opened by each assert transaction
    assert_outputs: tuple[TaprootOutput, ...]  # S_0 .. S_{k-1}
    tree: DisproveTree  # A

    @classmethod
    def build(
        cls,
        statement: Statement,
        commitments: Sequence[BitCommitment],
        prover_key: bytes,
        challenger_key: bytes,
        config: GameConfig = GameConfig(),
    ) -> Game:
        c = statement.circuit
        tree = compile_circuit(
            c, commitments, challenger_key, prover_key, config.timelock, config.gates_per_leaf
        )
        n = config.wires_per_assert
        chunks = tuple(tuple(range(i, min(i + n, c.n_wires))) for i in range(0, c.n_wires, n))
        fixed = statement.fixed_bits()
        outputs = []
        for chunk in chunks:
            opens = [
                commitments[w].open_as_script(fixed[w])
                if w in fixed
                else commitments[w].open_script() + Script(Op.OP_DROP)
                for w in chunk
            ]
            script = Script(
                challenger_key, Op.OP_CHECKSIGVERIFY, prover_key, Op.OP_CHECKSIGVERIFY, *opens, 1
            )
            outputs.append(TaprootOutput(NUMS_H, (TapLeaf(bytes(script)),)))
        return cls(
            statement,
            config,
            prover_key,
            challenger_key,
            tuple(commitments),
            chunks,
            tuple(outputs),
            tree,
        )

    @property
    def stake_script_pubkey(self) -> bytes:
        return self.assert_outputs[0].script_pubkey

    def assert_leaf(self, j: int) -> bytes:
        return self.assert_outputs[j].leaves[0].script

    def unsigned_asserts(self, stake: OutPoint) -> list[tuple[Tx, TxOut]]:
        """The assert transactions and the output each spends; fees from exact sizes."""
        out: list[tuple[Tx, TxOut]] = []
        prev, value = stake, self.config.stake
        for j, chunk in enumerate(self.chunks):
            spent = TxOut(value, self.assert_outputs[j].script_pubkey)
            nxt = (
                self.assert_outputs[j + 1].script_pubkey
                if j + 1 < len(self.chunks)
                else self.tree.output.script_pubkey
            )
            tx = Tx(2, [TxIn(prev)], [TxOut(0, nxt)])
            tx.vin[0].witness = [
                *([bytes(HASH_BYTES)] * len(chunk)),
                bytes(SIG_BYTES),
                bytes(SIG_BYTES),
                self.assert_leaf(j),
                self.assert_outputs[j].control_block(0),
            ]
            value -= self.config.fee_rate * tx.vsize
            if value <= 0:
                raise GameError("stake too small for the assert fees")
            tx.vout[0].value = value
            tx.vin[0].witness = []
            out.append((tx, spent))
            prev = OutPoint(tx.txid, 0)
        return out

    def asserted_output(self, stake: OutPoint) -> tuple[OutPoint, TxOut]:
        tx, _ = self.unsigned_asserts(stake)[-1]
        return OutPoint(tx.txid, 0), tx.vout[0]

    def assert_sighash(self, tx: Tx, spent: TxOut, j: int) -> bytes:
        return tx.sighash_taproot(0, [spent], leaf_script=self.assert_leaf(j))


class Prover:
    """Holds the preimages and the wire values it asserts (honest or not)."""

    def __init__(self, key: coincurve.PrivateKey, seed: bytes, circuit: Circuit) -> None:
        self.key = key
        self.public_key = xonly(key)
        self.secrets = tuple(BitSecret.derive(seed, w) for w in range(circuit.n_wires))
        self.circuit = circuit

    @property
    def commitments(self) -> tuple[BitCommitment, ...]:
        return tuple(s.public for s in self.secrets)

    def complete_asserts(
        self, game: Game, stake: OutPoint, presigned: Sequence[bytes], values: Sequence[int]
    ) -> list[Tx]:
        """Fill in the assert witnesses: the opened wires, own and challenger signatures."""
        txs = []
        for j, ((tx, spent), csig) in enumerate(
            zip(game.unsigned_asserts(stake), presigned, strict=True)
        ):
            msg = game.assert_sighash(tx, spent, j)
            if not coincurve.PublicKeyXOnly(game.challenger_key).verify(csig, msg):
                raise GameError(f"challenger presignature {j} does not verify")
            reveals = [self.secrets[w].reveal(values[w]) for w in reversed(game.chunks[j])]
            tx.vin[0].witness = [
                *reveals,
                _sign(self.key, msg),
                csig,
                game.assert_leaf(j),
                game.assert_outputs[j].control_block(0),
            ]
            txs.append(tx)
        return txs

    def reclaim(
        self, game: Game, stake: OutPoint, to_script: bytes, sequence: int | None = None
    ) -> Tx:
        """Spend A through the timeout leaf (valid once A is `timelock` blocks deep)."""
        outpoint, spent = game.asserted_output(stake)
        leaf = game.tree.output.leaves[DisproveTree.TIMEOUT_LEAF]
        seq = game.config.timelock if sequence is None else sequence
        tx = Tx(2, [TxIn(outpoint, sequence=seq)], [TxOut(0, to_script)])
        control = game.tree.output.control_block(DisproveTree.TIMEOUT_LEAF)
        tx.vin[0].witness = [bytes(SIG_BYTES), leaf.script, control]
        tx.vout[0].value = spent.value - game.config.fee_rate * tx.vsize
        sig = _sign(self.key, tx.sighash_taproot(0, [spent], leaf_script=leaf.script))
        tx.vin[0].witness = [sig, leaf.script, control]
        return tx


def honest_values(statement: Statement) -> list[int]:
    return statement.circuit.evaluate_wires(statement.inputs)


def cheating_values(circuit: Circuit, inputs: Sequence[int], gate_index: int) -> list[int]:
    """Evaluate with gate `gate_index`'s output flipped and everything after it
    recomputed from the wrong value: exactly one gate is inconsistent."""
    values = circuit.evaluate_wires(inputs)
    for i, gate in enumerate(circuit.gates):
        if i < gate_index:
            continue
        v = gate.eval(values)
        values[gate.output] = 1 - v if i == gate_index else v
    return values


class Challenger:
    def __init__(self, key: coincurve.PrivateKey) -> None:
        self.key = key
        self.public_key = xonly(key)

    def presign(self, game: Game, stake: OutPoint) -> list[bytes]:
        return [
            _sign(self.key, game.assert_sighash(tx, spent, j))
            for j, (tx, spent) in enumerate(game.unsigned_asserts(stake))
        ]

    @staticmethod
    def read_assertion(game: Game, asserts: Sequence[Tx]) -> list[bytes | None]:
        """The preimage revealed for each wire, read from the assert witnesses."""
        preimages: list[bytes | None] = [None] * game.statement.circuit.n_wires
        for chunk, tx in zip(game.chunks, asserts, strict=True):
            witness = tx.vin[0].witness
            reveals = witness[: len(chunk)][::-1]
            for w, pre in zip(chunk, reveals, strict=True):
                preimages[w] = pre
        return preimages

    @staticmethod
    def find_faults(game: Game, preimages: Sequence[bytes | None]) -> list[int]:
        """Indices (into the tree's leaves) of every group holding an inconsistent gate."""
        bits: list[int | None] = [
            None if p is None else bit_from_preimage(game.commitments[w], p)
            for w, p in enumerate(preimages)
        ]
        faulty = []
        for k, group in enumerate(game.tree.groups):
            for g in group:
                ins = [bits[w] for w in g.wires_in]
                out = bits[g.output]
                if out is None or any(b is None for b in ins):
                    continue
                full = [0] * len(bits)
                for w in g.wires_in:
                    full[w] = bits[w] or 0
                if g.eval(full) != out:
                    faulty.append(1 + k)
                    break
        return faulty

    def disprove(
        self,
        game: Game,
        stake: OutPoint,
        leaf: int,
        preimages: Sequence[bytes | None],
        to_script: bytes,
    ) -> Tx:
        """Spend A through gate-check leaf `leaf` with the prover's own revealed preimages."""
        outpoint, spent = game.asserted_output(stake)
        script = game.tree.output.leaves[leaf].script
        control = game.tree.output.control_block(leaf)
        stack = disprove_witness_stack(game.tree.groups[leaf - 1], preimages)
        tx = Tx(2, [TxIn(outpoint)], [TxOut(0, to_script)])
        tx.vin[0].witness = [bytes(SIG_BYTES), *stack, script, control]
        tx.vout[0].value = spent.value - game.config.fee_rate * tx.vsize
        sig = _sign(self.key, tx.sighash_taproot(0, [spent], leaf_script=script))
        tx.vin[0].witness = [sig, *stack, script, control]
        return tx
