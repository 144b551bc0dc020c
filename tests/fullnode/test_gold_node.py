"""The Gold full node (`GoldNode`): the state from Taproot envelopes on a real regtest chain
(libbitcoinkernel), stored in SQLite, through tampering, confirmations and a Bitcoin reorg."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path

import coincurve
import pytest

from bitcoinzk.bench.fullnode import bench_genesis, transfer_blocks
from bitcoinzk.bitcoin.block import Block
from bitcoinzk.bitcoin.regtest import RegtestNode
from bitcoinzk.bitcoin.rpc_client import BitcoinRPC
from bitcoinzk.bitcoin.rpc_server import RpcServer
from bitcoinzk.bitcoin.wallet import BitcoinWallet
from bitcoinzk.da.gold import GoldBatch, GoldPublisher
from bitcoinzk.fullnode.follower import FollowerError
from bitcoinzk.fullnode.gold import GoldNode, IndexBlocks, open_gold_node
from bitcoinzk.prover.service import verify_proof
from bitcoinzk.sequencer.store import Store
from bitcoinzk.spec.genesis import Genesis
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.pubdata import BlockPubdata, public_input
from tests.bitcoin.conftest import funded, node, wallet
from tests.bitcoin.test_reorg import build_branch
from tests.da.test_gold import gold
from tests.settlement.evm.conftest import PARAMS, Batches, batches, genesis

__all__ = ["batches", "funded", "node", "wallet"]

SEQUENCER = coincurve.PrivateKey(b"\x5e" * 32)
SEQUENCER_KEY = bytes(SEQUENCER.public_key_xonly.format())
FAST = ChainParams(chain_id=9, tree_depth=6, block_slots=8, block_records=1, fee_account=0)


def gold_chain(g: Genesis, blocks: int, fork_at: int = 0) -> list[GoldBatch]:
    """Batches 1..`blocks` of transfers (no proof: the nodes reading them trust the key)."""
    out, root = [], g.state().root
    for n, (data, new_root) in enumerate(transfer_blocks(g, blocks, fork_at=fork_at), 1):
        pubdata = BlockPubdata.from_bytes(data)
        pi = public_input(g.params, n, root, new_root, pubdata)
        out.append(GoldBatch(n, root, new_root, pi, bytes(256), pubdata))
        root = new_root
    return out


def publish_each(node: RegtestNode, publisher: GoldPublisher, chain: list[GoldBatch]) -> None:
    for batch in chain:
        publisher.publish(batch)
        node.mine(1)  # (confirms the wallet's change for the next commit)


def da_rows(node: GoldNode) -> int:
    return int(node.store.db.execute("SELECT COUNT(*) FROM da_batches").fetchone()[0])


def test_from_nothing_to_the_sequencers_root_and_tampered_envelopes_change_nothing(
    funded: tuple[RegtestNode, BitcoinWallet], batches: Batches, tmp_path: Path
) -> None:
    node, wallet = funded
    seq = GoldPublisher(node, wallet, SEQUENCER, PARAMS.chain_id, piece_bytes=100)
    b1, b2 = (gold(pb, n) for n, pb in ((1, batches.blocks[0]), (2, batches.blocks[1])))
    g = genesis()

    checked = open_gold_node(
        tmp_path / "checked", g, node, verify=partial(verify_proof, batches.vk)
    )
    keyed = open_gold_node(
        tmp_path / "keyed", g, IndexBlocks(node.datadir), publisher_key=SEQUENCER_KEY
    )

    # Tampered by the sequencer itself, under its own key: one transfer's amount raised
    # in batch 1's pubdata, the public input recomputed (so only the proof, or the STF
    # replay, can tell), the honest roots and proof kept.
    ops = b1.pubdata.ops()
    ops[0] = replace(ops[0], amount=ops[0].amount + 1)
    forged = BlockPubdata.from_ops(ops)
    pi = public_input(PARAMS, 1, b1.old_root, b1.new_root, forged)
    seq.publish(GoldBatch(1, b1.old_root, b1.new_root, pi, b1.proof, forged))
    node.mine(1)
    for n in (checked, keyed):
        assert n.sync_once().applied == 0
        assert n.head == 0 and n.state.root == g.state().root
        assert n.store.head() == 0 and da_rows(n) == 0
        assert n.store.get_meta("genesis_root") == hex(g.state().root)
    assert any("proof does not verify" in r for r in checked.rejected), checked.rejected
    assert any("the STF refuses it" in r for r in keyed.rejected), keyed.rejected

    seq.publish(b1)
    node.mine(1)
    seq.publish(b2)
    node.mine(1)
    expected = batches.blocks[1].result.state
    for n in (checked, keyed):
        report = n.sync_once()
        assert report.applied == 2 and n.head == 2, (report, n.rejected)
        assert n.state.root == expected.root
        for index in range(4):
            assert n.state.get(index) == expected.get(index)
            assert n.state.proof(index) == expected.proof(index)
        block = n.store.get_block(2)
        assert block is not None and block.pubdata == b2.pubdata.to_bytes()
        n.close()

    # a restart loads the stored state (no rescan needed to know the root)
    again = open_gold_node(tmp_path / "keyed", g, node, publisher_key=SEQUENCER_KEY)
    assert again.head == 2 and again.state.root == expected.root
    assert again.sync_once().applied == 0 and again.head == 2
    again.close()


@pytest.fixture()
def bitcoin_rpc(funded: tuple[RegtestNode, BitcoinWallet]) -> Iterator[BitcoinRPC]:
    """The regtest node behind its bitcoind-compatible JSON-RPC server."""
    with RpcServer(funded[0], port=0) as server:
        yield BitcoinRPC(server.url)


def test_confirmations_then_a_bitcoin_reorg_rolls_back(
    funded: tuple[RegtestNode, BitcoinWallet], bitcoin_rpc: BitcoinRPC, tmp_path: Path
) -> None:
    node, wallet = funded
    g = bench_genesis(FAST, 10)
    chain = gold_chain(g, 3)
    seq = GoldPublisher(node, wallet, SEQUENCER, FAST.chain_id)

    def open_local() -> GoldNode:
        return open_gold_node(
            tmp_path / "local", g, node, publisher_key=SEQUENCER_KEY, confirmations=2
        )

    def open_remote() -> GoldNode:  # through the bitcoind-compatible JSON-RPC
        return open_gold_node(
            tmp_path / "remote", g, bitcoin_rpc, publisher_key=SEQUENCER_KEY, confirmations=2
        )

    local, remote = open_local(), open_remote()
    publish_each(node, seq, chain[:1])
    fork = node.tip_hash()  # the block that carries batch 1
    publish_each(node, seq, chain[1:])
    for n in (local, remote):  # batch 3's block has 1 confirmation of 2
        assert n.sync_once().applied == 2 and n.head == 2
    node.mine(1)
    for n in (local, remote):
        assert n.sync_once().applied == 1 and n.head == 3
        assert n.state.root == chain[2].new_root
    remote.close()  # the reorg happens while this one is down

    # Bitcoin drops the blocks of batches 2 and 3 for a longer empty branch
    build_branch(node, fork, 4, b"gold-reorg")
    remote = open_remote()
    for n in (local, remote):
        report = n.sync_once()
        assert report.rolled_back == 2 and report.applied == 0, report
        assert n.head == 1 and n.state.root == chain[0].new_root
        assert n.store.head() == 1 and da_rows(n) == 1
        assert n.store.get_block(2) is None and n.store.get_batch(2) is None
    local.close()

    # the rolled-back state is what a restart loads; the batches' transactions went back
    # to the mempool, are mined again and followed again
    local = open_local()
    assert local.head == 1 and local.state.root == chain[0].new_root
    node.mine(2)
    for n in (local, remote):
        assert n.sync_once().applied == 2 and n.head == 3
        assert n.state.root == chain[2].new_root
        row = n.store.db.execute("SELECT evm_block FROM da_batches WHERE number=3").fetchone()
        assert row[0] > node.block_height(fork) + 4  # carried by the new branch's blocks
        n.close()


def test_refuses_another_genesis_another_source_and_no_means_to_check(tmp_path: Path) -> None:
    g = bench_genesis(FAST, 2)
    with pytest.raises(FollowerError, match="--verifying-key or --publisher-key"):
        open_gold_node(tmp_path, g, _NoBlocks())
    open_gold_node(tmp_path, g, _NoBlocks(), publisher_key=SEQUENCER_KEY).close()
    with pytest.raises(FollowerError, match="different genesis"):
        open_gold_node(tmp_path, bench_genesis(FAST, 3), _NoBlocks(), publisher_key=SEQUENCER_KEY)
    store = Store(tmp_path / "fullnode.sqlite")
    store.set_meta("da_rollup", "0x5FbDB2315678afecb367f032d93F642f64180aa3")  # Silver's
    store.close()
    with pytest.raises(FollowerError, match="follows 0x5FbDB"):
        open_gold_node(tmp_path, g, _NoBlocks(), publisher_key=SEQUENCER_KEY)


class _NoBlocks:
    """An empty chain: these checks happen before any block is read."""

    def height(self) -> int:
        return -1

    def block_hash(self, height: int) -> str:
        raise IndexError(height)

    def get_block(self, block_hash: str) -> Block:
        raise KeyError(block_hash)
