"""Layer-2 state: the accounts, their tree, and copy-on-write forks.

The STF never mutates the state it is given: it works on a `fork()` and the
caller `merge()`s the fork back only if the whole block was valid.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import MutableMapping, Sequence

from bitcoinzk.crypto.eddsa import PublicKey
from bitcoinzk.spec.tree import MerkleProof, NodeKey, SparseMerkleTree
from bitcoinzk.spec.types import Account


class State:
    def __init__(
        self,
        depth: int,
        accounts: MutableMapping[int, Account] | None = None,
        nodes: MutableMapping[NodeKey, int] | None = None,
        by_pubkey: MutableMapping[PublicKey, int] | None = None,
    ) -> None:
        self.depth = depth
        self.accounts: MutableMapping[int, Account] = accounts if accounts is not None else {}
        self.tree = SparseMerkleTree(depth, nodes)
        # Sequencer-side lookup (a pubkey's first account); not part of the STF rules.
        self.by_pubkey: MutableMapping[PublicKey, int] = by_pubkey if by_pubkey is not None else {}

    @property
    def root(self) -> int:
        return self.tree.root

    @property
    def num_accounts(self) -> int:
        return len(self.accounts)

    def get(self, index: int) -> Account | None:
        return self.accounts.get(index)

    def put(self, index: int, account: Account, siblings: Sequence[int] | None = None) -> None:
        self.accounts[index] = account
        self.by_pubkey.setdefault(account.pubkey, index)
        self.tree.set_leaf(index, account.leaf(), siblings)

    def index_of(self, pubkey: PublicKey) -> int | None:
        return self.by_pubkey.get(pubkey)

    def next_free_index(self) -> int:
        """Accounts are appended, so the next free leaf is the count (plus any gaps' end)."""
        index = len(self.accounts)
        while index in self.accounts:
            index += 1
        return index

    def proof(self, index: int) -> MerkleProof:
        return self.tree.proof(index)

    def fork(self) -> State:
        return State(
            self.depth,
            ChainMap({}, self.accounts),
            ChainMap({}, self.tree.nodes),
            ChainMap({}, self.by_pubkey),
        )

    def merge(self, child: State) -> None:
        """Adopt a fork's writes (the fork must have been made from this state)."""
        assert isinstance(child.accounts, ChainMap) and isinstance(child.tree.nodes, ChainMap)
        assert isinstance(child.by_pubkey, ChainMap)
        self.accounts.update(child.accounts.maps[0])
        self.tree.nodes.update(child.tree.nodes.maps[0])
        self.by_pubkey.update(child.by_pubkey.maps[0])

    def adopt(self, accounts: dict[int, Account], nodes: dict[NodeKey, int]) -> None:
        """Take over writes computed elsewhere (a fork here, or another process)."""
        self.accounts.update(accounts)
        for index, account in accounts.items():
            self.by_pubkey.setdefault(account.pubkey, index)
        self.tree.nodes.update(nodes)

    def changes(self) -> tuple[dict[int, Account], dict[NodeKey, int]]:
        """A fork's own writes, for the store."""
        assert isinstance(self.accounts, ChainMap) and isinstance(self.tree.nodes, ChainMap)
        return dict(self.accounts.maps[0]), dict(self.tree.nodes.maps[0])
