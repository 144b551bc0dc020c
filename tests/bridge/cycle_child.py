"""A coordinator process killed with SIGKILL at one step of a sweep or a payout (run by
test_attacks.py's kill -9 test, never by pytest): `signed` (the signatures are made,
nothing recorded), `persisted` (recorded, not broadcast) or `broadcast` (sent, the
process dies before anything else)."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from bitcoinzk.bitcoin.regtest import RegtestNode
from bitcoinzk.bitcoin.tx import OutPoint, Tx
from bitcoinzk.bridge import payout, sweep
from bitcoinzk.bridge.chain import NodeChain
from bitcoinzk.bridge.payout import (
    FinalizedBatch,
    FinalizedDeposit,
    FinalizedWithdrawal,
    PayoutBuilder,
    PayoutRequest,
    Signer,
    parse_withdrawal_id,
)
from bitcoinzk.bridge.signers import SignerSet
from bitcoinzk.bridge.store import BridgeStore
from bitcoinzk.bridge.sweep import SweepBuilder
from tests.bridge.conftest import RecordedSettlement, make_signers


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class KilledChain(NodeChain):
    def __init__(self, node: RegtestNode, step: str) -> None:
        super().__init__(node)
        self.step = step

    def broadcast(self, tx: Tx) -> str:
        if self.step == "persisted":
            die()
        txid = super().broadcast(tx)
        die()
        return txid


def load_batches(root: Path) -> list[FinalizedBatch]:
    d = json.loads((root / "finalized.json").read_text())
    deposits = tuple(
        FinalizedDeposit(bytes.fromhex(x["recipient"]), x["amount"], x["txid"], x["vout"])
        for x in d["deposits"]
    )
    withdrawals = tuple(
        FinalizedWithdrawal(parse_withdrawal_id(x["id"]), x["amount"], bytes.fromhex(x["spk"]))
        for x in d["withdrawals"]
    )
    return [FinalizedBatch(1, deposits), FinalizedBatch(2, (), withdrawals)]


def main(root: Path, kind: str, step: str) -> None:
    node = RegtestNode(root / "node")
    store = BridgeStore(root / "bridge.sqlite")
    batches = load_batches(root)
    signer_set, signers = make_signers(root, node, store, RecordedSettlement(batches))
    if step == "signed":
        real_sign = payout.sign

        def sign_then_die(s: SignerSet, req: PayoutRequest, nodes: list[Signer]) -> bool:
            real_sign(s, req, nodes)
            die()
            return True

        setattr(sweep if kind == "sweep" else payout, "sign", sign_then_die)  # noqa: B010
    chain = KilledChain(node, step)
    if kind == "sweep":
        ops = [OutPoint(d.txid, d.vout) for d in batches[0].deposits]
        SweepBuilder(store, signer_set, chain).sweep(ops, signers)
    else:
        PayoutBuilder(store, signer_set, chain).pay(list(batches[1].withdrawals), signers)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], sys.argv[3])
