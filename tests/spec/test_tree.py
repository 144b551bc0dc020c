from collections import ChainMap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitcoinzk.crypto.poseidon import poseidon
from bitcoinzk.spec.params import LEVEL_BITS, MAX_TREE_DEPTH, TREE_ARITY, ChainParams
from bitcoinzk.spec.tree import NodeKey, SparseMerkleTree, compute_root, zero_hashes


def naive_root(depth: int, leaves: dict[int, int]) -> int:
    """The 8-ary tree built level by level: node = Poseidon of its 8 children."""
    level = [leaves.get(i, 0) for i in range(2**depth)]
    while len(level) > 1:
        level = [poseidon(level[i : i + 8]) for i in range(0, len(level), 8)]
    return level[0]


def naive_siblings(depth: int, leaves: dict[int, int], index: int) -> list[int]:
    """Level k: the parent's 7 other children in child order, flattened."""
    level = [leaves.get(i, 0) for i in range(2**depth)]
    out: list[int] = []
    while len(level) > 1:
        first = index & ~7
        out += [level[c] for c in range(first, first + 8) if c != index]
        level = [poseidon(level[i : i + 8]) for i in range(0, len(level), 8)]
        index >>= 3
    return out


def test_arity_constants():
    assert TREE_ARITY == 2**LEVEL_BITS == 8 and MAX_TREE_DEPTH == 24
    assert ChainParams(tree_depth=24).levels == 8 and ChainParams(tree_depth=3).levels == 1


@pytest.mark.parametrize("depth", [0, 1, 2, 4, 5, 8, 23, 25, 27])
def test_depth_must_be_a_multiple_of_three(depth):
    with pytest.raises(ValueError, match="multiple of 3"):
        ChainParams(tree_depth=depth)
    with pytest.raises(ValueError, match="multiple of 3"):
        SparseMerkleTree(depth)


def test_zero_hashes():
    zs = zero_hashes()
    assert len(zs) == MAX_TREE_DEPTH // 3 + 1 and zs[0] == 0
    for k in range(len(zs) - 1):
        assert zs[k + 1] == poseidon([zs[k]] * 8)


def test_empty_tree_root_is_zero_hash():
    assert SparseMerkleTree(6).root == zero_hashes()[2] == naive_root(6, {})
    assert SparseMerkleTree(24).root == zero_hashes()[8]
    assert SparseMerkleTree(6).siblings(13) == (0,) * 7 + (zero_hashes()[1],) * 7


def test_siblings_layout_and_node_keys():
    """Siblings are flat (7 per level, child order, own position skipped); nodes are
    keyed (level, index >> 3*level) with the root at (levels, 0)."""
    leaves = {i: 1000 + i for i in (0, 3, 9, 13, 17, 63)}
    tree = SparseMerkleTree(6)
    for i, v in leaves.items():
        tree.set_leaf(i, v)
    for i in range(64):
        assert list(tree.siblings(i)) == naive_siblings(6, leaves, i)
    assert tree.siblings(13)[:7] == (0, 9 + 1000, 0, 0, 0, 0, 0)  # children 8..15 minus 13
    assert tree.nodes[(2, 0)] == tree.root == naive_root(6, leaves)
    assert tree.nodes[(1, 1)] == poseidon([leaves.get(i, 0) for i in range(8, 16)])
    assert tree.nodes[(0, 13)] == 1013


@settings(max_examples=25, deadline=None)
@given(st.dictionaries(st.integers(0, 63), st.integers(1, 2**200), max_size=8))
def test_root_matches_naive_tree_and_proofs_verify(leaves):
    tree = SparseMerkleTree(6)
    for i, v in leaves.items():
        tree.set_leaf(i, v)
    assert tree.root == naive_root(6, leaves)
    for i in range(64):
        proof = tree.proof(i)
        assert proof.leaf == leaves.get(i, 0)
        assert len(proof.siblings) == 14
        assert proof.root() == tree.root


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 63), st.integers(0, 2**200)), max_size=10))
def test_forked_writes_match_naive_tree(writes):
    """Writes through two ChainMap forks (as BlockBuilder does) see every layer below."""
    base = SparseMerkleTree(6)
    base.set_leaf(5, 55)
    base.set_leaf(40, 4040)
    mid: ChainMap[NodeKey, int] = ChainMap({}, base.nodes)
    SparseMerkleTree(6, mid).set_leaf(6, 66)
    tree = SparseMerkleTree(6, ChainMap({}, mid))
    leaves = {5: 55, 40: 4040, 6: 66}
    for i, v in writes:
        tree.set_leaf(i, v)
        leaves[i] = v
        assert tree.root == compute_root(i, v, tree.siblings(i))
    assert tree.root == naive_root(6, leaves)
    for i in range(64):
        assert tree.leaf(i) == leaves.get(i, 0)
        assert tree.proof(i).root() == tree.root


def test_depth_24_write_matches_siblings_and_zero_hashes():
    tree = SparseMerkleTree(24)
    index = 0xABCDEF
    tree.set_leaf(index, 42)
    node = 42
    for k in range(8):
        children = [zero_hashes()[k]] * 8
        children[(index >> (3 * k)) & 7] = node
        node = poseidon(children)
    assert tree.root == node
    assert tree.proof(index).root() == node and len(tree.siblings(index)) == 56


def test_wrong_proof_gives_other_root():
    tree = SparseMerkleTree(6)
    tree.set_leaf(3, 42)
    tree.set_leaf(4, 7)
    proof = tree.proof(3)
    assert compute_root(3, 43, proof.siblings) != tree.root
    assert compute_root(2, 42, proof.siblings) != tree.root
    with pytest.raises(IndexError):
        tree.set_leaf(64, 1)
