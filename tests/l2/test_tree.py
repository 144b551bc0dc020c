from collections import ChainMap

from hypothesis import given, settings
from hypothesis import strategies as st

from bitcoinzk.crypto.poseidon import poseidon
from bitcoinzk.l2.tree import NodeKey, SparseMerkleTree, compute_root, zero_hashes


def naive_root(depth: int, leaves: dict[int, int]) -> int:
    level = [leaves.get(i, 0) for i in range(2**depth)]
    while len(level) > 1:
        level = [poseidon([level[i], level[i + 1]]) for i in range(0, len(level), 2)]
    return level[0]


def test_empty_tree_root_is_zero_hash():
    assert SparseMerkleTree(5).root == zero_hashes()[5] == naive_root(5, {})


@settings(max_examples=25, deadline=None)
@given(st.dictionaries(st.integers(0, 15), st.integers(1, 2**200), max_size=8))
def test_root_matches_naive_tree_and_proofs_verify(leaves):
    tree = SparseMerkleTree(4)
    for i, v in leaves.items():
        tree.set_leaf(i, v)
    assert tree.root == naive_root(4, leaves)
    for i in range(16):
        proof = tree.proof(i)
        assert proof.leaf == leaves.get(i, 0)
        assert proof.root() == tree.root


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 15), st.integers(0, 2**200)), max_size=10))
def test_forked_writes_match_naive_tree(writes):
    """Writes through two ChainMap forks (as BlockBuilder does) see every layer below."""
    base = SparseMerkleTree(4)
    base.set_leaf(5, 55)
    base.set_leaf(10, 1010)
    mid: ChainMap[NodeKey, int] = ChainMap({}, base.nodes)
    SparseMerkleTree(4, mid).set_leaf(6, 66)
    tree = SparseMerkleTree(4, ChainMap({}, mid))
    leaves = {5: 55, 10: 1010, 6: 66}
    for i, v in writes:
        tree.set_leaf(i, v)
        leaves[i] = v
        assert tree.root == compute_root(i, v, tree.siblings(i))
    assert tree.root == naive_root(4, leaves)
    for i in range(16):
        assert tree.leaf(i) == leaves.get(i, 0)
        assert tree.proof(i).root() == tree.root


def test_wrong_proof_gives_other_root():
    tree = SparseMerkleTree(4)
    tree.set_leaf(3, 42)
    proof = tree.proof(3)
    assert compute_root(3, 43, proof.siblings) != tree.root
    assert compute_root(2, 42, proof.siblings) != tree.root
