"""Straight-line programs over Fq, recorded as they run, and compiled to tapscript.

Verification code (the field tower, the pairing, Groth16) is written once over
`Fq` values.  An `Fq` made by a `Program` records every operation it takes part
in while computing its value, so running the verifier on a real proof yields
both the honest values and the program that checks them.  The compiler turns
any stretch of the program into one script: values from earlier stretches and
the prover's hints come in the witness, values later stretches need are
compared with the witness at the end.

Instructions are tuples for speed (a Groth16 verification records ~10^5):
    (op, out, args, extra)
with `op` one of: "wit" (witness value, canonical-checked), "const", "add",
"sub", "neg", "dbl", "mul" (extra = the quotient hint), "eq" (assert equal),
"sel" (out = extra[idx], idx a small witness value below len(extra)).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache

from bitcoinzk.bitcoin.opcodes import Op, Script, drop
from bitcoinzk.bitcoin.script import script_num

from . import blake3, fq
from .fq import N_LIMBS, P

Instr = tuple[str, int, tuple[int, ...], object]


class VerifyFailed(Exception):
    """An `eq` the honest run found false: the statement being checked is wrong."""


class Program:
    """Records instructions; `values[v]` is variable v's honest value."""

    def __init__(self, check: bool = False) -> None:
        self.instrs: list[Instr] = []
        self.values: list[int] = []
        self.small: set[int] = set()  # variables that are one stack item, not nine
        self.check = check  # raise VerifyFailed at a false `eq` (else record it)
        self.failed: list[int] = []  # instruction indices of false `eq`s
        self.marks: list[tuple[str, int]] = []  # (label, first instruction) for reports
        self.def_index: list[int] = []  # variable -> defining instruction (chunker cache)

    def mark(self, label: str) -> None:
        self.marks.append((label, len(self.instrs)))

    def _new(self, value: int, op: str, args: tuple[int, ...], extra: object = None) -> int:
        v = len(self.values)
        self.values.append(value)
        self.instrs.append((op, v, args, extra))
        return v

    def witness(self, value: int) -> Fq:
        return Fq(value % P, self, self._new(value % P, "wit", ()))

    def small_witness(self, value: int) -> int:
        v = self._new(value, "wit", ())
        self.small.add(v)
        return v

    def const(self, value: int) -> Fq:
        return Fq(value % P, self, self._new(value % P, "const", ()))

    def select(self, idx: int, table: Sequence[int]) -> Fq:
        value = table[self.values[idx]] % P
        return Fq(value, self, self._new(value, "sel", (idx,), tuple(t % P for t in table)))

    def assert_nonzero(self, *xs: Fq) -> None:
        """Not all of `xs` are zero (an Fq2 is nonzero iff one of its halves is)."""
        self.instrs.append(("nz", -1, tuple(self.var(x) for x in xs), None))
        if all(x.v == 0 for x in xs):
            if self.check:
                raise VerifyFailed(f"instruction {len(self.instrs) - 1}")
            self.failed.append(len(self.instrs) - 1)

    def lc2(self, a1: Fq, b1: Fq, a2: Fq, b2: Fq) -> Fq:
        """a1 b1 + a2 b2 with one quotient hint (`fq.lc_script(2)`)."""
        total = a1.v * b1.v + a2.v * b2.v
        args = (self.var(a1), self.var(b1), self.var(a2), self.var(b2))
        return Fq(total % P, self, self._new(total % P, "lc2", args, total // P))

    def window(self, x: Fq, lo: int, width: int) -> int:
        """Bits [lo, lo + width) of x as a small value, read from x's limbs."""
        value = (x.v >> lo) & ((1 << width) - 1)
        v = self._new(value, "win", (self.var(x),), (lo, width))
        self.small.add(v)
        return v

    def lift(self, idx: int) -> Fq:
        """A small value as a field element."""
        value = self.values[idx]
        return Fq(value, self, self._new(value, "lift", (idx,)))

    def assert_eq(self, a: Fq, b: Fq) -> None:
        self.instrs.append(("eq", -1, (self.var(a), self.var(b)), None))
        if a.v != b.v:
            if self.check:
                raise VerifyFailed(f"instruction {len(self.instrs) - 1}")
            self.failed.append(len(self.instrs) - 1)

    def var(self, x: Fq) -> int:
        if x.prog is not self:
            return self.const(x.v).id
        return x.id

    @property
    def n_mul(self) -> int:
        """Hinted multiplication checks (a two-product sum counts once)."""
        return sum(1 for i in self.instrs if i[0] in ("mul", "lc2"))


class Fq:
    """An Fq element; with a program, every operation on it is recorded."""

    __slots__ = ("id", "prog", "v")

    def __init__(self, v: int, prog: Program | None = None, id: int = -1) -> None:
        self.v = v
        self.prog = prog
        self.id = id

    def _bin(self, other: Fq | int, op: str, value: int, extra: object = None) -> Fq:
        prog = self.prog or (other.prog if isinstance(other, Fq) else None)
        if prog is None:
            return Fq(value)
        o = other if isinstance(other, Fq) else prog.const(other)
        return Fq(value, prog, prog._new(value, op, (prog.var(self), prog.var(o)), extra))

    def __add__(self, other: Fq | int) -> Fq:
        ov = other.v if isinstance(other, Fq) else other
        return self._bin(other, "add", (self.v + ov) % P)

    def __sub__(self, other: Fq | int) -> Fq:
        ov = other.v if isinstance(other, Fq) else other
        return self._bin(other, "sub", (self.v - ov) % P)

    def __rsub__(self, other: int) -> Fq:
        if self.prog is None:
            return Fq((other - self.v) % P)
        return self.prog.const(other) - self

    def __mul__(self, other: Fq | int) -> Fq:
        ov = other.v if isinstance(other, Fq) else other % P
        if not isinstance(other, Fq) and self.prog is not None and 0 <= other <= 16:
            return self.mul_small(other)
        return self._bin(other, "mul", self.v * ov % P, self.v * ov // P)

    __radd__ = __add__
    __rmul__ = __mul__

    def __neg__(self) -> Fq:
        if self.prog is None:
            return Fq(-self.v % P)
        p = self.prog
        return Fq(-self.v % P, p, p._new(-self.v % P, "neg", (self.id,)))

    def double(self) -> Fq:
        if self.prog is None:
            return Fq(2 * self.v % P)
        p = self.prog
        return Fq(2 * self.v % P, p, p._new(2 * self.v % P, "dbl", (self.id,)))

    def mul_small(self, k: int) -> Fq:
        """k * self by doublings and additions (no hint, ~0.4 KB each)."""
        if k == 0:
            return self - self
        acc: Fq | None = None
        for bit in bin(k)[2:]:
            acc = acc.double() if acc is not None else None
            if bit == "1":
                acc = self if acc is None else acc + self
        assert acc is not None
        return acc

    def square(self) -> Fq:
        return self * self

    def inverse(self) -> Fq:
        """By hint: the prover supplies the inverse, one multiplication checks it."""
        inv = pow(self.v, -1, P) if self.v else 0
        if self.prog is None:
            return Fq(inv)
        h = self.prog.witness(inv)
        self.prog.assert_eq(self * h, self.prog.const(1))
        return h

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Fq) and self.v == other.v

    def __hash__(self) -> int:
        return hash(self.v)

    def __repr__(self) -> str:
        return f"Fq({self.v})"


# --- compilation ----------------------------------------------------------------------------


@dataclass
class Compiled:
    """One leaf: its script and the witness that satisfies it (honest values)."""

    script: Script
    witness: list[bytes]
    inputs: list[int]  # variables read from earlier leaves
    outputs: list[int]  # variables later leaves read
    n_mul: int
    max_stack: int  # largest number of stack items the model saw (witness included)
    hints: int = 0
    extra: dict[str, int] = field(default_factory=dict)
    hash_bytes: int = 0  # script bytes spent hashing the interface (committed chunks)
    groups_in: tuple[Group, ...] = ()
    groups_out: tuple[Group, ...] = ()


HASH_INPUTS_LAST = True
"""Committed leaves hash their in-groups at the end, after the computation, not at the
start: a hash needs ~540 stack items, and at the start every quotient and hint of the
chunk is still on the stack; at the end only the inputs (kept in place, read by copies)
and the outputs are.  Soundness is the same: the leaf fails unless every check passes,
whenever it runs, and the values hashed are the witness values the computation read."""

Group = tuple[int, ...]
"""Variables hashed together into one committed digest (an edge producer -> consumer)."""


@dataclass(frozen=True)
class Interface:
    """A committed chunk's interface: its inputs as groups, each from one earlier chunk,
    and its outputs as groups, each for one later chunk.  A group is one digest: the
    producer's leaf checks it against what it computed, the consumer's leaf against the
    values it reads, and both check the same committed digest."""

    inputs: tuple[Group, ...]
    outputs: tuple[Group, ...]


def order_group(prog: Program, values: Iterable[int]) -> Group:
    """A group in hashing order: Fq values first (each starts a half block), then small
    values, each part by variable."""
    return tuple(sorted(values, key=lambda v: (v in prog.small, v)))


def group_digest(prog: Program, group: Group, claimed: dict[int, int] | None = None) -> list[int]:
    """The digest (10 halves, as a witness carries them) of a group's values."""
    vals = [((claimed or {}).get(v, prog.values[v]), v in prog.small) for v in group]
    return blake3.digest_halves(blake3.digest(vals))


def _item_bytes(prog: Program, v: int) -> list[bytes]:
    if v in prog.small:
        return [script_num(prog.values[v])]
    return fq.witness_items(prog.values[v])


def compile_range(
    prog: Program,
    start: int,
    end: int,
    outputs: Iterable[int],
    claimed: dict[int, int] | None = None,
    interface: Interface | None = None,
    claimed_digests: dict[Group, list[int]] | None = None,
) -> Compiled:
    """Instructions [start, end) as one leaf.  `outputs`: variables defined here that
    later leaves read; the witness claims their values (honest unless `claimed`
    overrides some), and the leaf fails unless they are what it computes.

    With an `interface` the leaf is committed: the witness carries one digest per
    group (honest digests of the values, with `claimed` values where given, unless
    `claimed_digests` overrides a group's), the leaf hashes its input values and
    checks each in-group's digest before using them, and hashes what it computed
    for each out-group and checks that digest; output values are not in the witness."""
    instrs = prog.instrs[start:end]
    # witness values the interface hands in (hints several chunks share) are inputs
    shared = {v for g in interface.inputs for v in g} if interface is not None else set()
    defined = {i[1] for i in instrs if i[1] >= 0} - shared
    outputs = list(outputs)
    uses: dict[int, int] = {}
    inputs: list[int] = []
    for ins in instrs:
        for a in ins[2]:
            uses[a] = uses.get(a, 0) + 1
            if a not in defined and a not in inputs:
                inputs.append(a)
    if interface is not None:
        ordered = [v for g in interface.inputs for v in g]
        if sorted(ordered) != sorted(inputs):
            raise ValueError("the input groups must partition the chunk's inputs")
        inputs = ordered
        outputs = list(dict.fromkeys(v for g in interface.outputs for v in g))

    def val(v: int) -> int:
        return (claimed or {}).get(v, prog.values[v])

    def digest_of(group: Group) -> list[int]:
        if claimed_digests and group in claimed_digests:
            return claimed_digests[group]
        return group_digest(prog, group, claimed)

    hints = [k for k, ins in enumerate(instrs) if ins[0] == "wit" and ins[1] not in shared]
    keep = set(outputs)
    late = interface is not None and HASH_INPUTS_LAST
    if late:  # inputs stay in place (used by copies) to be hashed at the end
        if keep & set(inputs):
            raise AssertionError("a chunk hands on one of its inputs")
        keep |= set(inputs)

    # witness, bottom first: claimed outputs, inputs, then hints (mul quotients inline)
    witness: list[bytes] = []
    # (kind, id): "v" variable, "o" claimed output, "h" hint of instr k, "q" quotient of instr k
    stack: list[tuple[str, int]] = []

    small_vars = prog.small

    def size(slot: tuple[str, int]) -> int:
        kind, i = slot
        if kind in "DH":  # a claimed digest, a computed one
            return 2 * blake3.DIGEST_WORDS
        if kind == "q":
            return fq.Q_LIMBS
        var = instrs[i][1] if kind == "h" else i if kind in "vot" else -1
        return 1 if var in small_vars else N_LIMBS

    h = 0  # stack items, kept up to date by push/pop/take

    def push(slot: tuple[str, int]) -> None:
        nonlocal h
        stack.append(slot)
        h += size(slot)

    def pop(n: int = 1) -> None:
        nonlocal h
        for _ in range(n):
            h -= size(stack.pop())

    def take(slot: tuple[str, int]) -> None:
        nonlocal h
        stack.remove(slot)
        h -= size(slot)

    groups = [] if interface is None else [*interface.outputs, *interface.inputs]
    if interface is None:
        for v in outputs:
            witness += _item_bytes_value(prog, v, val(v))
            push(("o", v))
    else:
        for gi, group in enumerate(groups):
            witness += [script_num(x) for x in digest_of(group)]
            push(("D", gi))
    for v in inputs:
        witness += _item_bytes_value(prog, v, val(v))
        push(("v", v))
    mul_ks = [k for k, ins in enumerate(instrs) if ins[0] in ("mul", "lc2")]
    for k in reversed(hints):  # first hint on top
        witness += _item_bytes(prog, instrs[k][1])
        push(("h", k))
    for k in reversed(mul_ks):
        witness += fq.quotient_items(int(instrs[k][3]))  # type: ignore[call-overload]
        push(("q", k))

    parts: list[Script | Op | int] = []
    peak = h

    def depth_of(slot: tuple[str, int]) -> int:
        d = 0
        for s in reversed(stack):
            if s == slot:
                return d
            d += size(s)
        raise KeyError(slot)

    def bring(slot: tuple[str, int], move: bool) -> None:
        d = depth_of(slot)
        n = size(slot)
        top = d + n - 1  # depth of its deepest item
        if move and d == 0:
            take(slot)
            push(slot)
            return
        parts.append(_bring_script(top, move, n))
        if move:
            take(slot)
            push(slot)
        else:  # a copy: named apart, so a later move finds the original
            push(("t", slot[1]) if slot[0] == "v" else slot)

    def use(v: int) -> None:
        uses[v] -= 1
        slot = ("v", v)
        bring(slot, move=uses[v] == 0 and v not in keep)

    canon = fq.is_canonical_script()

    def height() -> int:
        return h

    hash_bytes = 0

    def check_group(gi: int, group: Group, depth: int) -> None:
        """Hash the group's values (contiguous, the last one `depth` items down) and
        compare with the claimed digest of slot ("D", gi)."""
        nonlocal peak, hash_bytes
        peak = max(peak, height() + blake3.HASH_PEAK)
        hashing = blake3.digest_script([v in small_vars for v in group], depth)
        hashing += blake3.halves_script()
        parts.append(hashing)
        push(("H", gi))
        bring(("D", gi), move=True)  # the claimed digest above the computed one
        parts.append(blake3.equal_halves_script())
        pop(2)
        hash_bytes += len(hashing) + len(blake3.equal_halves_script())

    if interface is not None and not late:  # inputs: each in-group before anything moves
        n_out = len(interface.outputs)
        for k, group in enumerate(interface.inputs):
            check_group(n_out + k, group, depth_of(("v", group[-1])))

    def check_canonical(v: int) -> None:
        nonlocal peak
        bring(("v", v), move=False)
        peak = max(peak, height() + N_LIMBS + 2)  # is_canonical copies the value
        parts.append(canon + drop(N_LIMBS))
        pop()

    for v in inputs:  # every witness value must be canonical
        if v not in prog.small:
            check_canonical(v)

    n_mul = 0
    for k, (op, out, args, extra) in enumerate(instrs):
        if op == "wit" and out in shared:
            continue
        if op == "wit":
            slot = ("h", k)
            stack[stack.index(slot)] = ("v", out)
            if out not in prog.small:
                check_canonical(out)
            if uses.get(out, 0) == 0 and out not in keep:
                bring(("v", out), move=True)
                parts.append(drop(size(("v", out))))
                pop()
            continue
        if op == "const":
            parts.append(_push_const(prog.values[out]))
        elif op in ("add", "sub", "mul"):
            if op == "mul":
                bring(("q", k), move=True)
                n_mul += 1
            use(args[0])
            use(args[1])
            peak = max(peak, height() + (fq.lc_peak(1) if op == "mul" else 4))
            parts.append({"add": fq.add_script, "sub": fq.sub_script, "mul": fq.mul_script}[op]())
            pop(3 if op == "mul" else 2)
        elif op == "lc2":
            bring(("q", k), move=True)
            n_mul += 1
            for a in args:
                use(a)
            peak = max(peak, height() + fq.lc_peak(2))  # the quotient, operands on top
            parts.append(fq.lc_script(2))
            pop(5)
        elif op in ("neg", "dbl"):
            use(args[0])
            peak = max(peak, height() + N_LIMBS + 4)
            parts.append(fq.neg_script() if op == "neg" else fq.double_script())
            pop()
        elif op == "eq":
            use(args[0])
            use(args[1])
            parts.append(fq.equalverify_script())
            pop(2)
            continue
        elif op == "nz":
            for a in args:
                use(a)
            n = N_LIMBS * len(args)
            parts.append(Script(*[Op.OP_BOOLOR] * (n - 1), Op.OP_VERIFY))
            pop(len(args))
            continue
        elif op == "win":
            use(args[0])
            assert isinstance(extra, tuple)
            window = _window_script(int(extra[0]), int(extra[1]))
            peak = max(peak, height() + fq.script_rise(window))  # was +4: one short
            pop()
            parts.append(window)
        elif op == "lift":
            use(args[0])
            peak = max(peak, height() + N_LIMBS)
            pop()
            parts.append(_lift_script())
        elif op == "sel":
            table = extra
            assert isinstance(table, tuple)
            use(args[0])
            peak = max(peak, height() + N_LIMBS * (len(table) + 1) + 2)
            pop()
            parts.append(_select_script(table))
        else:
            raise ValueError(op)
        push(("v", out))
        peak = max(peak, h)
        if uses.get(out, 0) == 0 and out not in keep:
            parts.append(drop(size(("v", out))))
            pop()

    if interface is None:
        for v in outputs:  # computed value against the claimed one
            bring(("v", v), move=True)
            bring(("o", v), move=True)
            small = v in prog.small
            parts.append(Script(Op.OP_EQUALVERIFY) if small else fq.equalverify_script())
            pop(2)
    else:  # each out-group: its values (copies unless needed no more) hashed, checked
        left = {v: 0 for v in outputs}
        for group in interface.outputs:
            for v in group:
                left[v] += 1
        for gi, group in enumerate(interface.outputs):
            for v in group:
                left[v] -= 1
                bring(("v", v), move=left[v] == 0)
            check_group(gi, group, 0)
            parts.append(drop(sum(size(("v", v)) for v in group)))
            pop(len(group))
        if late:  # in-groups, the top one first: their witness values, where they were
            n_out = len(interface.outputs)
            for k in reversed(range(len(interface.inputs))):
                group = interface.inputs[k]
                if depth_of(("v", group[-1])) != 0:
                    raise AssertionError("an in-group is not on top at the end")
                check_group(n_out + k, group, 0)
                parts.append(drop(sum(size(("v", v)) for v in group)))
                pop(len(group))
    if stack:
        raise AssertionError(f"values left on the stack: {stack[:5]}")
    parts.append(Script(Op.OP_1))
    script = Script.join(parts)
    return Compiled(
        script,
        witness,
        inputs,
        outputs,
        n_mul,
        peak,
        len(hints),
        hash_bytes=hash_bytes,
        groups_in=interface.inputs if interface else (),
        groups_out=interface.outputs if interface else (),
    )


@cache
def _bring_script(top: int, move: bool, n: int) -> Script:
    return Script(*[top, Op.OP_ROLL if move else Op.OP_PICK] * n)


@cache
def _push_const(value: int) -> Script:
    return fq.push_script(value)


def _item_bytes_value(prog: Program, v: int, value: int) -> list[bytes]:
    if v in prog.small:
        return [script_num(value)]
    return fq.witness_items(value)


@cache
def _window_script(lo: int, width: int) -> Script:
    """[x] -> [bits lo .. lo + width - 1 of x]: each limb holding some of them is copied
    and its bits are peeled from the top (compare, subtract), the window's recorded."""
    t = fq._Tracker([f"x{i}" for i in reversed(range(N_LIMBS))])
    t.push(0, "d")
    bits = range(lo, lo + width)
    for j in sorted({b // fq.LIMB_BITS for b in bits}, reverse=True):
        t.pick(f"x{j}", "r")
        in_limb = [b - fq.LIMB_BITS * j for b in bits if b // fq.LIMB_BITS == j]
        for bit in range(fq.LIMB_BITS - 1, min(in_limb) - 1, -1):
            k = 1 << bit
            if bit > max(in_limb):
                t.op(fq.strip(k), 1, ["r"])
            else:
                weight = 1 << (fq.LIMB_BITS * j + bit - lo)
                t.op(fq.peel(k, weight), 2, ["d", "r"])
        t.op([Op.OP_DROP], 1, [])
    t.to_alt()
    t.op([drop(N_LIMBS)], N_LIMBS, [])
    t.from_alt()
    return t.script()


def _lift_script() -> Script:
    """[d] -> [d as 9 limbs], 0 <= d < 2^29."""
    zeros = Script(*[0] * (N_LIMBS - 1))
    return (
        Script(Op.OP_DUP, 0, fq.BASE, Op.OP_WITHIN, Op.OP_VERIFY, Op.OP_TOALTSTACK)
        + zeros
        + Script(Op.OP_FROMALTSTACK)
    )


def _select_script(table: tuple[int, ...]) -> Script:
    """[idx] -> [table[idx]], idx must be in [0, len(table)): the entries are pushed,
    the chosen one is picked limb by limb, the rest dropped."""
    n = len(table)
    parts: list[Script | Op | int] = [Op.OP_DUP, 0, n, Op.OP_WITHIN, Op.OP_VERIFY]
    parts.append(Script(*fq.times(N_LIMBS), Op.OP_TOALTSTACK))  # idx * N_LIMBS
    for t in reversed(table):  # entry 0 ends nearest the top
        parts.append(fq.push_script(t))
    # entry j limb i (i = 0 top) is at depth N_LIMBS j + i; copy the limbs of entry idx
    for i in reversed(range(N_LIMBS)):
        pushed = N_LIMBS - 1 - i  # limbs already copied above the table
        parts.append(Script(Op.OP_FROMALTSTACK, Op.OP_DUP, Op.OP_TOALTSTACK, i + pushed, Op.OP_ADD))
        parts.append(Script(Op.OP_PICK))
    # move the copy below the table, drop the table
    for _ in range(N_LIMBS):
        parts.append(Script(Op.OP_TOALTSTACK))
    parts.append(drop(n * N_LIMBS))
    parts.append(Script(*[Op.OP_FROMALTSTACK] * N_LIMBS))
    parts.append(Script(Op.OP_FROMALTSTACK, Op.OP_DROP))
    return Script.join(parts)
