"""Confirmations and EVM reorgs on a real anvil node (evm_snapshot / evm_revert)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bitcoinzk.bench.fullnode import bench_genesis, commit_all, deploy_accepting, transfer_blocks
from bitcoinzk.fullnode.follower import Follower, deployment_at
from bitcoinzk.sequencer.store import Store
from bitcoinzk.settlement.evm.anvil import DEV_KEYS, Anvil, _rpc
from bitcoinzk.settlement.evm.client import Web3Client
from bitcoinzk.settlement.evm.rollup import Rollup
from bitcoinzk.spec.params import ChainParams
from tests.settlement.evm.conftest import running_anvil

PARAMS = ChainParams(chain_id=9, tree_depth=6, block_slots=8, block_records=1, fee_account=0)


@pytest.fixture()
def anvil() -> Iterator[Anvil]:
    with running_anvil() as node:
        yield node


def call(node: Anvil, method: str, *params: Any) -> Any:
    reply = _rpc(node.url, method, list(params))
    assert isinstance(reply, dict) and "error" not in reply, reply
    return reply["result"]


def test_confirmations_then_a_reorg_rolls_back_and_refollows(anvil: Anvil, tmp_path: Path) -> None:
    client = Web3Client(anvil.url, DEV_KEYS[0])
    genesis = bench_genesis(PARAMS, 10)
    rollup = deploy_accepting(client, PARAMS, genesis.state().root)
    chain_a = transfer_blocks(genesis, 3)
    chain_b = transfer_blocks(genesis, 3, fork_at=2)
    assert chain_a[0] == chain_b[0] and chain_a[1] != chain_b[1]

    reader = Web3Client(anvil.url, DEV_KEYS[1], confirmations=3)
    d = deployment_at(reader, rollup.address, rollup.deployment.deploy_block)
    follower = Follower(Store(tmp_path / "fullnode.sqlite"), genesis, Rollup(reader, d), 3)

    commit_all(rollup, chain_a[:1])
    assert follower.sync_once().applied == 0  # 1 confirmation of 3
    call(anvil, "evm_mine")
    assert follower.sync_once().applied == 0
    call(anvil, "evm_mine")
    assert follower.sync_once().applied == 1 and follower.head == 1

    snapshot = call(anvil, "evm_snapshot")
    commit_all(rollup, chain_a[1:], per_tx=1)
    for _ in range(2):
        call(anvil, "evm_mine")
    assert follower.sync_once().applied == 2
    assert follower.state.root == chain_a[2][1] == rollup.state_root()

    # The EVM chain drops blocks 2 and 3 and the sequencer commits another history.
    assert call(anvil, "evm_revert", snapshot) is True
    # The same client goes on: its nonce comes from the chain, not from before the revert.
    commit_all(rollup, chain_b[1:], per_tx=2)
    for _ in range(2):
        call(anvil, "evm_mine")
    report = follower.sync_once()
    assert report.rolled_back == 2 and report.applied == 2, report
    assert follower.head == 3
    assert follower.state.root == chain_b[2][1] == rollup.state_root() != chain_a[2][1]
    stored = follower.store.get_block(2)
    assert stored is not None and stored.pubdata == chain_b[1][0]

    # The rolled-back state is also what a restart loads.
    follower.store.close()
    again = Follower(Store(tmp_path / "fullnode.sqlite"), genesis, Rollup(reader, d), 3)
    assert again.head == 3 and again.state.root == chain_b[2][1]
    again.store.close()
