"""
The sequencer's Merkle hot path on one core: tree writes at depth 24 and a whole block.

At depth 24 the 8-ary account tree has 8 levels, so a leaf write is 8 native
Poseidon(8) (one ``merkle_path`` call) and a sibling read fetches 56 nodes.

    python benchmarks/crypto_merkle.py
    BITCOINZK_PURE_PYTHON=1 python benchmarks/crypto_merkle.py

Figures are CPU microseconds (best of 5), so other load on a shared machine
inflates them less. Cases:

- ``set_leaf`` on a plain dict tree holding 1,000 leaves, and on the same tree
  seen through two ``ChainMap`` forks (what ``BlockBuilder.add`` writes to);
- ``stf.write`` (siblings + roots + ``State.put``: one leaf write as the STF does it);
- a 64-transfer block through ``BlockBuilder`` with and without signature checks
  (the sequencer runs without: its mempool verified each signature on arrival).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from bitcoinzk.bench.timing import per_call_us
from bitcoinzk.crypto.eddsa import PrivateKey
from bitcoinzk.crypto.poseidon import NATIVE
from bitcoinzk.spec.genesis import Genesis
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.state import State
from bitcoinzk.spec.stf import BlockBuilder, write
from bitcoinzk.spec.tree import SparseMerkleTree
from bitcoinzk.spec.types import Account, Transfer

DEPTH = 24
PARAMS = ChainParams(chain_id=7, tree_depth=DEPTH, block_slots=64, block_records=64)


def populated_tree(rng: random.Random, leaves: int = 1000) -> SparseMerkleTree:
    tree = SparseMerkleTree(DEPTH)
    for _ in range(leaves):
        tree.set_leaf(rng.randrange(1 << DEPTH), rng.randrange(1, 2**250))
    return tree


def key(i: int) -> PrivateKey:
    return PrivateKey(i.to_bytes(32, "big"))


def block_case(check_signatures: bool) -> Callable[[], object]:
    """64 transfers from accounts 1..64 to 65..128 on a depth-24 genesis of 129 accounts."""
    operator = key(1000).public_key()
    allocations = tuple((key(i).public_key(), 1_000_000) for i in range(1, 129))
    state = Genesis(PARAMS, operator, allocations).state()
    ops = [
        Transfer(i, i + 64, key(i + 64).public_key(), 1000, 1, 0).signed(key(i), PARAMS.chain_id)
        for i in range(1, 65)
    ]

    def run() -> object:
        builder = BlockBuilder(state, PARAMS, 1, check_signatures=check_signatures)
        for op in ops:
            builder.add(op)
        return builder.finish()

    return run


def main() -> None:
    rng = random.Random(1)
    print(f"back end: {'native' if NATIVE is not None else 'pure Python'}, depth {DEPTH}")
    tree = populated_tree(rng)
    forked = State(DEPTH, nodes=tree.nodes).fork().fork().tree
    indices = [rng.randrange(1 << DEPTH) for _ in range(64)]
    it = iter(range(1 << 62))

    def set_leaf(t: SparseMerkleTree) -> Callable[[], object]:
        return lambda: t.set_leaf(indices[next(it) % 64], next(it) % 2**250)

    state = State(DEPTH, nodes=tree.nodes).fork().fork()
    account = Account(key(1).public_key(), 5, 0)
    rows: list[tuple[str, Callable[[], object], int]] = [
        ("set_leaf (dict)", set_leaf(tree), 1),
        ("set_leaf (2 ChainMap forks)", set_leaf(forked), 1),
        ("siblings (2 ChainMap forks)", lambda: forked.siblings(indices[next(it) % 64]), 1),
        ("stf.write (2 ChainMap forks)", lambda: write(state, indices[next(it) % 64], account), 1),
        ("block, 64 transfers, no sigs", block_case(False), 64),
        ("block, 64 transfers, sigs", block_case(True), 64),
    ]
    for name, fn, per in rows:
        us = per_call_us(fn, 3.0 if per > 1 else 1.0)
        extra = f"   {us / per:8.1f} us/tx  {per * 1e6 / us:7.0f} tx/s" if per > 1 else ""
        print(f"{name:30s} {us:10.1f} us{extra}")


if __name__ == "__main__":
    main()
