"""A coordinator process that signs and persists a sweep, then is killed with SIGKILL
where it would broadcast it (run by test_sweep.py's kill -9 test, never by pytest)."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from bitcoinzk.bitcoin.node import RegtestNode
from bitcoinzk.bitcoin.tx import OutPoint, Tx
from bitcoinzk.bridge.chain import NodeChain
from bitcoinzk.bridge.payout import FinalizedBatch, FinalizedDeposit, SignerNode
from bitcoinzk.bridge.signers import SignerKey, SignerSet
from bitcoinzk.bridge.store import BridgeStore
from bitcoinzk.bridge.sweep import SweepBuilder
from tests.bridge.conftest import RecordedSettlement


class KilledChain(NodeChain):
    def broadcast(self, tx: Tx) -> str:
        os.kill(os.getpid(), signal.SIGKILL)  # the sweep is persisted, not yet broadcast
        raise AssertionError("unreachable")


def main(root: Path) -> None:
    node = RegtestNode(root / "node")
    store = BridgeStore(root / "bridge.sqlite")
    keys = [SignerKey.load(root / f"signer{i}" / "key.json") for i in range(3)]
    signer_set = SignerSet.of([k.pubkey for k in keys], threshold=2)
    finals = tuple(
        FinalizedDeposit(bytes.fromhex(d["recipient"]), d["amount"], d["txid"], d["vout"])
        for d in json.loads((root / "finalized.json").read_text())
    )
    settlement = RecordedSettlement([FinalizedBatch(1, finals)])
    spks = [bytes(spk) for (spk,) in store.db.execute("SELECT spk FROM reveals")]
    signers = []
    for i, key in enumerate(keys):
        s = SignerNode(
            key, signer_set, settlement, NodeChain(node), 3, root / f"signer{i}" / "signed.json"
        )
        for spk in spks:
            reveal = store.reveal_for(spk)
            assert reveal is not None
            s.register_reveal(reveal)
        signers.append(s)
    ops = [OutPoint(d.txid, d.vout) for d in finals]
    SweepBuilder(store, signer_set, KilledChain(node)).sweep(ops, signers)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
