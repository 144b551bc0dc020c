"""`bzk exit`'s reading side: an account's leaf and Merkle path straight from a full
node's SQLite, equal to what the follower's in-memory tree proves, at the contract's root."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_utils.address import to_checksum_address
from typer.testing import CliRunner

from bitcoinzk.bench.fullnode import (
    bench_genesis,
    build_chain,
    commit_all,
    deploy_accepting,
    transfer_blocks,
    user_key,
)
from bitcoinzk.bitcoin.script import address_from_script
from bitcoinzk.cli import app
from bitcoinzk.fullnode.exit import (
    InconsistentData,
    UnknownAccount,
    WrongExitKey,
    WrongKey,
    account_of,
    exit_account,
    read_witness,
    synced_store,
)
from bitcoinzk.fullnode.server import FullNodeConfig, open_follower
from bitcoinzk.node.wallet import L2Wallet
from bitcoinzk.sequencer.store import Store
from bitcoinzk.settlement.evm.anvil import DEV_KEYS, _rpc
from bitcoinzk.settlement.evm.client import Web3Client
from bitcoinzk.settlement.evm.exit.circuit import ExitShape, ensure_exit_keys
from bitcoinzk.settlement.evm.rollup import Rollup
from bitcoinzk.spec.genesis import Genesis
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.types import ForcedWithdraw, Withdraw
from tests.settlement.evm.conftest import running_anvil

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


SPK = bytes.fromhex("0014") + bytes(range(20))


def _in_exodus(chain: Path) -> tuple[Genesis, Rollup]:
    """The bench chain (3 batches) in exodus: user 1's forced withdrawal went unprocessed."""
    genesis, rollup = build_chain(chain, PARAMS, users=20, blocks=3, per_tx=2)
    follower = open_follower(FullNodeConfig(chain / "fn", evm_data=chain), genesis, rollup)
    follower.sync_once()
    alice = follower.state.get(1)
    follower.store.close()
    assert alice is not None
    signed = Withdraw(1, SPK, 5_000, 1, alice.nonce).signed(user_key(1), PARAMS.chain_id)
    assert signed.signature is not None
    forced = rollup.force_withdraw(
        ForcedWithdraw(0, 1, SPK, 5_000, 1, alice.nonce, signed.signature)
    )
    rollup.client.chain.env.evm.patch.timestamp = forced.deadline + 1  # type: ignore[attr-defined]
    rollup.activate_exodus()
    return genesis, rollup


def test_exits_under_another_key_or_exit_key_are_refused_before_any_gas(tmp_path: Path) -> None:
    genesis, rollup = _in_exodus(tmp_path / "chain")
    config = FullNodeConfig(tmp_path / "fn", evm_data=tmp_path / "chain")
    store = synced_store(config, genesis, rollup)
    height = rollup.client.block_number()
    try:
        # someone else's account: the leaf's key is not the wallet's
        with pytest.raises(WrongKey, match="account 2 belongs to the key"):
            exit_account(store, rollup, PARAMS.tree_depth, user_key(1), SPK, account=2)
        # no exit key here; a key of this machine's own setup, not the deployment's
        with pytest.raises(WrongExitKey, match="no exit key for tree depth 6"):
            exit_account(store, rollup, PARAMS.tree_depth, user_key(1), SPK, key_dir=tmp_path)
        ensure_exit_keys(ExitShape(PARAMS.tree_depth), tmp_path / "mine")
        with pytest.raises(WrongExitKey, match="is not the one"):
            exit_account(
                store, rollup, PARAMS.tree_depth, user_key(1), SPK, key_dir=tmp_path / "mine"
            )
        assert rollup.client.block_number() == height and not rollup.exited(1)
    finally:
        store.close()
        rollup.client.close()


