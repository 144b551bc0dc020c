"""`bzk exit`'s reading side: an account's leaf and Merkle path straight from a full
node's SQLite, equal to what the follower's in-memory tree proves, at the contract's root."""

from __future__ import annotations

from pathlib import Path

import pytest

from bitcoinzk.fullnode.bench import build_chain, user_key
from bitcoinzk.fullnode.exit import InconsistentData, UnknownAccount, account_of, read_witness
from bitcoinzk.fullnode.server import FullNodeConfig, open_follower
from bitcoinzk.l2.params import ChainParams

PARAMS = ChainParams(chain_id=7, tree_depth=6, block_slots=8, block_records=1, fee_account=0)


def test_the_witness_read_from_the_store_is_the_followers_proof_at_the_contracts_root(
    tmp_path: Path,
) -> None:
    genesis, rollup = build_chain(tmp_path / "seq", PARAMS, users=20, blocks=3, per_tx=2)
    follower = open_follower(FullNodeConfig(tmp_path / "fn", evm_data=tmp_path / "seq"), genesis)
    try:
        assert follower.sync_once().applied == 3
        store = follower.store
        for index in follower.state.accounts:
            witness = read_witness(store, PARAMS.tree_depth, index)
            assert witness.path == follower.state.proof(index)
            assert witness.leaf == follower.state.get(index)
            assert (witness.batch, witness.root) == (3, rollup.state_root())
        assert account_of(store, user_key(5).public_key()) == follower.index_of(
            user_key(5).public_key()
        )
        assert account_of(store, user_key(99).public_key()) is None
        with pytest.raises(UnknownAccount, match="account 60 does not exist at batch 3"):
            read_witness(store, PARAMS.tree_depth, 60)
        # a damaged copy (one sibling on the path changed) is refused, not proven from
        store.db.execute("UPDATE nodes SET value='0x1' WHERE level=0 AND idx=2")
        with pytest.raises(InconsistentData, match="damaged"):
            read_witness(store, PARAMS.tree_depth, 3)
    finally:
        follower.store.close()
        follower.client.close()
