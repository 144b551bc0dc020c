"""Split a recorded verifier into tapleaf chunks within consensus limits.

Each chunk is a stretch of the program compiled into one leaf: it reads the
values earlier chunks produced (its inputs) and claims the values later chunks
read (its outputs); the leaf succeeds iff, from those inputs, it computes
exactly the claimed outputs and every check in its stretch holds.  A chunk's
interface values are the intermediate values the operator commits to.

Limits: the leaf's witness (script, control block, items) must fit a block
(4,000,000 weight units, witness bytes weigh 1), and the stack, witness items
included, never holds more than 1,000 items.  Chunks are cut greedily by
estimated script size, then compiled and shrunk until both limits hold.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial

from bitcoinzk.bitcoin.opcodes import MAX_STACK_SIZE
from bitcoinzk.bitcoin.regtest import RegtestNode
from bitcoinzk.bitcoin.wallet import BitcoinWallet

from . import fq
from .execute import Spend, run_all
from .program import Compiled, Group, Interface, Program, compile_range, order_group

MAX_CHUNK_BYTES = 3_880_000
"""Script bytes per chunk: `execute.BLOCK_WEIGHT_BUDGET` (a 4 MWU block less the coinbase
and the funding tx) less the witness items (at most 1,000 items of at most 9 bytes with
their length prefixes) and the control block."""


def _estimate(op: str) -> int:
    return {
        "mul": len(fq.mul_script()) + 60,
        "lc2": len(fq.lc_script(2)) + 80,
        "add": len(fq.add_script()) + 60,
        "sub": len(fq.sub_script()) + 60,
        "dbl": len(fq.double_script()) + 30,
        "neg": len(fq.neg_script()) + 30,
        "sel": 1_600,
        "win": 600,
        "wit": 200,
    }.get(op, 60)


@dataclass(frozen=True)
class ChunkPlan:
    start: int
    end: int
    outputs: tuple[int, ...]


def last_uses(prog: Program) -> list[int]:
    """Index of the last instruction reading each variable (-1 if none)."""
    last = [-1] * len(prog.values)
    for k, ins in enumerate(prog.instrs):
        for a in ins[2]:
            last[a] = k
    return last


def live_across(prog: Program, last: list[int]) -> list[int]:
    """live[k]: variables defined before instruction k and read at k or later (what a
    cut before k must hand over)."""
    n = len(prog.instrs)
    dying = [0] * (n + 1)
    for k in last:
        if k >= 0:
            dying[k] += 1
    live, out = 0, [0] * (n + 1)
    for k, ins in enumerate(prog.instrs):
        out[k] = live
        if ins[1] >= 0 and last[ins[1]] > k:
            live += 1
        live -= dying[k] - (1 if ins[1] >= 0 and last[ins[1]] == k else 0)
    out[n] = live
    return out


def plan(
    prog: Program,
    results: Sequence[int] = (),
    max_bytes: int = MAX_CHUNK_BYTES,
    committed: bool = False,
    upto: int | None = None,
) -> list[ChunkPlan]:
    """Greedy cuts: the longest stretch that compiles within the limits, then, among its
    last twentieth, the cut with the fewest live values (fewer interface values to
    commit, fewer witness items for the next chunk).  `results`: variables the
    program hands out at the end (the last chunk claims them).

    `committed`: chunks hash their interface (`interfaces`).  A chunk's out-groups
    depend on where later chunks cut, so the plan is made with the outputs as one
    group, then every chunk is compiled with its real groups; a chunk over the limits
    gets its budget cut by what it was over and the plan is made again.  `upto`: stop
    at the first chunk starting at or after that instruction (a prefix, for tests)."""
    if not committed:
        return _plan(prog, results, {}, False, max_bytes, upto)
    reserve: dict[int, int] = {}
    plans: list[ChunkPlan] = []
    for _ in range(8):
        plans = _plan(prog, results, reserve, True, max_bytes, upto, plans)
        over = False
        for p, c in zip(plans, compile_chunks(prog, plans, committed=True), strict=True):
            excess = len(c.script) - max_bytes
            if excess > 0 or c.max_stack > MAX_STACK_SIZE:
                reserve[p.start] = reserve.get(p.start, 0) + max(excess, 0) + 50_000
                over = True
        if not over:
            return plans
    raise AssertionError("the committed plan does not settle")


def _plan(
    prog: Program,
    results: Sequence[int],
    reserve: dict[int, int],
    committed: bool,
    max_bytes: int = MAX_CHUNK_BYTES,
    upto: int | None = None,
    previous: Sequence[ChunkPlan] = (),
) -> list[ChunkPlan]:
    last = last_uses(prog)
    for v in results:
        last[v] = len(prog.instrs)
    live = live_across(prog, last)
    plans: list[ChunkPlan] = []
    owner: dict[int, int] = {}
    start, n = 0, len(prog.instrs)
    guess = _Guess(prog, previous, plans) if committed else None
    while start < (n if upto is None else min(n, upto)):
        budget = max_bytes - reserve.get(start, 0)
        fits = partial(_fits, prog, last, owner, start, budget, guess)
        size, end = 0, start
        while end < n and size + _estimate(prog.instrs[end][0]) <= budget:
            size += _estimate(prog.instrs[end][0])
            end += 1
        end = max(end, start + 1)
        while not fits(end) and end - start > 1:
            end = start + max(1, (end - start) * 19 // 20)
        if end < n:
            lo = start + max(1, (end - start) * 19 // 20)
            best = min(range(lo, end + 1), key=lambda e: (live[e], -e))
            if best != end and fits(best):
                end = best
        outs = tuple(_outputs(prog, last, start, end))
        for v in outs:
            if prog.instrs[_def_index(prog, v)][0] != "wit":
                owner[v] = len(plans)
        plans.append(ChunkPlan(start, end, outs))
        start = end
    return plans


def _fits(
    prog: Program,
    last: list[int],
    owner: dict[int, int],
    start: int,
    budget: int,
    guess: _Guess | None,
    end: int,
) -> bool:
    outs = _outputs(prog, last, start, end)
    face = None if guess is None else guess.interface(owner, start, end, outs)
    c = compile_range(prog, start, end, outs, interface=face)
    return c.max_stack <= MAX_STACK_SIZE and len(c.script) <= budget


class _Guess:
    """A candidate chunk's committed interface before later chunks are cut: who reads a
    value later is guessed from the previous plan (the same instructions' chunks), so
    groups split as they will (all later readers are one chunk in the first plan)."""

    def __init__(
        self, prog: Program, previous: Sequence[ChunkPlan], plans: list[ChunkPlan]
    ) -> None:
        self.prog = prog
        self.plans = plans  # the plan being made (grows)
        self.prev = [0] * len(prog.instrs)
        for i, p in enumerate(previous):
            self.prev[p.start : p.end] = [i] * (p.end - p.start)
        self.readers: dict[int, list[int]] = {}
        for k, ins in enumerate(prog.instrs):
            for a in ins[2]:
                self.readers.setdefault(a, []).append(k)
        self.starts: list[int] = []

    def _chunk(self, k: int) -> int:
        if len(self.starts) != len(self.plans):
            self.starts = [p.start for p in self.plans]
        return bisect_right(self.starts, k) - 1

    def _key(self, v: int, start: int, end: int) -> frozenset[tuple[str, int]]:
        key: set[tuple[str, int]] = set()
        for k in self.readers.get(v, []):
            if k < start:
                key.add(("now", self._chunk(k)))
            elif k < end:
                key.add(("now", len(self.plans)))
            else:
                key.add(("prev", self.prev[k]))
        return frozenset(key)

    def _is_wit(self, v: int) -> bool:
        return self.prog.instrs[_def_index(self.prog, v)][0] == "wit"

    def interface(self, owner: dict[int, int], start: int, end: int, outs: list[int]) -> Interface:
        prog = self.prog
        ins: dict[tuple[int, frozenset[tuple[str, int]]], list[int]] = {}
        for v in _reads(prog, start, end):
            ins.setdefault((owner.get(v, -1), self._key(v, start, end)), []).append(v)
        escaping = {v for v in outs if self._is_wit(v)}
        for ins_ in prog.instrs[start:end]:  # shared witness values read here
            for a in ins_[2]:
                if a in escaping:
                    ins.setdefault((-1, self._key(a, start, end)), []).append(a)
        made: dict[frozenset[tuple[str, int]], list[int]] = {}
        for v in outs:
            if v not in escaping:
                made.setdefault(self._key(v, start, end), []).append(v)
        return Interface(
            tuple(order_group(prog, set(vs)) for _, vs in sorted(ins.items(), key=_order)),
            tuple(order_group(prog, vs) for vs in made.values()),
        )


def _order(item: tuple[tuple[int, frozenset[tuple[str, int]]], list[int]]) -> tuple[int, int]:
    return item[0][0], min(item[1])


def _def_index(prog: Program, v: int) -> int:
    """The instruction defining variable v (variables are numbered as defined)."""
    idx = prog.def_index
    if len(idx) != len(prog.values):
        idx.clear()
        idx.extend([-1] * len(prog.values))
        for k, ins in enumerate(prog.instrs):
            if ins[1] >= 0:
                idx[ins[1]] = k
    return idx[v]


def _reads(prog: Program, start: int, end: int) -> list[int]:
    """Variables defined before `start` that instructions [start, end) read, in order."""
    seen: dict[int, None] = {}
    for ins in prog.instrs[start:end]:
        for a in ins[2]:
            if a not in seen:
                seen[a] = None
    defined = {ins[1] for ins in prog.instrs[start:end]}
    return [a for a in seen if a not in defined]


def interfaces(prog: Program, plans: Sequence[ChunkPlan]) -> list[Interface]:
    """Every chunk's committed interface.  Values a chunk hands on are grouped by who
    reads them: one group (one digest) per producer and set of consumers, so the
    producer hashes each value once and every consumer hashes exactly what it reads.
    Witness values (hints, the proof) read by more than one chunk are shared: a group
    no leaf produces, read (hashed) by every chunk that uses them, so all of them use
    the same values."""
    def_chunk: dict[int, int] = {}
    wit: set[int] = set()
    readers: dict[int, set[int]] = {}
    for i, p in enumerate(plans):
        for ins in prog.instrs[p.start : p.end]:
            if ins[1] >= 0:
                def_chunk[ins[1]] = i
                if ins[0] == "wit":
                    wit.add(ins[1])
            for a in ins[2]:
                readers.setdefault(a, set()).add(i)
    classes: dict[tuple[int, tuple[int, ...]], list[int]] = {}
    for v, rs in readers.items():
        d = def_chunk[v]
        if not rs - {d}:
            continue
        key = (-1, tuple(sorted(rs))) if v in wit else (d, tuple(sorted(rs - {d})))
        classes.setdefault(key, []).append(v)
    ins_: list[list[Group]] = [[] for _ in plans]
    outs: list[list[Group]] = [[] for _ in plans]
    for (producer, consumers), vs in sorted(classes.items()):
        g = order_group(prog, vs)
        for r in consumers:
            ins_[r].append(g)
        if producer >= 0:
            outs[producer].append(g)
    for i, p in enumerate(plans):  # values handed out at the end (results): one group
        rest = order_group(
            prog, (v for v in p.outputs if v not in wit and not readers.get(v, set()) - {i})
        )
        if rest:
            outs[i].append(rest)
    return [Interface(tuple(a), tuple(b)) for a, b in zip(ins_, outs, strict=True)]


def digests(prog: Program, plans: Sequence[ChunkPlan]) -> list[Group]:
    """Every committed group once (what the operator signs: one digest each)."""
    return list(dict.fromkeys(g for face in interfaces(prog, plans) for g in face.outputs))


def _outputs(prog: Program, last: list[int], start: int, end: int) -> list[int]:
    return [ins[1] for ins in prog.instrs[start:end] if ins[1] >= 0 and last[ins[1]] >= end]


def compile_chunks(
    prog: Program,
    plans: Sequence[ChunkPlan],
    claimed: dict[int, int] | None = None,
    committed: bool = False,
    only: Sequence[int] | None = None,
    claimed_digests: dict[Group, list[int]] | None = None,
) -> Iterator[Compiled]:
    """The chunks' leaves (those at indices `only`, else all)."""
    faces = interfaces(prog, plans) if committed else None
    for i in range(len(plans)) if only is None else only:
        p = plans[i]
        face = faces[i] if faces else None
        yield compile_range(prog, p.start, p.end, p.outputs, claimed, face, claimed_digests)


def spends(compiled: Compiled) -> Spend:
    return Spend(bytes(compiled.script), tuple(compiled.witness))


def run_program(
    node: RegtestNode,
    wallet: BitcoinWallet,
    prog: Program,
    results: Sequence[int],
    claimed: dict[int, int] | None = None,
    only_claiming: bool = False,
) -> bool:
    """Every chunk of `prog` spent in regtest blocks (chunks claim `results` once
    computed, honestly unless `claimed` says otherwise); True iff the kernel connected
    them all.  `only_claiming`: run just the chunks claiming a value in `claimed`."""
    plans = plan(prog, results)
    if only_claiming:
        wanted = set(claimed or ())
        plans = [p for p in plans if wanted & set(p.outputs)]
    chunks = [spends(c) for c in compile_chunks(prog, plans, claimed)]
    try:
        run_all(node, wallet, chunks)
    except AssertionError:
        return False
    return True
