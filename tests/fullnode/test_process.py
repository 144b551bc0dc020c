"""`bzk fullnode` as a real process: kill -9 while syncing, restart, same root; the
read-only JSON-RPC and the explorer it serves."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bitcoinzk.bench.fullnode import build_chain
from bitcoinzk.sequencer.store import Store
from bitcoinzk.spec.params import ChainParams
from bitcoinzk.spec.tree import compute_root
from tests.fullnode.process import FullNodeProcess, rpc

PARAMS = ChainParams(chain_id=9, tree_depth=6, block_slots=8, block_records=1, fee_account=0)
BLOCKS = 120


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    directory = tmp_path_factory.mktemp("sequencer")
    _, rollup = build_chain(directory, PARAMS, users=20, blocks=BLOCKS, per_tx=8)
    root = rollup.state_root()
    rollup.client.close()
    return directory, root


@pytest.fixture()
def fullnode(chain: tuple[Path, int], tmp_path: Path) -> Iterator[FullNodeProcess]:
    genesis = chain[0] / "genesis.json"
    node = FullNodeProcess(
        tmp_path / "fullnode", "--evm-data", str(chain[0]), "--genesis", str(genesis)
    )
    yield node
    node.stop()


def test_kill_9_while_syncing_then_resume_reaches_the_same_root(
    chain: tuple[Path, int], fullnode: FullNodeProcess
) -> None:
    fullnode.start()
    while (head := fullnode.head()) == 0:
        time.sleep(0.02)
    fullnode.kill9()
    store = Store(fullnode.data_dir / "fullnode.sqlite")
    killed_at = store.head()
    store.close()
    assert 0 < killed_at < BLOCKS, f"killed at {killed_at} (seen {head}): not mid-sync"
    fullnode.start()
    fullnode.wait_head(BLOCKS)
    assert int(rpc(fullnode.url, "bzk_stateRoot")["result"], 16) == chain[1]


def test_serves_read_only_rpc_and_explorer(
    chain: tuple[Path, int], fullnode: FullNodeProcess
) -> None:
    fullnode.start()
    fullnode.wait_head(BLOCKS)
    url = fullnode.url
    root = int(rpc(url, "bzk_stateRoot")["result"], 16)
    assert root == chain[1]
    total = 0
    for index in range(0, 21):
        acct = rpc(url, "bzk_getAccount", index)["result"]
        assert acct is not None and acct["root"] == hex(root)
        siblings = [int(s, 16) for s in acct["siblings"]]
        assert compute_root(index, int(acct["leaf"], 16), siblings) == root
        total += acct["balance"]
        # what `bzk exit` proves: the same leaf and path, at the batch it belongs to
        witness = rpc(url, "bzk_getExitWitness", index)["result"]
        assert witness["batch"] == BLOCKS and witness["root"] == hex(root)
        assert (witness["leaf"], witness["siblings"]) == (acct["leaf"], acct["siblings"])
    assert rpc(url, "bzk_getExitWitness", 60)["result"] is None
    assert total == 20 * 10_000_000  # transfers and fees move money, never make it
    block = rpc(url, "bzk_getBlock", BLOCKS, True)["result"]
    assert block["number"] == BLOCKS and len(block["ops"]) == PARAMS.block_slots
    batch = rpc(url, "bzk_getBatch", BLOCKS)["result"]
    assert batch["status"] == "final" and batch["settlement_tx"].startswith("0x")
    info = rpc(url, "bzk_chainInfo")["result"]
    assert info["mode"] == "fullnode" and info["head"] == BLOCKS and info["error"] is None
    refused = rpc(url, "bzk_sendTransaction", {"type": "transfer"})
    assert refused["error"]["code"] == -32030
    assert "ReadOnlyNode" in refused["error"]["message"]
    with urllib.request.urlopen(url + "explorer", timeout=30) as page:
        assert page.status == 200 and f"head {BLOCKS}" in page.read().decode()
    with urllib.request.urlopen(url + f"explorer/block/{BLOCKS}", timeout=30) as page:
        assert page.status == 200
