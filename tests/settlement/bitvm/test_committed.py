"""Committed chunk interfaces: each leaf hashes (BLAKE3 in Script) the values it reads
and the values it hands on, and checks every digest against the committed one.  A
small program (twelve Fq2 multiply-adds, one chunk each) is cut into committed
chunks; every verdict is libbitcoinkernel's."""

from __future__ import annotations

from functools import cache

from bitcoinzk.bitcoin.opcodes import MAX_STACK_SIZE
from bitcoinzk.settlement.bitvm.chunker import (
    ChunkPlan,
    compile_chunks,
    digests,
    interfaces,
    plan,
    spends,
)
from bitcoinzk.settlement.bitvm.execute import run_all, run_spends
from bitcoinzk.settlement.bitvm.program import Program, group_digest
from bitcoinzk.settlement.bitvm.tower import Fq2


@cache
def program() -> tuple[Program, tuple[ChunkPlan, ...]]:
    prog = Program()
    a = Fq2.witness(prog, (3, 5))
    b = Fq2.witness(prog, (7, 11))
    x = a
    for _ in range(12):
        x = x * b + a
    plans = plan(prog, [x.c0.id, x.c1.id], 600_000, committed=True)
    return prog, tuple(plans)


def test_interfaces_link_every_input_to_one_commitment():
    prog, plans = program()
    faces = interfaces(prog, plans)
    assert len(plans) > 3
    produced: dict[tuple[int, ...], int] = {}
    for i, face in enumerate(faces):
        for g in face.outputs:
            assert g not in produced, "one producer per digest"
            produced[g] = i
    shared = {v for g in faces[0].inputs for v in g}
    assert shared == {0, 1, 2, 3}  # a and b: witness values every chunk reads
    for i, face in enumerate(faces):
        for g in face.inputs:
            assert (g in produced and produced[g] < i) or set(g) <= shared
    assert set(digests(prog, plans)) >= set(produced)
    for c in compile_chunks(prog, plans, committed=True):
        assert c.max_stack <= MAX_STACK_SIZE and c.hash_bytes > 0
        assert not c.outputs or all(len(w) <= 4 for w in c.witness)  # no output values


def test_honest_committed_chunks_pass(funded):
    node, wallet = funded
    prog, plans = program()
    run_all(node, wallet, [spends(c) for c in compile_chunks(prog, plans, committed=True)])


def test_wrong_output_is_refused_in_its_producer(funded):
    """The operator commits the digest of a wrong value (the one its wrong claim
    needs): the leaf that computes the value refuses it, with the honest inputs under
    their committed digests; the honest claim passes (the honest test)."""
    node, wallet = funded
    prog, plans = program()
    faces = interfaces(prog, plans)
    [group] = faces[2].outputs
    v = group[0]
    lie = {v: prog.values[v] + 1}
    [producer] = compile_chunks(prog, plans, lie, committed=True, only=[2])
    assert group in faces[3].inputs
    assert not run_spends(node, wallet, [spends(producer)])


def test_values_must_match_the_committed_digest(funded):
    """Honest digests, but the witness carries another value for an input (what a
    challenger would try): the input hash disagrees, the leaf is refused.  The same
    for a flipped bit in the committed digest of the honest values, and for a shared
    witness value (b) changed under its committed digest."""
    node, wallet = funded
    prog, plans = program()
    faces = interfaces(prog, plans)
    last = len(plans) - 1
    group = next(g for g in faces[last].inputs if 4 not in g and 0 not in g)
    honest = {g: group_digest(prog, g) for g in faces[last].inputs}
    other = {group[0]: prog.values[group[0]] + 1}
    [changed] = compile_chunks(
        prog, plans, other, committed=True, only=[last], claimed_digests=honest
    )
    assert not run_spends(node, wallet, [spends(changed)])
    flipped = list(honest[group])
    flipped[9] ^= 1
    [bad_digest] = compile_chunks(
        prog, plans, committed=True, only=[last], claimed_digests={group: flipped}
    )
    assert not run_spends(node, wallet, [spends(bad_digest)])
    [hint] = [g for g in faces[last].inputs if 0 in g]
    [bad_hint] = compile_chunks(
        prog, plans, {2: 8}, committed=True, only=[last], claimed_digests={hint: honest[hint]}
    )
    assert not run_spends(node, wallet, [spends(bad_hint)])
