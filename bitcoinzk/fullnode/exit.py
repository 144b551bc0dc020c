"""`bzk exit`: leave a rollup in exodus mode with an account's whole balance.

Everything comes from the settlement chain: the full node's state (rebuilt from the
contract's events and calldata alone, `follower.py`) gives the account's leaf and
Merkle path at the contract's last root, the owner's Layer-2 key signs the exit to a
Bitcoin script, the exit circuit proves both (`bitcoinzk.settlement.evm.exit`), and the claim goes
to the Rollup contract. No sequencer and no large download: the exit key is a small
circuit's (13 MB at depth 24; the deployment's own, checked against the contract's
exit verifier before proving), and the path is read from the node's SQLite without
loading the state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bitcoinzk.crypto.eddsa import PrivateKey, PublicKey
from bitcoinzk.fullnode.server import FullNodeConfig, open_follower
from bitcoinzk.sequencer.store import Store
from bitcoinzk.settlement.evm.exit.circuit import (
    ExitKeys,
    ExitShape,
    compile_exit_verifier,
    exit_key_files,
)
from bitcoinzk.settlement.evm.exit.claim import (
    ExitClaim,
    check_script_pubkey,
    prove_exit,
    sign_exit,
    submit_exit,
)
from bitcoinzk.settlement.evm.rollup import Rollup
from bitcoinzk.spec.genesis import Genesis
from bitcoinzk.spec.params import LEVEL_BITS, TREE_ARITY
from bitcoinzk.spec.tree import MerkleProof, zero_hashes
from bitcoinzk.spec.types import Account


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


class NotInExodus(ExitRefused):
    pass


class AlreadyExited(ExitRefused):
    pass


class WrongKey(ExitRefused):
    pass


class NotSynced(ExitRefused):
    pass


class WrongExitKey(ExitRefused):
    """The local exit key is missing or is not the one the contract's verifier checks."""


def deployment_exit_keys(rollup: Rollup, depth: int, key_dir: Path | None) -> ExitKeys:
    """The exit key here, once it is known to be the deployment's: a proof under any
    other key (a fresh dev setup on this machine) would only be refused on-chain."""
    files = exit_key_files(ExitShape(depth), key_dir)
    where = files.directory.parent.parent
    if not files.exists():
        raise WrongExitKey(
            f"no exit key for tree depth {depth} under {where}: copy the deployment's "
            f"published exit key directory {files.directory.parent.name}/ there (--key-dir)"
        )
    verifier = str(rollup._view("EXIT_VERIFIER"))
    expected = compile_exit_verifier(files.load_verifying_key(), files.circuit_id).runtime
    if rollup.client.code(verifier) != expected:
        raise WrongExitKey(
            f"the exit key under {where} is not the one rollup {rollup.address}'s exit "
            f"verifier {verifier} checks: use the deployment's published exit key (--key-dir)"
        )
    return files


@dataclass(frozen=True)
class ExitResult:
    """A claim the contract recorded: the bridge pays it once on Bitcoin (docs/exit.md)."""

    claim: ExitClaim
    batch: int
    tx_hash: bytes
    gas_used: int
    prove_s: float

    def to_json(self) -> dict[str, Any]:
        return {
            "account": self.claim.account,
            "amount": self.claim.balance,
            "script_pubkey": self.claim.script_pubkey.hex(),
            "batch": self.batch,
            "root": hex(self.claim.root),
            "tx_hash": "0x" + self.tx_hash.hex(),
            "gas_used": self.gas_used,
            "prove_s": round(self.prove_s, 3),
        }


def synced_store(config: FullNodeConfig, genesis: Genesis, rollup: Rollup) -> Store:
    """The data directory's store at the contract's last batch, syncing it first if it
    is behind (or empty: a full node synced on the spot, from the contract alone).

    A store already at the contract's head and root is used as it is: opening a
    follower loads the whole state, most of a minute for 1M accounts."""
    path = config.data_dir / "fullnode.sqlite"
    count, root, _ = rollup.head()
    if path.is_file():
        store = Store(path)
        block = store.get_block(store.head())
        if (
            store.get_meta("da_rollup") == rollup.address
            and store.head() == count
            and block is not None
            and block.new_root == root
        ):
            return store
        store.close()
    follower = open_follower(config, genesis, rollup)
    while follower.sync_once().applied:
        pass
    if follower.head != count:
        follower.store.close()
        raise NotSynced(
            f"the full node reached batch {follower.head}, the contract holds {count}: the "
            f"last batches lack the {follower.confirmations} confirmations asked "
            "(--confirmations), or the chain's data was refused (run `bzk fullnode` to see why)"
        )
    return follower.store


def exit_account(
    store: Store,
    rollup: Rollup,
    depth: int,
    key: PrivateKey,
    script_pubkey: bytes,
    account: int | None = None,
    key_dir: Path | None = None,
) -> ExitResult:
    """Prove `account`'s whole balance at the contract's last root (the wallet key's
    first account if None) and claim it to `script_pubkey`, from `store` (a full node's,
    at the contract's head) and the contract alone."""
    check_script_pubkey(script_pubkey)
    if not rollup.in_exodus():
        raise NotInExodus(
            f"rollup {rollup.address} is not in exodus mode: exits open once anyone calls "
            "activateExodus, after a forced withdrawal missed its deadline (docs/exit.md); "
            "until then, withdraw through the sequencer or force a withdrawal"
        )
    pubkey = key.public_key()
    index = account if account is not None else account_of(store, pubkey)
    if index is None:
        raise UnknownAccount(
            f"no account holds the key {pubkey.hex()} at batch {store.head()}: check "
            "--wallet, or that the full node follows this rollup (--data-dir)"
        )
    if rollup.exited(index):
        raise AlreadyExited(
            f"account {index} has already exited: its claim is recorded on the contract "
            "and the bridge pays it once on Bitcoin"
        )
    witness = read_witness(store, depth, index)
    if witness.leaf.pubkey != pubkey:
        raise WrongKey(
            f"account {index} belongs to the key {witness.leaf.pubkey.hex()}, not the "
            f"wallet's {pubkey.hex()}: pass that account's wallet (--wallet)"
        )
    count, root, _ = rollup.head()
    if (witness.batch, witness.root) != (count, root):
        raise NotSynced(
            f"the full node is at batch {witness.batch}, the contract at batch {count}: "
            "sync it (run `bzk exit` again, or let `bzk fullnode` catch up)"
        )
    keys = deployment_exit_keys(rollup, depth, key_dir)
    chain_id = rollup.deployment.chain_id
    t0 = time.perf_counter()
    signature = sign_exit(key, chain_id, index, script_pubkey)
    claim = prove_exit(
        index,
        witness.leaf,
        witness.path,
        depth,
        script_pubkey,
        chain_id,
        signature,
        keys,
    )
    prove_s = time.perf_counter() - t0
    receipt = submit_exit(rollup, claim)
    return ExitResult(claim, witness.batch, receipt.tx_hash, receipt.gas_used, prove_s)
