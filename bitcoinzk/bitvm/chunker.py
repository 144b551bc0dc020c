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

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from bitcoinzk.bitcoin.node import RegtestNode
from bitcoinzk.bitcoin.wallet import Wallet

from . import fq
from .execute import Spend, run_all
from .program import Compiled, Program, compile_range
from .script import MAX_STACK_SIZE

MAX_CHUNK_BYTES = 3_800_000
"""Script bytes per chunk: a 4 MWU block less the witness items and the funding tx."""


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
    prog: Program, results: Sequence[int] = (), max_bytes: int = MAX_CHUNK_BYTES
) -> list[ChunkPlan]:
    """Greedy cuts: the longest stretch that compiles within the limits, then, among its
    last twentieth, the cut with the fewest live values (fewer interface values to
    commit, fewer witness items for the next chunk).  `results`: variables the
    program hands out at the end (the last chunk claims them)."""
    last = last_uses(prog)
    for v in results:
        last[v] = len(prog.instrs)
    live = live_across(prog, last)
    plans: list[ChunkPlan] = []
    start, n = 0, len(prog.instrs)
    while start < n:
        size, end = 0, start
        while end < n and size + _estimate(prog.instrs[end][0]) <= max_bytes:
            size += _estimate(prog.instrs[end][0])
            end += 1
        end = max(end, start + 1)
        while not _fits(prog, last, start, end, max_bytes) and end - start > 1:
            end = start + max(1, (end - start) * 19 // 20)
        if end < n:
            lo = start + max(1, (end - start) * 19 // 20)
            best = min(range(lo, end + 1), key=lambda e: (live[e], -e))
            if best != end and _fits(prog, last, start, best, max_bytes):
                end = best
        plans.append(ChunkPlan(start, end, tuple(_outputs(prog, last, start, end))))
        start = end
    return plans


def _fits(prog: Program, last: list[int], start: int, end: int, max_bytes: int) -> bool:
    c = compile_range(prog, start, end, _outputs(prog, last, start, end))
    return c.max_stack <= MAX_STACK_SIZE and len(c.script) <= max_bytes


def _outputs(prog: Program, last: list[int], start: int, end: int) -> list[int]:
    return [ins[1] for ins in prog.instrs[start:end] if ins[1] >= 0 and last[ins[1]] >= end]


def compile_chunks(
    prog: Program, plans: list[ChunkPlan], claimed: dict[int, int] | None = None
) -> Iterator[Compiled]:
    for p in plans:
        yield compile_range(prog, p.start, p.end, p.outputs, claimed)


def spends(compiled: Compiled) -> Spend:
    return Spend(bytes(compiled.script), tuple(compiled.witness))


def run_program(
    node: RegtestNode,
    wallet: Wallet,
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
