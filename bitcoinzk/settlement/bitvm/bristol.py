"""Boolean circuits in Bristol Fashion: parse, write, evaluate, and generate.

Bristol Fashion (https://nigelsmart.github.io/MPC-Circuits/):

    <gates> <wires>
    <number of inputs> <bits of input 1> ... <bits of input k>
    <number of outputs> <bits of output 1> ... <bits of output m>

    <n_in> <n_out> <input wires...> <output wires...> <TYPE>
    ...

Inputs take the first wires, outputs the last ones, bit 0 of each value is
its least significant bit (as in the published `adder64.txt`).  Gate types:
XOR, AND, INV, EQ (constant), EQW (copy), MAND (several ANDs at once) from
the format, plus NAND and NOT (= INV), which BitVM's gate leaves check
directly.  MAND is split into ANDs on parsing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

BINARY = {"XOR", "AND", "NAND"}
UNARY = {"INV", "NOT", "EQW"}


class BristolError(ValueError):
    """Text that is not a well-formed Bristol Fashion circuit."""


@dataclass(frozen=True)
class Gate:
    kind: str  # XOR AND NAND INV NOT EQW EQ
    inputs: tuple[int, ...]  # wire ids (EQ: the constant bit)
    output: int

    def eval(self, values: Sequence[int]) -> int:
        i = self.inputs
        if self.kind == "XOR":
            return values[i[0]] ^ values[i[1]]
        if self.kind == "AND":
            return values[i[0]] & values[i[1]]
        if self.kind == "NAND":
            return 1 - (values[i[0]] & values[i[1]])
        if self.kind in ("INV", "NOT"):
            return 1 - values[i[0]]
        if self.kind == "EQW":
            return values[i[0]]
        if self.kind == "EQ":
            return i[0]
        raise BristolError(f"unknown gate {self.kind}")

    @property
    def wires_in(self) -> tuple[int, ...]:
        return () if self.kind == "EQ" else self.inputs


@dataclass(frozen=True)
class Circuit:
    n_wires: int
    input_sizes: tuple[int, ...]
    output_sizes: tuple[int, ...]
    gates: tuple[Gate, ...]
    name: str = ""

    @property
    def n_inputs(self) -> int:
        return sum(self.input_sizes)

    @property
    def output_wires(self) -> range:
        return range(self.n_wires - sum(self.output_sizes), self.n_wires)

    def evaluate_wires(self, inputs: Sequence[int]) -> list[int]:
        """Every wire's value; `inputs` are integers, one per input value."""
        if len(inputs) != len(self.input_sizes):
            raise ValueError(f"{self.name}: expected {len(self.input_sizes)} inputs")
        values = [0] * self.n_wires
        w = 0
        for value, size in zip(inputs, self.input_sizes, strict=True):
            if not 0 <= value < 1 << size:
                raise ValueError(f"input {value} does not fit {size} bits")
            for bit in range(size):
                values[w] = (value >> bit) & 1
                w += 1
        for gate in self.gates:
            values[gate.output] = gate.eval(values)
        return values

    def outputs_of(self, values: Sequence[int]) -> list[int]:
        out, w = [], self.output_wires.start
        for size in self.output_sizes:
            out.append(sum(values[w + b] << b for b in range(size)))
            w += size
        return out

    def evaluate(self, inputs: Sequence[int]) -> list[int]:
        return self.outputs_of(self.evaluate_wires(inputs))

    def to_bristol(self) -> str:
        lines = [
            f"{len(self.gates)} {self.n_wires}",
            " ".join(map(str, [len(self.input_sizes), *self.input_sizes])),
            " ".join(map(str, [len(self.output_sizes), *self.output_sizes])),
            "",
        ]
        for g in self.gates:
            lines.append(f"{len(g.inputs)} 1 {' '.join(map(str, g.inputs))} {g.output} {g.kind}")
        return "\n".join(lines) + "\n"


def parse_bristol(text: str, name: str = "") -> Circuit:
    """Parse Bristol Fashion text, checking wire ranges and that every wire a gate
    reads was written before (inputs first, each wire written once)."""
    lines = [ln.split() for ln in text.splitlines() if ln.strip()]
    try:
        n_gates, n_wires = int(lines[0][0]), int(lines[0][1])
        ins = [int(x) for x in lines[1]]
        outs = [int(x) for x in lines[2]]
    except (IndexError, ValueError) as e:
        raise BristolError(f"bad header: {e}") from None
    if ins[0] != len(ins) - 1 or outs[0] != len(outs) - 1:
        raise BristolError("input/output counts do not match their sizes")
    input_sizes, output_sizes = tuple(ins[1:]), tuple(outs[1:])
    if sum(input_sizes) + sum(output_sizes) > n_wires:
        raise BristolError("more input and output bits than wires")
    written = [False] * n_wires
    for w in range(sum(input_sizes)):
        written[w] = True
    gates: list[Gate] = []
    for ln in lines[3:]:
        try:
            n_in, n_out = int(ln[0]), int(ln[1])
            wires = [int(x) for x in ln[2 : 2 + n_in + n_out]]
            kind = ln[2 + n_in + n_out].upper()
        except (IndexError, ValueError) as e:
            raise BristolError(f"bad gate line {' '.join(ln)!r}: {e}") from None
        if kind == "MAND":
            if n_in != 2 * n_out:
                raise BristolError("MAND needs two inputs per output")
            split = [(wires[k], wires[n_out + k], wires[2 * n_out + k]) for k in range(n_out)]
            pending = [Gate("AND", (a, b), c) for a, b, c in split]
        elif kind == "EQ":
            if (n_in, n_out) != (1, 1) or wires[0] not in (0, 1):
                raise BristolError("EQ takes one constant bit")
            pending = [Gate("EQ", (wires[0],), wires[1])]
        elif (kind in BINARY and (n_in, n_out) == (2, 1)) or (
            kind in UNARY and (n_in, n_out) == (1, 1)
        ):
            pending = [Gate(kind, tuple(wires[:n_in]), wires[n_in])]
        else:
            raise BristolError(f"unsupported gate {kind} with {n_in} in / {n_out} out")
        for g in pending:
            for w in (*g.wires_in, g.output):
                if not 0 <= w < n_wires:
                    raise BristolError(f"wire {w} out of range")
            if not all(written[w] for w in g.wires_in):
                raise BristolError(f"gate reads a wire before it is written: {g}")
            if written[g.output]:
                raise BristolError(f"wire {g.output} written twice")
            written[g.output] = True
            gates.append(g)
    if len(lines) - 3 != n_gates:
        raise BristolError(f"header says {n_gates} gates, found {len(lines) - 3}")
    return Circuit(n_wires, input_sizes, output_sizes, tuple(gates), name)


