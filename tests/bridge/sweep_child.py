"""A coordinator process that signs and persists a sweep, then is killed with SIGKILL
where it would broadcast it (run by test_sweep.py's kill -9 test, never by pytest)."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from bitcoinzk.bitcoin.regtest import RegtestNode
from bitcoinzk.bitcoin.tx import OutPoint, Tx
from bitcoinzk.bridge.chain import NodeChain
from bitcoinzk.bridge.payout import FinalizedBatch, FinalizedDeposit
from bitcoinzk.bridge.store import BridgeStore
from bitcoinzk.bridge.sweep import SweepBuilder
from tests.bridge.conftest import RecordedSettlement, make_signers


class KilledChain(NodeChain):
    def broadcast(self, tx: Tx) -> str:
        os.kill(os.getpid(), signal.SIGKILL)  # the sweep is persisted, not yet broadcast
        raise AssertionError("unreachable")


def main(root: Path) -> None:
    node = RegtestNode(root / "node")
    store = BridgeStore(root / "bridge.sqlite")
    finals = tuple(
        FinalizedDeposit(bytes.fromhex(d["recipient"]), d["amount"], d["txid"], d["vout"])
        for d in json.loads((root / "finalized.json").read_text())
    )
    settlement = RecordedSettlement([FinalizedBatch(1, finals)])
    signer_set, signers = make_signers(root, node, store, settlement)
    ops = [OutPoint(d.txid, d.vout) for d in finals]
    SweepBuilder(store, signer_set, KilledChain(node)).sweep(ops, signers)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
