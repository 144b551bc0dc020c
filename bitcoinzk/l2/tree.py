"""The account tree: a binary sparse Merkle tree of Poseidon hashes.

Only nodes on the path of a written leaf are stored, keyed by (level, index)
with level 0 the leaves, so a depth-24 tree costs memory only for what is in
it; every other node is the root of an empty subtree. Writes go to
the map on top of a `collections.ChainMap`, which is how the STF gets cheap
copy-on-write: fork, apply, and either merge or drop the fork.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from functools import cache

from bitcoinzk.crypto.poseidon import poseidon
from bitcoinzk.l2.params import MAX_TREE_DEPTH

NodeKey = tuple[int, int]


@cache
def zero_hashes() -> tuple[int, ...]:
    """`z[k]` is the root of an empty subtree of height k (z[0] = empty leaf = 0)."""
    zs = [0]
    for _ in range(MAX_TREE_DEPTH):
        zs.append(poseidon([zs[-1], zs[-1]]))
    return tuple(zs)


@dataclass(frozen=True)
class MerkleProof:
    index: int
    leaf: int
    siblings: tuple[int, ...]

    def root(self) -> int:
        return compute_root(self.index, self.leaf, self.siblings)

    def to_json(self) -> dict[str, object]:
        return {
            "index": self.index,
            "leaf": hex(self.leaf),
            "siblings": [hex(s) for s in self.siblings],
        }


def compute_root(index: int, leaf: int, siblings: tuple[int, ...] | list[int]) -> int:
    node = leaf
    for level, sibling in enumerate(siblings):
        if (index >> level) & 1:
            node = poseidon([sibling, node])
        else:
            node = poseidon([node, sibling])
    return node


class SparseMerkleTree:
    def __init__(self, depth: int, nodes: MutableMapping[NodeKey, int] | None = None) -> None:
        if not 1 <= depth <= MAX_TREE_DEPTH:
            raise ValueError(f"depth must be in 1..{MAX_TREE_DEPTH}")
        self.depth = depth
        self.nodes: MutableMapping[NodeKey, int] = nodes if nodes is not None else {}

    def _node(self, level: int, index: int) -> int:
        return self.nodes.get((level, index), zero_hashes()[level])

    @property
    def root(self) -> int:
        return self._node(self.depth, 0)

    def leaf(self, index: int) -> int:
        self._check(index)
        return self._node(0, index)

    def siblings(self, index: int) -> tuple[int, ...]:
        self._check(index)
        return tuple(self._node(level, (index >> level) ^ 1) for level in range(self.depth))

    def proof(self, index: int) -> MerkleProof:
        return MerkleProof(index, self.leaf(index), self.siblings(index))

    def set_leaf(self, index: int, value: int) -> None:
        self._check(index)
        node = value
        for level in range(self.depth):
            self.nodes[(level, index >> level)] = node
            sibling = self._node(level, (index >> level) ^ 1)
            if (index >> level) & 1:
                node = poseidon([sibling, node])
            else:
                node = poseidon([node, sibling])
        self.nodes[(self.depth, 0)] = node

    def _check(self, index: int) -> None:
        if not 0 <= index < (1 << self.depth):
            raise IndexError(f"index {index} outside a depth-{self.depth} tree")