def test_bzk_exit_claims_the_balance_once_from_a_full_node_it_syncs_itself(
    tmp_path: Path,
) -> None:
    """`bzk exit` on an empty data dir: it follows the contract to its last batch, proves,
    claims; a second run says the account has exited, in one line."""
    genesis, rollup = _in_exodus(tmp_path / "chain")
    rollup.client.close()  # the command opens the chain itself
    (tmp_path / "genesis.json").write_text(json.dumps(genesis.to_json()))
    wallet = tmp_path / "user3.json"
    L2Wallet(user_key(3)).save(wallet)
    address = address_from_script(SPK, "regtest")
    assert address is not None
    args = ["exit", "--wallet", str(wallet), "--json"]
    args += ["--evm-data", str(tmp_path / "chain"), "--data-dir", str(tmp_path / "fn")]
    args += ["--genesis", str(tmp_path / "genesis.json")]
    # where to be paid: exactly one of an address and a script
    for where in ([], ["--address", address, "--script-pubkey", SPK.hex()]):
        refused = CliRunner().invoke(app, [*args, *where])
        assert refused.exit_code == 1 and "give where to be paid" in refused.output
    bad = CliRunner().invoke(app, [*args, "--address", address, "--network", "main"])
    assert bad.exit_code == 1 and "not a payable Bitcoin destination" in bad.output
    result = CliRunner().invoke(app, [*args, "--address", address])
    assert result.exit_code == 0, result.output
    claim = json.loads(result.output.strip().splitlines()[-1])
    assert claim["script_pubkey"] == SPK.hex()
    store = Store(tmp_path / "fn" / "fullnode.sqlite")
    (balance,) = store.db.execute("SELECT balance FROM accounts WHERE idx=3").fetchone()
    store.close()
    assert (claim["account"], claim["amount"], claim["batch"]) == (3, balance, 3)
    again = CliRunner().invoke(app, [*args, "--script-pubkey", SPK.hex()])
    assert again.exit_code == 1 and "Traceback" not in again.output
    assert "error: account 3 has already exited" in again.output


def test_bzk_exit_against_an_evm_json_rpc_node_with_its_own_gas_key(tmp_path: Path) -> None:
    """`--rpc-url` + `--rollup` (anvil) and `--evm-key`: the claim is paid for by that key,
    not by the sequencer's or a default one."""
    with running_anvil() as chain:
        sequencer = Web3Client(chain.url, DEV_KEYS[0])
        genesis = bench_genesis(PARAMS, 20)
        rollup = deploy_accepting(sequencer, PARAMS, genesis.state().root)
        blocks = transfer_blocks(genesis, 2)
        commit_all(rollup, blocks)
        signed = Withdraw(4, SPK, 5_000, 1, 0).signed(user_key(4), PARAMS.chain_id)
        assert signed.signature is not None
        # a nonce the batches already used: the request is still queued (and rejected by a
        # batch, were there one); unprocessed, it opens exodus all the same
        rollup.force_withdraw(ForcedWithdraw(0, 4, SPK, 5_000, 1, 0, signed.signature))
        _rpc(chain.url, "evm_increaseTime", [rollup.deployment.forced_deadline + 1])
        _rpc(chain.url, "evm_mine", [])
        rollup.activate_exodus()
        (tmp_path / "genesis.json").write_text(json.dumps(genesis.to_json()))
        wallet = tmp_path / "user5.json"
        L2Wallet(user_key(5)).save(wallet)
        payer = Web3Client(chain.url, DEV_KEYS[1])
        balance_before = payer.w3.eth.get_balance(to_checksum_address(payer.sender))
        args = ["exit", "--wallet", str(wallet), "--script-pubkey", SPK.hex(), "--json"]
        args += ["--rpc-url", chain.url, "--rollup", rollup.address]
        args += ["--from-block", str(rollup.deployment.deploy_block)]
        args += ["--evm-key", DEV_KEYS[1].hex(), "--data-dir", str(tmp_path / "fn")]
        args += ["--genesis", str(tmp_path / "genesis.json")]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        claim = json.loads(result.output.strip().splitlines()[-1])
        assert (claim["account"], claim["batch"]) == (5, 2) and rollup.exited(5)
        assert (
            payer.w3.eth.get_balance(to_checksum_address(payer.sender)) < balance_before
        )  # it paid the gas
