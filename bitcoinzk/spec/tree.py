"""The account tree: an 8-ary sparse Merkle tree of Poseidon hashes.

`depth` is the number of index bits (capacity 2^depth, a multiple of 3); the
tree has `depth // 3` levels above the leaves and node (k+1, j) is
Poseidon(node(k, 8j), ..., node(k, 8j+7)). Siblings are flat: level k's 7 other
children of the parent, in child order, at `siblings[7k : 7k+7]`.

Only nodes on the path of a written leaf are stored, keyed by (level, index)
with level 0 the leaves and level `depth // 3` the root, so a depth-24 tree costs
memory only for what is in it; every other node is the root of an empty subtree. Writes go to
the map on top of a `collections.ChainMap`, which is how the STF gets cheap
copy-on-write: fork, apply, and either merge or drop the fork.

A write hashes the leaf's whole path in one `merkle_path` call (native when the
C extension is loaded): siblings are read first, then every node is written.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from functools import cache

from bitcoinzk.crypto.poseidon import merkle_path, poseidon
from bitcoinzk.spec.params import LEVEL_BITS, MAX_TREE_DEPTH, TREE_ARITY

NodeKey = tuple[int, int]


@cache
def zero_hashes() -> tuple[int, ...]:
    """`z[k]` is the root of an empty subtree of k levels (z[0] = empty leaf = 0,
    z[k+1] = Poseidon([z[k]] * 8))."""
    zs = [0]
    for _ in range(MAX_TREE_DEPTH // LEVEL_BITS):
        zs.append(poseidon([zs[-1]] * TREE_ARITY))
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
    return merkle_path(index, leaf, siblings)[-1]


def _layers(nodes: Mapping[NodeKey, int]) -> list[Mapping[NodeKey, int]]:
    """The plain maps a (possibly nested) ChainMap reads through, first match wins.

    Looking a key up in each directly is several times faster than ChainMap.get,
    which scans its maps twice (`in`, then `[]`) and recurses into nested forks.
    """
    if isinstance(nodes, ChainMap):
        return [layer for m in nodes.maps for layer in _layers(m)]
    return [nodes]


class SparseMerkleTree:
    def __init__(self, depth: int, nodes: MutableMapping[NodeKey, int] | None = None) -> None:
        if not (LEVEL_BITS <= depth <= MAX_TREE_DEPTH and depth % LEVEL_BITS == 0):
            raise ValueError(f"depth must be a multiple of {LEVEL_BITS} in 3..{MAX_TREE_DEPTH}")
        self.depth = depth
        self.levels = depth // LEVEL_BITS
        self.nodes: MutableMapping[NodeKey, int] = nodes if nodes is not None else {}

    def _node(self, level: int, index: int) -> int:
        return self.nodes.get((level, index), zero_hashes()[level])

    @property
    def root(self) -> int:
        return self._node(self.levels, 0)

    def leaf(self, index: int) -> int:
        self._check(index)
        return self._node(0, index)

    def siblings(self, index: int) -> tuple[int, ...]:
        self._check(index)
        return self._siblings(index)

    def _siblings(self, index: int) -> tuple[int, ...]:
        layers = _layers(self.nodes)
        zeros = zero_hashes()
        out = []
        for level in range(self.levels):
            here = index >> (LEVEL_BITS * level)
            first = here & ~(TREE_ARITY - 1)
            zero = zeros[level]
            for child in range(first, first + TREE_ARITY):
                if child == here:
                    continue
                key = (level, child)
                for layer in layers:
                    node = layer.get(key)
                    if node is not None:
                        break
                else:
                    node = zero
                out.append(node)
        return tuple(out)

    def proof(self, index: int) -> MerkleProof:
        return MerkleProof(index, self.leaf(index), self.siblings(index))

    def set_leaf(self, index: int, value: int, siblings: Sequence[int] | None = None) -> None:
        """Write a leaf and its path. `siblings`, if the caller already read them
        (the STF does, for its trace), saves reading them again."""
        self._check(index)
        # No sibling is on the written path, so reading them all first changes nothing.
        if siblings is None:
            siblings = self._siblings(index)
        path = merkle_path(index, value, siblings)
        nodes = self.nodes
        for level, node in enumerate(path):
            # level == levels: the root, (levels, 0)
            nodes[(level, index >> (LEVEL_BITS * level))] = node

    def _check(self, index: int) -> None:
        if not 0 <= index < (1 << self.depth):
            raise IndexError(f"index {index} outside a depth-{self.depth} tree")