def load_bristol(path: Path | str) -> Circuit:
    p = Path(path)
    return parse_bristol(p.read_text(), p.stem)


def shipped_circuit(name: str) -> Circuit:
    """A circuit generated by this module and shipped in `bitcoinzk/settlement/bitvm/circuits/`."""
    text = (
        resources.files("bitcoinzk.settlement.bitvm").joinpath(f"circuits/{name}.txt").read_text()
    )
    return parse_bristol(text, name)


# --- generation -----------------------------------------------------------------------


@dataclass
class CircuitBuilder:
    """Write a circuit gate by gate; `build` renumbers so outputs are the last wires."""

    input_sizes: tuple[int, ...]
    _next: int = 0
    _gates: list[Gate] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._next = sum(self.input_sizes)

    def input(self, k: int) -> list[int]:
        start = sum(self.input_sizes[:k])
        return list(range(start, start + self.input_sizes[k]))

    def gate(self, kind: str, *inputs: int) -> int:
        out = self._next
        self._next += 1
        self._gates.append(Gate(kind, inputs, out))
        return out

    def xor(self, a: int, b: int) -> int:
        return self.gate("XOR", a, b)

    def and_(self, a: int, b: int) -> int:
        return self.gate("AND", a, b)

    def inv(self, a: int) -> int:
        return self.gate("INV", a)

    def build(self, outputs: Sequence[Sequence[int]], name: str = "") -> Circuit:
        flat = [w for value in outputs for w in value]
        seen: set[int] = set()
        for i, w in enumerate(flat):  # outputs must be distinct gate outputs: copy otherwise
            if w < sum(self.input_sizes) or w in seen:
                flat[i] = self.gate("EQW", w)
            seen.add(flat[i])
        n = self._next
        first_out = n - len(flat)
        rename: dict[int, int] = {w: first_out + i for i, w in enumerate(flat)}
        spare = iter(w for w in range(sum(self.input_sizes), n) if w < first_out)
        for g in self._gates:
            if g.output not in rename:
                rename[g.output] = next(spare)

        def ren(w: int) -> int:
            return rename.get(w, w)

        gates = tuple(
            Gate(g.kind, g.inputs if g.kind == "EQ" else tuple(map(ren, g.inputs)), ren(g.output))
            for g in self._gates
        )
        return Circuit(n, self.input_sizes, tuple(len(v) for v in outputs), gates, name)


def ripple_add(b: CircuitBuilder, x: list[int], y: list[int]) -> list[int]:
    """Sum bits of x + y mod 2^n: s = x^y^c, c' = (x&y) ^ (c&(x^y))."""
    out: list[int] = []
    carry: int | None = None
    for i, (xi, yi) in enumerate(zip(x, y, strict=True)):
        p = b.xor(xi, yi)
        out.append(p if carry is None else b.xor(p, carry))
        if i + 1 < len(x):
            g = b.and_(xi, yi)
            carry = g if carry is None else b.xor(g, b.and_(p, carry))
    return out


def less_than(b: CircuitBuilder, x: list[int], y: list[int]) -> int:
    """Unsigned x < y: the borrow out of x - y, borrow' = mux(x^y, borrow, y)."""
    borrow = b.and_(b.inv(x[0]), y[0])
    for xi, yi in zip(x[1:], y[1:], strict=True):
        t = b.xor(xi, yi)
        borrow = b.xor(borrow, b.and_(t, b.xor(yi, borrow)))
    return borrow


def adder_comparator(bits: int = 32) -> Circuit:
    """Inputs x, y (bits each); outputs (x + y) mod 2^bits and [x < y]."""
    b = CircuitBuilder((bits, bits))
    x, y = b.input(0), b.input(1)
    total = ripple_add(b, x, y)
    lt = less_than(b, x, y)
    return b.build([total, [lt]], f"add_lt{bits}")


def write_shipped(directory: Path) -> list[Path]:
    """Regenerate the shipped circuit files (`python -m bitcoinzk.settlement.bitvm.bristol DIR`)."""
    paths = []
    for bits in (8, 32, 64):
        c = adder_comparator(bits)
        path = directory / f"{c.name}.txt"
        path.write_text(c.to_bristol())
        paths.append(path)
    return paths


if __name__ == "__main__":
    import sys

    for p in write_shipped(Path(sys.argv[1])):
        print(p)
