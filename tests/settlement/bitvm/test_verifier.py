"""The chunked Groth16 verifier on a real batch proof, chunks spent in regtest blocks.

Every chunk of the valid proof's verification is within consensus limits; with
BZK_TEST_FULL_VERIFIER=1 every one of them is spent through libbitcoinkernel
(~160 blocks, minutes: `bzk bench bitvm` does the same and reports the time),
otherwise a fixed sample (first, end of the G2 subgroup check, MSM, mid-loop,
last chunks) is.  A proof with one byte changed, a proof whose B is on the twist
but outside G2, and a proof with another valid A, each leave the honest
computation with a chunk whose spend the kernel refuses: the chunk a disprove
would target."""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

from py_ecc import optimized_bn128

from bitcoinzk.bitcoin.opcodes import MAX_STACK_SIZE
from bitcoinzk.settlement.bitvm import pairing as pr
from bitcoinzk.settlement.bitvm.chunker import (
    MAX_CHUNK_BYTES,
    ChunkPlan,
    compile_chunks,
    plan,
    spends,
)
from bitcoinzk.settlement.bitvm.execute import run_all, run_spends
from bitcoinzk.settlement.bitvm.program import Compiled, Program
from bitcoinzk.settlement.bitvm.tower import Fq2
from tests.settlement.bitvm.test_tower import twist_point

bn: Any = optimized_bn128  # py_ecc exports nothing explicitly
DATA = pr.BATCH_PROOF
FULL = os.environ.get("BZK_TEST_FULL_VERIFIER") == "1"


@cache
def batch() -> tuple[pr.VerifyingKey, bytes, int]:
    d = json.loads(DATA.read_text())
    vk = pr.VerifyingKey.from_snarkjs(json.dumps(d["verifying_key"]))
    return vk, bytes.fromhex(d["proof"]), int(d["public_input"], 16)


@cache
def verification(raw: bytes) -> tuple[pr.Verification, tuple[ChunkPlan, ...]]:
    vk, _, s = batch()
    v = pr.verifier_program(vk, pr.Proof.from_bytes(raw), s)
    return v, tuple(plan(v.prog))


def chunk_of(plans: tuple[ChunkPlan, ...], instr: int) -> int:
    return next(i for i, p in enumerate(plans) if p.start <= instr < p.end)


def compiled(v: pr.Verification, plans: tuple[ChunkPlan, ...], idx: list[int]) -> list[Compiled]:
    return list(compile_chunks(v.prog, [plans[i] for i in idx]))


