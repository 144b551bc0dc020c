"""A node never takes another chain's settlement for its own (issue 11, section 4).

Each test performs one attack with a real contract on a real EVM (py-evm, and
anvil where marked) holding real proofs of real blocks, and a real node store:
a settlement.json of another genesis or shape, a verifier of another key, a
contract that outlived the node's database, a contract whose batch n is not the
node's block n (at start and while running), and a batch without a known
settlement transaction.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import groth16py
import pytest

from bitcoinzk.node.pipeline import BatchPipeline
from bitcoinzk.node.server import Node, NodeConfig
from bitcoinzk.procutil import free_port
from bitcoinzk.prover.circuit import circuit_id
from bitcoinzk.sequencer.sequencer import Sequencer, SequencerConfig
from bitcoinzk.sequencer.store import BatchRecord, BatchStatus, Store, StoredBlock
from bitcoinzk.settlement.evm.client import EmbeddedClient, EvmClient, Web3Client
from bitcoinzk.settlement.evm.rollup import DeploymentMismatch, Rollup, deploy
from bitcoinzk.spec.genesis import Genesis
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.stf import BlockResult, apply_block
from bitcoinzk.spec.types import Transfer
from tests.settlement.evm.conftest import ALICE, BOB, PARAMS, SHAPE, Batches, genesis


def _deploy(
    client: EvmClient,
    batches: Batches,
    params: ChainParams = PARAMS,
    genesis_root: int | None = None,
    vk: groth16py.VerifyingKey | None = None,
    commit: int = 0,
) -> Rollup:
    rollup = deploy(
        client,
        batches.vk if vk is None else vk,
        params,
        batches.genesis.root if genesis_root is None else genesis_root,
        circuit=circuit_id(SHAPE),
    )
    for block in batches.blocks[:commit]:
        rollup.commit_batch(block.batch_data, block.new_root, block.proof)
    return rollup


def _data_dir(tmp_path: Path, rpc: str | None, batches: Batches, **kw: object) -> Path:
    """A data directory whose settlement.json names a contract deployed as `kw` says."""
    data = tmp_path / "node"
    data.mkdir()
    client = EmbeddedClient(data / "evm.sqlite") if rpc is None else _anvil_client(rpc)
    rollup = _deploy(client, batches, **kw)  # type: ignore[arg-type]
    rollup.deployment.save(data / "settlement.json")
    client.close()
    return data


def _anvil_client(url: str) -> Web3Client:
    from bitcoinzk.settlement.evm.anvil import DEV_KEYS

    return Web3Client(url, DEV_KEYS[0])


def _open_node(data_dir: Path, gen: Genesis, rpc: str | None = None) -> Node:
    config = NodeConfig(
        data_dir=data_dir,
        port=free_port(),
        verify_workers=1,
        settlement=rpc or "embedded",
        producer_process=False,
        # the `batches` fixture's proofs and contracts use groth16py's dev key; "auto"
        # would pick the native prover's own dev key wherever the extension is built
        prover_backend="groth16py",
    )
    return Node(config, gen)


def _refused(data_dir: Path, gen: Genesis, rpc: str | None = None) -> str:
    with pytest.raises(DeploymentMismatch) as info:
        _open_node(data_dir, gen, rpc)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.fixture(params=["embedded", "anvil"])
def rpc(request: pytest.FixtureRequest) -> str | None:
    return None if request.param == "embedded" else str(request.getfixturevalue("anvil_url"))


def _other_vk(vk: groth16py.VerifyingKey) -> groth16py.VerifyingKey:
    """A well-formed verifying key that is not `vk` (its two IC points swapped)."""
    data = json.loads(vk.to_json())
    data["IC"] = data["IC"][::-1]
    return groth16py.VerifyingKey.from_snarkjs(json.dumps(data))


# --- at start: the deployment is checked against the node's own chain -------------------


def test_settlement_json_of_another_genesis_is_refused(
    tmp_path: Path, batches: Batches, rpc: str | None
) -> None:
    data = _data_dir(tmp_path, rpc, batches)
    message = _refused(data, genesis(alice_balance=4_000_000), rpc)
    assert "genesis root" in message and "another chain" in message
    # the same directory with its own genesis starts
    node = _open_node(data, genesis(), rpc)
    assert node.rollup is not None and node.rollup.batch_count() == 0
    asyncio.run(node.stop())
    node.rollup.client.close()


def test_settlement_json_of_another_shape_is_refused(tmp_path: Path, batches: Batches) -> None:
    data = _data_dir(tmp_path, None, batches, params=replace(PARAMS, block_slots=4))
    assert "shape (slots, records) (4, 1) on the contract, (2, 1) here" in _refused(data, genesis())


def test_settlement_json_of_another_chain_id_and_fee_account_is_refused(
    tmp_path: Path, batches: Batches
) -> None:
    other = replace(PARAMS, chain_id=7, fee_account=3)
    message = _refused(_data_dir(tmp_path, None, batches, params=other), genesis())
    assert "chain id 7 on the contract, 1337 here" in message
    assert "fee account 3 on the contract, 0 here" in message


def test_verifier_of_another_key_is_refused(tmp_path: Path, batches: Batches) -> None:
    data = _data_dir(tmp_path, None, batches, vk=_other_vk(batches.vk))
    assert "is not the one for this node's verifying key" in _refused(data, genesis())


def test_settlement_json_without_its_chain_is_refused(tmp_path: Path, batches: Batches) -> None:
    data = _data_dir(tmp_path, None, batches)
    (data / "evm.sqlite").unlink()  # settlement.json copied without the chain it names
    for extra in ("evm.sqlite-wal", "evm.sqlite-shm"):
        (data / extra).unlink(missing_ok=True)
    assert "there is no contract there" in _refused(data, genesis())


def test_contract_that_outlived_node_sqlite_is_refused(
    tmp_path: Path, batches: Batches, rpc: str | None
) -> None:
    """node.sqlite deleted, settlement.json kept: the contract holds batches the node has not."""
    data = _data_dir(tmp_path, rpc, batches, commit=1)
    assert not (data / "node.sqlite").exists()
    message = _refused(data, genesis(), rpc)
    assert "holds 1 batches but this node has 0 blocks" in message


def test_contract_holding_another_block_n_is_refused(tmp_path: Path, batches: Batches) -> None:
    data = _data_dir(tmp_path, None, batches, commit=1)
    # The node's own block 1 (same genesis, other transactions) is not the contract's batch 1.
    store = Store(data / "node.sqlite")
    sequencer = Sequencer(store, genesis(), SequencerConfig())
    op = Transfer(1, 2, BOB.public_key(), 2_000, 10, 0).signed(ALICE, PARAMS.chain_id)
    assert sequencer.admit([(op, sequencer.tx_hash(op))])[0].error is None
    assert sequencer.produce_block() is not None
    store.close()
    assert "holds another batch 1 than this node's block 1" in _refused(data, genesis())


def test_cli_reports_a_foreign_deployment_in_one_line(tmp_path: Path, batches: Batches) -> None:
    data = _data_dir(tmp_path, None, batches)
    genesis_path = tmp_path / "genesis.json"
    genesis_path.write_text(json.dumps(genesis(alice_balance=4_000_000).to_json()))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bitcoinzk.cli",
            "node",
            "--data-dir",
            str(data),
            "--genesis",
            str(genesis_path),
            "--settlement",
            "embedded",
            "--port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "60"},
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: settlement.json names rollup")
    assert "genesis root" in lines[0]


# --- while running: committed and final only for the contract's copy of this block ------


def _store_block(
    store: Store, number: int, result: BlockResult, status: BatchStatus, **info: object
) -> None:
    block = StoredBlock(
        number,
        result.trace.old_root,
        result.trace.new_root,
        time.time(),
        [],
        result.pubdata.to_bytes(),
        result.public_input,
        0,
    )
    with store.transaction():
        store.insert_block(block)
        store.put_batch(number, status, result.public_input, bytes(256), dict(info))


def _batch(store: Store, number: int) -> BatchRecord:
    batch = store.get_batch(number)
    assert batch is not None
    return batch


@pytest.fixture
def chain(tmp_path: Path, batches: Batches) -> Iterator[tuple[Store, Rollup]]:
    client = EmbeddedClient(tmp_path / "evm.sqlite")
    store = Store(tmp_path / "node.sqlite")
    yield store, _deploy(client, batches)
    store.close()
    client.close()


def test_another_batch_n_is_never_taken_for_this_block(
    chain: tuple[Store, Rollup], batches: Batches
) -> None:
    store, rollup = chain
    other = apply_block(
        batches.genesis,
        PARAMS,
        1,
        [Transfer(1, 2, BOB.public_key(), 2_000, 10, 0).signed(ALICE, PARAMS.chain_id)],
    )
    _store_block(store, 1, other, BatchStatus.PROVEN)
    pipeline = BatchPipeline(store, None, rollup)
    pipeline.check_settled_chain()  # the contract holds nothing yet: nothing to refuse
    # Someone else's batch 1 lands before ours (the contract counts 1 now).
    b1 = batches.blocks[0]
    rollup.commit_batch(b1.batch_data, b1.new_root, b1.proof)
    asyncio.run(pipeline.commit([1]))
    batch = _batch(store, 1)
    assert batch.status == BatchStatus.FAILED
    assert "the contract's batch 1 is another block" in batch.info["error"]
    # A block built on our block 1 is not sent to fail as "invalid proof": its old root is
    # not the contract's root, and that is what the node says.
    b2 = apply_block(
        other.state,
        PARAMS,
        2,
        [Transfer(2, 1, ALICE.public_key(), 1_000, 10, 0).signed(BOB, PARAMS.chain_id)],
    )
    _store_block(store, 2, b2, BatchStatus.PROVEN)
    asyncio.run(pipeline.commit([2]))
    batch = _batch(store, 2)
    assert batch.status == BatchStatus.FAILED
    assert "the contract's state root is" in batch.info["error"]
    assert rollup.batch_count() == 1
    with pytest.raises(DeploymentMismatch, match="holds another batch 1"):
        pipeline.check_settled_chain()


def test_a_commit_without_a_settlement_transaction_is_never_final(
    chain: tuple[Store, Rollup], batches: Batches
) -> None:
    store, rollup = chain
    b1 = batches.blocks[0]
    # as the old code recorded it
    _store_block(store, 1, b1.result, BatchStatus.COMMITTED, recovered=True)
    pipeline = BatchPipeline(store, None, rollup)
    assert not asyncio.run(pipeline.finalize(1))
    assert _batch(store, 1).status == BatchStatus.COMMITTED
    # Recorded final before the contract holds it: refused at start.
    store.update_batch(1, BatchStatus.FINAL)
    with pytest.raises(DeploymentMismatch, match="recorded batch 1 as final"):
        pipeline.check_settled_chain()


def test_own_batch_is_adopted_with_its_transaction_then_final(
    chain: tuple[Store, Rollup], batches: Batches
) -> None:
    """A restart after the commit but before recording it: the contract's batch 1 is
    this block, so it is adopted, with the transaction that committed it."""
    store, rollup = chain
    b1 = batches.blocks[0]
    _store_block(store, 1, b1.result, BatchStatus.PROVEN)
    receipt = rollup.commit_batch(b1.batch_data, b1.new_root, b1.proof)
    pipeline = BatchPipeline(store, None, rollup)
    pipeline.check_settled_chain()
    asyncio.run(pipeline.commit([1]))
    batch = _batch(store, 1)
    assert batch.status == BatchStatus.COMMITTED and batch.info["recovered"] is True
    assert batch.info["settlement_tx"] == "0x" + receipt.tx_hash.hex()
    assert asyncio.run(pipeline.finalize(1))
    assert _batch(store, 1).status == BatchStatus.FINAL
    pipeline.check_settled_chain()
