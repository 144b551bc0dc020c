"""The full node rebuilds the state from the contract's events and calldata alone.

Real batch-circuit proofs of real STF blocks (tests/settlement/evm/conftest.py), a real
Rollup contract on py-evm; every attack below goes through an EVM client that lies
about one thing (the calldata, an event) while the contract itself is honest.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bitcoinzk.da.evm import DataUnavailable
from bitcoinzk.fullnode.follower import Follower, WrongChain, deployment_at
from bitcoinzk.sequencer.store import Store
from bitcoinzk.settlement.evm.client import EmbeddedClient, EvmClient, Log, TxReceipt
from bitcoinzk.settlement.evm.rollup import Rollup, deploy
from bitcoinzk.spec.genesis import Genesis
from tests.settlement.evm.conftest import (  # noqa: F401  (fixtures)
    PARAMS,
    Batches,
    anvil_url,
    batches,
    client,
    genesis,
)


class LyingClient(EvmClient):
    """An honest chain seen through a dishonest RPC endpoint."""

    def __init__(self, inner: EvmClient) -> None:
        self.inner = inner
        self.sender = inner.sender
        self.flip_calldata_byte: int | None = None
        self.flip_log_byte: int | None = None

    def deploy(self, initcode: bytes) -> TxReceipt:
        return self.inner.deploy(initcode)

    def send(self, to: str, data: bytes) -> TxReceipt:
        return self.inner.send(to, data)

    def call(self, to: str, data: bytes) -> bytes:
        return self.inner.call(to, data)

    def code(self, address: str) -> bytes:
        return self.inner.code(address)

    def block_number(self) -> int:
        return self.inner.block_number()

    def receipt(self, tx_hash: bytes) -> TxReceipt | None:
        return self.inner.receipt(tx_hash)

    def transaction_input(self, tx_hash: bytes) -> bytes:
        data = bytearray(self.inner.transaction_input(tx_hash))
        if self.flip_calldata_byte is not None:
            data[self.flip_calldata_byte] ^= 1
        return bytes(data)

    def logs(self, address: str, from_block: int = 0, to_block: int | None = None) -> list[Log]:
        out = self.inner.logs(address, from_block, to_block)
        if self.flip_log_byte is None:
            return out
        flipped = []
        for log in out:
            data = bytearray(log.data)
            if len(data) > self.flip_log_byte:
                data[self.flip_log_byte] ^= 1
            flipped.append(replace(log, data=bytes(data)))
        return flipped

    def block_hash(self, number: int) -> bytes | None:
        return self.inner.block_hash(number)

    def with_key(self, private_key: bytes) -> EvmClient:
        return self.inner.with_key(private_key)


def _chain(
    tmp_path: Path,
    batches: Batches,  # noqa: F811
    commit: int = 2,
    on: EvmClient | None = None,
) -> tuple[EvmClient, Rollup]:
    evm = on if on is not None else EmbeddedClient(tmp_path / "evm.sqlite")
    rollup = deploy(evm, batches.vk, PARAMS, batches.genesis.root)
    for block in batches.blocks[:commit]:
        rollup.commit_batch(block.batch_data, block.new_root, block.proof)
    return evm, rollup


def _follower(
    tmp_path: Path, evm: EvmClient, rollup: Rollup, gen: Genesis | None = None
) -> Follower:
    d = deployment_at(evm, rollup.address, rollup.deployment.deploy_block)
    assert d == rollup.deployment  # every field, the exit verifier and deadline included
    store = Store(tmp_path / "fullnode.sqlite")
    return Follower(store, gen or genesis(), Rollup(evm, d))


def test_started_from_nothing_reaches_the_contracts_root(
    tmp_path: Path,
    batches: Batches,  # noqa: F811
    client: EvmClient,  # noqa: F811  (the fixture: embedded py-evm, then anvil)
) -> None:
    evm, rollup = _chain(tmp_path, batches, on=client)
    follower = _follower(tmp_path, evm, rollup)
    report = follower.sync_once()
    assert report.applied == 2 and follower.head == 2
    expected = batches.blocks[-1].result.state
    assert follower.state.root == rollup.state_root() == expected.root
    for index in (0, 1, 2, 3):
        got = follower.account(index)
        acct = expected.get(index)
        assert got is not None and acct is not None
        assert (got["balance"], got["nonce"]) == (acct.balance, acct.nonce)
        proof = expected.proof(index)
        assert got["siblings"] == [hex(s) for s in proof.siblings]
        assert got["root"] == hex(expected.root)
    # restart: the store alone gives the same state, and a new poll changes nothing
    follower.store.close()
    again = _follower(tmp_path, evm, rollup)
    assert again.head == 2 and again.state.root == expected.root
    assert again.sync_once().applied == 0


@pytest.mark.parametrize("where", ["calldata", "event"])
def test_tampered_data_is_refused_and_nothing_changes(
    tmp_path: Path,
    batches: Batches,  # noqa: F811
    where: str,
) -> None:
    evm, rollup = _chain(tmp_path, batches, commit=1)
    liar = LyingClient(evm)
    follower = _follower(tmp_path, liar, rollup)
    follower.sync_once()
    assert follower.head == 1
    root = follower.state.root
    rollup.commit_batch(
        batches.blocks[1].batch_data, batches.blocks[1].new_root, batches.blocks[1].proof
    )
    calldata = evm.transaction_input(rollup.settlement_tx_of(2)[0])  # type: ignore[index]
    if where == "calldata":
        # a byte of the first chunk of the batch data
        liar.flip_calldata_byte = calldata.index(batches.blocks[1].batch_data) + 6
    else:
        liar.flip_log_byte = 31  # the low byte of the event's first data word
    with pytest.raises(DataUnavailable, match="batch 2") as refused:
        follower.sync_once()
    if where == "calldata":
        assert "calldata does not hash to the committed batch" in str(refused.value)
    assert follower.head == 1 and follower.state.root == root
    assert follower.store.head() == 1
    liar.flip_calldata_byte = liar.flip_log_byte = None
    follower.sync_once()
    assert follower.head == 2 and follower.state.root == rollup.state_root()


def test_another_genesis_is_refused(tmp_path: Path, batches: Batches) -> None:  # noqa: F811
    evm, rollup = _chain(tmp_path, batches, commit=0)
    with pytest.raises(WrongChain, match="genesis root"):
        _follower(tmp_path, evm, rollup, genesis(4_000_000))