def test_valid_proof_every_chunk_within_limits_and_spent(funded):
    node, wallet = funded
    _, raw, _ = batch()
    v, plans = verification(raw)
    assert v.valid and not v.prog.failed
    assert 150 < len(plans) < 1_000
    outputs_seen: set[int] = set()
    for c in compile_chunks(v.prog, list(plans)):
        assert len(c.script) <= MAX_CHUNK_BYTES
        assert c.max_stack <= MAX_STACK_SIZE
        assert len(c.witness) <= MAX_STACK_SIZE
        assert not set(c.inputs) - outputs_seen  # inputs are earlier chunks' outputs
        outputs_seen |= set(c.outputs)
    msm = next(
        i
        for i, p in enumerate(plans)
        if any(v.prog.instrs[k][0] == "win" for k in range(p.start, p.end))
    )
    subgroup = chunk_of(plans, dict(v.prog.marks)["g2 subgroup"])
    sample = sorted({0, 1, msm, len(plans) // 2, subgroup, len(plans) - 2, len(plans) - 1})
    chosen = list(range(len(plans))) if FULL else sample
    run_all(node, wallet, [spends(c) for c in compiled(v, plans, chosen)])


def test_one_byte_changed_exposes_a_chunk(funded):
    """Byte 70 of the proof is in B's x: B leaves its curve.  The honest run finds the
    on-curve check false; that chunk's spend is refused, the one before connects."""
    node, wallet = funded
    _, raw, _ = batch()
    bad = bytearray(raw)
    bad[70] ^= 0x01
    v, plans = verification(bytes(bad))
    assert not v.valid
    first = chunk_of(plans, v.prog.failed[0])
    good, failing = compiled(v, plans, [first - 1, first])
    assert run_spends(node, wallet, [spends(good)])
    assert not run_spends(node, wallet, [spends(failing)])


@cache
def b_outside_g2() -> pr.Verification:
    """The batch proof with B replaced by a twist point outside G2."""
    vk, raw, s = batch()
    proof = pr.Proof.from_bytes(raw)
    return pr.verifier_program(vk, pr.Proof(proof.a, twist_point(7), proof.c), s)


def test_b_outside_g2_exposes_the_subgroup_chunk(funded):
    """B replaced by a point of the twist E'(Fq2) outside G2 (A, C and the public input
    honest): B passes its on-curve check, and the EVM's pairing precompile would refuse
    it.  No c exists, so the final check fails too (what a B built to satisfy the
    pairing equation would not do); the honest run also finds the G2 membership
    equality false, at the end of the subgroup check (the program's last check):
    that chunk's spend is refused, the one before it connects.  The program has the
    valid proof's shape, so the valid proof's cut is reused."""
    node, wallet = funded
    _, raw, _ = batch()
    good, plans = verification(raw)
    v = b_outside_g2()
    assert not v.valid and same_shape(v, good)
    marks = dict(v.prog.marks)
    subgroup = [k for k in v.prog.failed if k >= marks["g2 subgroup"]]
    assert subgroup == list(range(len(v.prog.instrs) - 4, len(v.prog.instrs)))  # the equality
    assert all(marks["final check"] < j < marks["g2 subgroup"] for j in v.prog.failed[:-4])
    k = subgroup[0]
    first = chunk_of(plans, k)
    assert first > chunk_of(plans, marks["g2 subgroup"])
    good_chunk, failing = compiled(v, plans, [first - 1, first])
    assert run_spends(node, wallet, [spends(good_chunk)])
    assert not run_spends(node, wallet, [spends(failing)])


def test_valid_points_wrong_proof_fail_the_final_check(funded):
    """A replaced by another point of G1: every curve check passes, no c exists, and the
    chunk holding the final check is refused with the honest values."""
    node, wallet = funded
    _, raw, _ = batch()
    proof = pr.Proof.from_bytes(raw)
    x, y = bn.normalize(bn.multiply(bn.G1, 7))
    forged = pr.Proof((int(x), int(y)), proof.b, proof.c)
    vk, _, s = batch()
    v = pr.verifier_program(vk, forged, s)
    good, plans = verification(raw)
    assert not v.valid and same_shape(v, good)
    marks = dict(v.prog.marks)
    assert v.prog.failed and all(
        marks["final check"] < k < marks["g2 subgroup"] for k in v.prog.failed
    )
    idx = sorted({chunk_of(plans, k) for k in v.prog.failed})
    [last] = compiled(v, plans, [idx[-1]])
    assert not run_spends(node, wallet, [spends(last)])


def same_shape(a: pr.Verification, b: pr.Verification) -> bool:
    return [i[:3] for i in a.prog.instrs] == [i[:3] for i in b.prog.instrs]


def test_committed_chunks_of_a_changed_proof(funded):
    """Committed interfaces on the real verifier: each chunk hashes (BLAKE3 in Script)
    what it reads and what it hands on, and checks the committed digests.  The cut is
    made once (the verifier's instructions do not depend on the proof's values, so
    every proof's program is cut the same way); the test cuts the program up to the
    public-input MSM (the whole cut is `bzk bench bitvm`'s).  Valid proof: these
    chunks pass.  Byte 70 changed (B off its curve), every digest the honest
    computation's: the chunks before the failing check pass, the chunk holding it is
    refused: its committed outputs disagree with its committed inputs."""
    node, wallet = funded
    _, raw, _ = batch()
    good, _ = verification(raw)
    msm = dict(good.prog.marks)["public-input msm"]
    plans = tuple(plan(good.prog, committed=True, upto=msm + 1))
    chunks = list(compile_chunks(good.prog, plans, committed=True))
    for c in chunks:
        assert len(c.script) <= MAX_CHUNK_BYTES and c.max_stack <= MAX_STACK_SIZE
        assert c.hash_bytes > 0 or not (c.groups_in or c.groups_out)  # hashes its interface
    assert sum(1 for c in chunks if c.hash_bytes) >= len(chunks) - 1
    run_all(node, wallet, [spends(c) for c in chunks])

    bad = bytearray(raw)
    bad[70] ^= 0x01
    v, _ = verification(bytes(bad))
    assert same_shape(v, good) and v.prog.failed
    first = chunk_of(plans, v.prog.failed[0])
    assert first > 0
    changed = list(compile_chunks(v.prog, plans, committed=True, only=range(first + 1)))
    run_all(node, wallet, [spends(c) for c in changed[:-1]])
    assert not run_spends(node, wallet, [spends(changed[-1])])


@cache
def subgroup_check(point: pr.Proof) -> Program:
    prog = Program()
    b = pr.G2(Fq2.witness(prog, point.b[0]), Fq2.witness(prog, point.b[1]))
    pr.g2_subgroup_check(b, prog)
    return prog


def test_committed_subgroup_check_refuses_b_outside_g2(funded):
    """The G2 subgroup check alone (B's coordinates its witness values) cut into
    committed chunks: with the batch proof's B every chunk passes; with a twist point
    outside G2, every digest the honest computation's, the chunk holding the final
    equality is refused (its committed inputs lead to a false check) and the one
    before it passes.  (In the verifier the check is the last stretch; its committed
    cut there is the bench's.)"""
    node, wallet = funded
    _, raw, _ = batch()
    proof = pr.Proof.from_bytes(raw)
    good = subgroup_check(proof)
    assert not good.failed
    plans = tuple(plan(good, committed=True))
    run_all(node, wallet, [spends(c) for c in compile_chunks(good, plans, committed=True)])
    bad = subgroup_check(pr.Proof(proof.a, twist_point(7), proof.c))
    assert [i[:3] for i in bad.instrs] == [i[:3] for i in good.instrs]
    assert bad.failed == list(range(len(bad.instrs) - 4, len(bad.instrs)))
    k = chunk_of(plans, bad.failed[0])
    assert k > 0
    before, refused = compile_chunks(bad, plans, committed=True, only=[k - 1, k])
    assert run_spends(node, wallet, [spends(before)])
    assert not run_spends(node, wallet, [spends(refused)])
