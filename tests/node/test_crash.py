"""kill -9 while the node accepts a stream and produces blocks: nothing acknowledged is lost."""

from __future__ import annotations

import threading
import time

from bitcoinzk.node.rpc.client import L2RpcError, NodeClient
from bitcoinzk.sequencer.mempool import AlreadyKnown
from bitcoinzk.spec.stf import apply_block
from bitcoinzk.spec.types import op_from_json
from tests.spec.helpers import PARAMS, genesis, transfer

from .conftest import NodeProcess, wait_receipts


def test_kill_9_loses_no_acknowledged_transaction(tmp_path, genesis_file):
    # Two senders, interleaved, so blocks hold several accounts' nonces.
    txs = [transfer(1 + (i % 2), 2 - (i % 2), 10, fee=1, nonce=i // 2) for i in range(240)]
    proc = NodeProcess(tmp_path / "node", genesis_file, block_time=0.05)
    client = proc.start()
    acked: list[str] = []
    sent = {"n": 0}
    stop = threading.Event()

    def stream() -> None:
        c = NodeClient(proc.url, timeout=5)
        for tx in txs:
            if stop.is_set():
                return
            try:
                acked.append(c.call("bzk_sendTransaction", tx.to_json())["hash"])
            except (OSError, L2RpcError):
                return  # the node died under us; this tx was never acknowledged
            sent["n"] += 1

    thread = threading.Thread(target=stream)
    thread.start()
    deadline = time.monotonic() + 20
    while sent["n"] < 80 and time.monotonic() < deadline:
        time.sleep(0.01)
    roots_seen = {client.call("bzk_stateRoot")}
    proc.kill9()
    stop.set()
    thread.join(timeout=10)
    assert 0 < len(acked) < len(txs), "the kill must land mid-stream"

    client = proc.start()
    try:
        statuses = {
            h: (client.call("bzk_getTransactionReceipt", h) or {}).get("status") for h in acked
        }
        assert all(s in ("pending", "included") for s in statuses.values()), statuses
        receipts = wait_receipts(client, acked)
        assert all(receipts[h]["status"] == "included" for h in acked)

        # The stream resumes where the acknowledged prefix ended. The kill may land after
        # the node stored the next transaction but before its reply left: that one was
        # accepted without being acknowledged (allowed; losing it would not be), and the
        # node knows it. The stream is sequential, so only the first resent can be it.
        rest: list[str] = []
        for i, tx in enumerate(txs[len(acked) :]):
            try:
                rest.append(client.call("bzk_sendTransaction", tx.to_json())["hash"])
            except L2RpcError as exc:
                assert i == 0 and exc.code == AlreadyKnown.code, (i, exc)
        receipts = wait_receipts(client, rest)
        assert all(r["status"] == "included" for r in receipts.values())

        # Replaying every stored block from genesis, signatures checked, gives the node's roots.
        state = genesis().state()
        head = client.call("bzk_blockNumber")
        roots = set()
        for n in range(1, head + 1):
            block = client.call("bzk_getBlock", n)
            result = apply_block(state, PARAMS, n, [op_from_json(o) for o in block["ops"]])
            assert hex(result.state.root) == block["new_root"]
            assert hex(result.public_input) == block["public_input"]
            state.merge(result.state)
            roots.add(block["new_root"])
        assert hex(state.root) == client.call("bzk_stateRoot")
        roots.add(hex(genesis().state().root))
        assert roots_seen <= roots, "a root served before the kill vanished"
        assert client.call("bzk_getAccount", 1)["nonce"] == 120
    finally:
        proc.stop()
