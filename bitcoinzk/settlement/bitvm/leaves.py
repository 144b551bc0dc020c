"""Gate-check tapleaves and the compilation of a circuit into a Taproot tree.

A gate-check leaf is a *disprove*: it succeeds only when the values the prover
committed to for a gate's inputs and output are inconsistent with the gate.
It first opens every commitment (hashlock bit commitments, so the challenger
can only use preimages the prover revealed), then evaluates the gate on the
committed inputs, and `OP_VERIFY`s that the result differs from the committed
output.  With `gates_per_leaf > 1` a leaf checks a group of gates and succeeds
if any one of them is inconsistent (fewer, larger leaves: measured in the
benchmark).

Stack layout of a leaf's witness, bottom first:

    <challenger sig> [<pre out> <pre in1> <pre in0>] per gate, last gate first

so the first gate's first input is on top when the script starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bitcoinzk.bitcoin.opcodes import Op, Script
from bitcoinzk.bitcoin.script import NUMS_H, TapLeaf, TaprootOutput

from .bristol import Circuit, Gate
from .commitments import BitCommitment

# evaluates gate(b, a) with stack [.. c b a] -> [.. c g]
_GATE_OPS: dict[str, Script] = {
    "AND": Script(Op.OP_BOOLAND),
    "NAND": Script(Op.OP_BOOLAND, Op.OP_NOT),
    "XOR": Script(Op.OP_NUMNOTEQUAL),
    "INV": Script(Op.OP_NOT),
    "NOT": Script(Op.OP_NOT),
    "EQW": Script(),
}


def gate_inconsistency_script(gate: Gate, commits: Sequence[BitCommitment]) -> Script:
    """Opens the gate's commitments and leaves 1 if the committed output is wrong, else 0.

    stack: .. <pre out> [<pre in1>] <pre in0>  ->  .. <inconsistent>
    """
    if gate.kind == "EQ":
        return commits[gate.output].open_script() + Script(gate.inputs[0], Op.OP_NUMNOTEQUAL)
    ins = gate.wires_in
    parts = [commits[w].open_script() + Script(Op.OP_TOALTSTACK) for w in ins]
    parts.append(commits[gate.output].open_script())
    parts += [Script(Op.OP_FROMALTSTACK)] * len(ins)  # .. c b a
    try:
        parts.append(_GATE_OPS[gate.kind])
    except KeyError:
        raise ValueError(f"no gate check for {gate.kind}") from None
    parts.append(Script(Op.OP_NUMNOTEQUAL))
    return Script.join(parts)


def disprove_script(
    gates: Sequence[Gate], commits: Sequence[BitCommitment], challenger_key: bytes
) -> Script:
    """A leaf that succeeds iff one of `gates` is inconsistent, spent by the challenger."""
    parts = [gate_inconsistency_script(g, commits) + Script(Op.OP_TOALTSTACK) for g in gates]
    parts.append(Script(Op.OP_FROMALTSTACK))
    parts += [Script(Op.OP_FROMALTSTACK, Op.OP_BOOLOR)] * (len(gates) - 1)
    parts.append(Script(Op.OP_VERIFY, challenger_key, Op.OP_CHECKSIG))
    return Script.join(parts)


def disprove_witness_stack(gates: Sequence[Gate], preimages: Sequence[bytes | None]) -> list[bytes]:
    """The preimages a disprove leaf consumes (no signature), bottom of the stack first."""
    out: list[bytes] = []
    for g in reversed(gates):
        for w in (g.output, *reversed(g.wires_in)):
            p = preimages[w]
            if p is None:
                raise ValueError(f"no revealed preimage for wire {w}")
            out.append(p)
    return out


def timeout_script(timelock: int, prover_key: bytes) -> Script:
    """After `timelock` blocks (relative, BIP-112) the prover takes the stake back."""
    return Script(timelock, Op.OP_CHECKSEQUENCEVERIFY, Op.OP_DROP, prover_key, Op.OP_CHECKSIG)


@dataclass(frozen=True)
class DisproveTree:
    """The Taproot output an assertion locks the stake in: leaf 0 is the prover's
    timeout, leaf 1 + k checks `groups[k]`.  The key path is the NUMS point."""

    output: TaprootOutput
    groups: tuple[tuple[Gate, ...], ...]

    TIMEOUT_LEAF = 0

    def leaf_for_gate(self, gate_index: int, gates_per_leaf: int) -> int:
        return 1 + gate_index // gates_per_leaf

    @property
    def max_leaf_script_bytes(self) -> int:
        return max(len(leaf.script) for leaf in self.output.leaves)


def compile_circuit(
    circuit: Circuit,
    commits: Sequence[BitCommitment],
    challenger_key: bytes,
    prover_key: bytes,
    timelock: int,
    gates_per_leaf: int = 1,
) -> DisproveTree:
    """One gate-check leaf per `gates_per_leaf` consecutive gates, plus the timeout."""
    if len(commits) != circuit.n_wires:
        raise ValueError("need one commitment per wire")
    groups = tuple(
        circuit.gates[i : i + gates_per_leaf] for i in range(0, len(circuit.gates), gates_per_leaf)
    )
    leaves = [TapLeaf(bytes(timeout_script(timelock, prover_key)))]
    leaves += [TapLeaf(bytes(disprove_script(g, commits, challenger_key))) for g in groups]
    return DisproveTree(TaprootOutput(NUMS_H, tuple(leaves)), groups)
