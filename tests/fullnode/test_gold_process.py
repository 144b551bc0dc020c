"""`bzk fullnode --layer gold` as a real process on an embedded regtest node's data dir
(read beside the running node): kill -9 while syncing, restart, the sequencer's root;
the read-only JSON-RPC and the explorer."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bitcoinzk.bench.fullnode import bench_genesis
from bitcoinzk.bitcoin.regtest import RegtestNode
from bitcoinzk.bitcoin.wallet import BitcoinWallet
from bitcoinzk.da.gold import GoldPublisher
from bitcoinzk.sequencer.store import Store
from bitcoinzk.spec.tree import compute_root
from tests.fullnode.process import FullNodeProcess, rpc
from tests.fullnode.test_gold_node import FAST, SEQUENCER, SEQUENCER_KEY, gold_chain, publish_each

BATCHES = 60
USERS = 10


class Chain:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.node = RegtestNode(directory / "bitcoin")
        wallet = BitcoinWallet.from_seed(b"\x07" * 32, lookahead=5)
        self.node.mine(3, wallet.new_key().script_pubkey)
        self.node.mine(100)
        genesis = bench_genesis(FAST, USERS)
        (directory / "genesis.json").write_text(json.dumps(genesis.to_json()))
        self.batches = gold_chain(genesis, BATCHES)
        publish_each(
            self.node, GoldPublisher(self.node, wallet, SEQUENCER, FAST.chain_id), self.batches
        )
        self.root = self.batches[-1].new_root


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    c = Chain(tmp_path_factory.mktemp("gold-sequencer"))
    yield c
    c.node.close()


@pytest.fixture()
def fullnode(chain: Chain, tmp_path: Path) -> Iterator[FullNodeProcess]:
    node = FullNodeProcess(
        tmp_path / "fullnode",
        "--layer",
        "gold",
        "--bitcoin-data",
        str(chain.directory / "bitcoin"),
        "--publisher-key",
        SEQUENCER_KEY.hex(),
        "--genesis",
        str(chain.directory / "genesis.json"),
    )
    yield node
    node.stop()


def start_gold(fullnode: FullNodeProcess) -> None:
    line = fullnode.start()
    assert "layer=gold" in line, f"not a Gold full node: {line!r}"


def test_kill_9_while_syncing_then_resume_reaches_the_sequencers_root(
    chain: Chain, fullnode: FullNodeProcess
) -> None:
    start_gold(fullnode)
    while (head := fullnode.head()) == 0:
        time.sleep(0.01)
    fullnode.kill9()
    store = Store(fullnode.data_dir / "fullnode.sqlite")
    killed_at = store.head()
    store.close()
    assert 0 < killed_at < BATCHES, f"killed at {killed_at} (seen {head}): not mid-sync"
    start_gold(fullnode)
    fullnode.wait_head(BATCHES)
    assert int(rpc(fullnode.url, "bzk_stateRoot")["result"], 16) == chain.root


def test_serves_read_only_rpc_and_explorer(chain: Chain, fullnode: FullNodeProcess) -> None:
    start_gold(fullnode)
    fullnode.wait_head(BATCHES)
    url = fullnode.url
    root = int(rpc(url, "bzk_stateRoot")["result"], 16)
    assert root == chain.root
    total = 0
    for index in range(USERS + 1):
        acct = rpc(url, "bzk_getAccount", index)["result"]
        siblings = [int(s, 16) for s in acct["siblings"]]
        assert compute_root(index, int(acct["leaf"], 16), siblings) == root
        total += acct["balance"]
    assert total == USERS * 10_000_000  # transfers and fees move money, never make it
    info = rpc(url, "bzk_chainInfo")["result"]
    assert info["mode"] == "fullnode" and info["layer"] == "gold" and info["head"] == BATCHES
    assert info["error"] is None and info["proofs_checked"] is False
    batch = rpc(url, "bzk_getBatch", BATCHES)["result"]
    assert batch["status"] == "final" and batch["source"] == "gold"
    assert batch["bitcoin_block_hash"] == chain.node.block_hash(batch["bitcoin_block"])
    refused = rpc(url, "bzk_sendTransaction", {"type": "transfer"})
    assert refused["error"]["code"] == -32030
    with urllib.request.urlopen(url + "explorer", timeout=30) as page:
        assert page.status == 200 and f"head {BATCHES}" in page.read().decode()
    with urllib.request.urlopen(url + f"explorer/block/{BATCHES}", timeout=30) as page:
        assert page.status == 200
