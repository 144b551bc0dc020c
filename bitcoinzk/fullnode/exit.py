"""`bzk exit`: leave a rollup in exodus mode with an account's whole balance.

Everything comes from the settlement chain: the full node's state (rebuilt from the
contract's events and calldata alone, `follower.py`) gives the account's leaf and
Merkle path at the contract's last root, the owner's Layer-2 key signs the exit to a
Bitcoin script, the exit circuit proves both (`bitcoinzk.exit`), and the claim goes
to the Rollup contract. No sequencer, no download: the exit key is the project's own
small circuit, and the path is read from the node's SQLite without loading the state.
"""

from __future__ import annotations

from dataclasses import dataclass

from bitcoinzk.crypto.eddsa import PublicKey
from bitcoinzk.l2.params import LEVEL_BITS, TREE_ARITY
from bitcoinzk.l2.store import Store
from bitcoinzk.l2.tree import MerkleProof, zero_hashes
from bitcoinzk.l2.types import Account


class ExitRefused(Exception):
    """An exit that cannot be made as asked; the message says why and what to do."""


class UnknownAccount(ExitRefused):
    pass


class InconsistentData(ExitRefused):
    """The data directory's tree does not hash to its own root (a damaged copy)."""


@dataclass(frozen=True)
class ExitWitness:
    """An account's leaf and Merkle path at the root of batch `batch`."""

    batch: int
    root: int
    account: int
    leaf: Account
    path: MerkleProof


def account_of(store: Store, pubkey: PublicKey) -> int | None:
    """The lowest account index holding `pubkey` (a key may own several)."""
    row = store.db.execute(
        "SELECT MIN(idx) FROM accounts WHERE pubkey=?", (pubkey.hex(),)
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def read_witness(store: Store, depth: int, account: int) -> ExitWitness:
    """`account`'s leaf and path at the store's head, in one read snapshot.

    Reads one account row and, per tree level, the 8 nodes under the path's parent:
    a few dozen rows, whatever the number of accounts (a 1M-account node holds
    over 2M rows; loading them would take most of a minute and gigabytes)."""
    levels = depth // LEVEL_BITS
    zeros = zero_hashes()
    db = store.db
    db.execute("BEGIN")  # one snapshot: a follower writing meanwhile is not seen half way
    try:
        row = db.execute(
            "SELECT pubkey, balance, nonce FROM accounts WHERE idx=?", (account,)
        ).fetchone()
        head = store.head()
        if row is None:
            raise UnknownAccount(f"account {account} does not exist at batch {head}")
        leaf = Account(PublicKey.from_hex(row[0]), int(row[1]), int(row[2]))
        siblings: list[int] = []
        for level in range(levels):
            here = account >> (LEVEL_BITS * level)
            first = here & ~(TREE_ARITY - 1)
            stored = {
                int(i): int(v, 16)
                for i, v in db.execute(
                    "SELECT idx, value FROM nodes WHERE level=? AND idx BETWEEN ? AND ?",
                    (level, first, first + TREE_ARITY - 1),
                )
            }
            siblings += [
                stored.get(child, zeros[level])
                for child in range(first, first + TREE_ARITY)
                if child != here
            ]
        top = db.execute("SELECT value FROM nodes WHERE level=? AND idx=0", (levels,)).fetchone()
    finally:
        db.execute("COMMIT")
    root = zeros[levels] if top is None else int(top[0], 16)
    path = MerkleProof(account, leaf.leaf(), tuple(siblings))
    if path.root() != root:
        raise InconsistentData(
            f"account {account}'s path does not hash to the stored root {hex(root)}: the "
            "data directory is damaged; sync a new one (remove it and run again)"
        )
    return ExitWitness(head, root, account, leaf, path)
