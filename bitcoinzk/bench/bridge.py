"""`bzk bench bridge`: sizes of deposits and payouts, and embedded-node throughput.

Figures, not pass/fail.  Everything runs on a throwaway regtest node; every
block and every transaction is validated by libbitcoinkernel as usual.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from ..bitcoin.regtest import RegtestNode
from ..bitcoin.script import BURN_SCRIPT
from ..bitcoin.tx import OutPoint, Tx, TxIn, TxOut
from ..bitcoin.wallet import BitcoinWallet, TaprootKey, sign_keypath
from ..bridge.chain import NodeChain
from ..bridge.deposit import DepositReveal
from ..bridge.payout import (
    BatchWithdrawalId,
    FinalizedBatch,
    FinalizedDeposit,
    FinalizedWithdrawal,
    PayoutBuilder,
    Signer,
)
from ..bridge.signers import SignerKey, SignerSet
from ..bridge.store import BridgeStore
from ..bridge.sweep import SweepBuilder
from ..bridge.watcher import DepositWatcher
from ..crypto.eddsa import PrivateKey

_RECIPIENT = PrivateKey(b"\x42" * 32).public_key().to_bytes()


class _Sink:
    def credit_deposit(self, recipient: bytes, amount: int, txid: str, vout: int) -> None:
        pass


class _Settlement:
    def __init__(self) -> None:
        self.batches: list[FinalizedBatch] = []

    def finalized_batches(self) -> list[FinalizedBatch]:
        return self.batches

    def finalized_exits(self) -> list[FinalizedWithdrawal]:
        return []


def _fan_out(node: RegtestNode, wallet: BitcoinWallet, key: TaprootKey, n: int, value: int) -> Tx:
    tx = wallet.create_transaction([TxOut(value, key.script_pubkey)] * n, 2, node)
    node.send_raw_transaction(tx)
    return tx


def run(
    spends_per_block: int = 500, blocks: int = 4, signers: int = 3, threshold: int = 2
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        node = RegtestNode(Path(tmp) / "node")
        wallet = BitcoinWallet.from_seed(b"bench" * 8, lookahead=3)
        node.mine(blocks + 3, wallet.new_key().script_pubkey)
        node.mine(100)

        # --- bridge sizes --------------------------------------------------------------
        keys = [SignerKey.generate() for _ in range(signers)]
        sset = SignerSet.of([k.pubkey for k in keys], threshold)
        store = BridgeStore(Path(tmp) / "bridge.sqlite")
        watcher = DepositWatcher(node, store, _Sink(), sset, confirmations=1)
        reveal = DepositReveal(_RECIPIENT, wallet.new_key().internal_key, 144)
        watcher.register(reveal)
        dep = wallet.create_transaction([TxOut(40 * 10**8, reveal.script_pubkey(sset))], 2, node)
        node.send_raw_transaction(dep)
        node.mine(1)
        [credit] = watcher.poll()
        out["deposit_vbytes"] = dep.vsize
        settlement = _Settlement()
        settlement.batches.append(
            FinalizedBatch(1, (FinalizedDeposit(_RECIPIENT, credit.amount, dep.txid, 0),))
        )
        nodes = [Signer(k, sset, settlement, NodeChain(node), 1) for k in keys]
        for s in nodes:
            s.register_reveal(reveal)
        sweep = SweepBuilder(store, sset, NodeChain(node)).sweep([OutPoint(dep.txid, 0)], nodes)
        assert sweep is not None
        out["sweep_vbytes_per_deposit_1"] = sweep.tx.vsize
        node.mine(1)
        many = [DepositReveal(_RECIPIENT, wallet.new_key().internal_key, 144) for _ in range(100)]
        for r in many:
            watcher.register(r)
            for s in nodes:
                s.register_reveal(r)
        fan = wallet.create_transaction(
            [TxOut(50_000, r.script_pubkey(sset)) for r in many], 2, node
        )
        node.send_raw_transaction(fan)
        node.mine(1)
        credits = watcher.poll()
        settlement.batches.append(
            FinalizedBatch(
                2, tuple(FinalizedDeposit(c.recipient, c.amount, c.txid, c.vout) for c in credits)
            )
        )
        sweep = SweepBuilder(store, sset, NodeChain(node)).sweep(
            [OutPoint(c.txid, c.vout) for c in credits], nodes
        )
        assert sweep is not None and len(sweep.deposits) == 100
        out["sweep_vbytes_per_deposit_100"] = round(sweep.tx.vsize / 100, 2)
        node.mine(1)
        builder = PayoutBuilder(store, sset, NodeChain(node))
        for n in (1, 10, 100):
            ws = [
                FinalizedWithdrawal(
                    BatchWithdrawalId(2 + n, i), 10_000, wallet.new_key().script_pubkey
                )
                for i in range(n)
            ]
            settlement.batches.append(FinalizedBatch(2 + n, withdrawals=tuple(ws)))
            result = builder.pay(ws, nodes, fee_rate=1)
            assert result is not None
            out[f"payout_vbytes_per_withdrawal_{n}"] = round(result.tx.vsize / n, 2)
            node.mine(1)
        ws = [
            FinalizedWithdrawal(BatchWithdrawalId(999, i), 10_000, wallet.new_key().script_pubkey)
            for i in range(100)
        ]
        settlement.batches.append(FinalizedBatch(999, withdrawals=tuple(ws)))
        result = builder.pay(ws, nodes[:threshold], fee_rate=1)
        assert result is not None
        out["payout_vbytes_per_withdrawal_100_script_path"] = round(result.tx.vsize / 100, 2)
        node.mine(1)
        store.close()

        # --- throughput: blocks of `spends_per_block` Taproot key-path spends ------------
        key = wallet.new_key()
        fans = [_fan_out(node, wallet, key, spends_per_block, 20_000) for _ in range(blocks)]
        node.mine(1)
        spend_sets = []
        for fan in fans:
            txs = []
            for vout in range(spends_per_block):
                tx = Tx(2, [TxIn(OutPoint(fan.txid, vout))], [TxOut(19_000, BURN_SCRIPT)])
                sign_keypath(tx, [fan.vout[vout]], {0: key})
                txs.append(tx)
            spend_sets.append(txs)
        t0 = time.perf_counter()
        for tx in spend_sets[0]:
            node.send_raw_transaction(tx)
        out["mempool_accept_per_s"] = round(spends_per_block / (time.perf_counter() - t0), 1)
        node.mine(1)
        dt = 0.0
        for txs in spend_sets[1:]:
            block = node.build_block(txs)  # building (and PoW) is not timed
            t0 = time.perf_counter()
            if not node.submit_block(block).connected:
                raise RuntimeError("benchmark block rejected")
            dt += time.perf_counter() - t0
        built = spend_sets[1:]
        out["blocks_per_s"] = round(len(built) / dt, 2)
        out["spends_per_block"] = spends_per_block
        out["block_validation_ms"] = round(1000 * dt / len(built), 1)
        node.close()
    return out
