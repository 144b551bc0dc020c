from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bitcoinzk.bitcoin.regtest import RegtestNode
from bitcoinzk.bitcoin.tx import OutPoint, TxOut
from bitcoinzk.bitcoin.wallet import BitcoinWallet
from bitcoinzk.bridge.chain import NodeChain
from bitcoinzk.bridge.deposit import DepositReveal
from bitcoinzk.bridge.fees import FeePolicy
from bitcoinzk.bridge.payout import (
    FinalizedBatch,
    FinalizedDeposit,
    FinalizedWithdrawal,
    PayoutBuilder,
    Signer,
)
from bitcoinzk.bridge.signers import SignerKey, SignerSet
from bitcoinzk.bridge.store import BridgeStore
from bitcoinzk.bridge.sweep import SweepBuilder
from bitcoinzk.bridge.watcher import DepositWatcher
from bitcoinzk.crypto.eddsa import PrivateKey


def l2_key(n: int) -> bytes:
    """A Layer-2 recipient: a real packed BabyJubJub public key."""
    return PrivateKey(bytes([n]) * 32).public_key().to_bytes()


ALICE = l2_key(0xA1)


@dataclass
class RecordingSink:
    """Test double of the Layer-2 sequencer's DepositSink: idempotent per outpoint."""

    credits: dict[tuple[str, int], tuple[bytes, int]] = field(default_factory=dict)
    calls: int = 0

    def credit_deposit(self, recipient: bytes, amount: int, txid: str, vout: int) -> None:
        self.calls += 1
        self.credits.setdefault((txid, vout), (recipient, amount))


@dataclass
class RecordedSettlement:
    """Test double of the settlement layer's finalized batches (the L2 side, not Bitcoin)."""

    batches: list[FinalizedBatch] = field(default_factory=list)
    exits: list[FinalizedWithdrawal] = field(default_factory=list)

    def finalized_batches(self) -> list[FinalizedBatch]:
        return list(self.batches)

    def finalized_exits(self) -> list[FinalizedWithdrawal]:
        return list(self.exits)


@pytest.fixture
def node(tmp_path) -> Iterator[RegtestNode]:
    n = RegtestNode(tmp_path / "node")
    yield n
    n.close()


@pytest.fixture
def wallet(node) -> BitcoinWallet:
    w = BitcoinWallet.from_seed(b"\x09" * 32, lookahead=5)
    node.mine(4, w.new_key().script_pubkey)
    node.mine(100)
    return w


def save_signer_keys(root: Path) -> list[SignerKey]:
    """Three new signer keys, saved where a signer (or a child process) loads them."""
    keys = []
    for i in range(3):
        path = root / f"signer{i}" / "key.json"
        SignerKey.generate().save(path)
        keys.append(SignerKey.load(path))
    return keys


def run_killed_child(module: str, *args: str) -> None:
    """Run `python -m module args` on this checkout; it must end killed by SIGKILL."""
    here = Path(__file__).resolve().parents[2]  # the child imports this checkout
    path = os.pathsep.join([str(here), os.environ.get("PYTHONPATH", "")])
    child = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=here,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr


@pytest.fixture
def signer_keys(tmp_path) -> list[SignerKey]:
    return save_signer_keys(tmp_path)


@pytest.fixture
def signer_set(signer_keys) -> SignerSet:
    return SignerSet.of([k.pubkey for k in signer_keys], threshold=2)


@pytest.fixture
def store(tmp_path) -> Iterator[BridgeStore]:
    s = BridgeStore(tmp_path / "bridge.sqlite")
    yield s
    s.close()


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


SWEEP_MARGIN = 10  # blocks; the tests' 20-block timelocks leave 17 after 3 confirmations


@pytest.fixture
def watcher(node, store, sink, signer_set) -> DepositWatcher:
    return DepositWatcher(node, store, sink, signer_set, confirmations=3, sweep_margin=SWEEP_MARGIN)


@pytest.fixture
def fee(signer_set) -> int:
    """The default fee policy's deposit fee: what a credit keeps back for the sweep."""
    return FeePolicy().deposit_fee(signer_set)


def reveal_for(wallet: BitcoinWallet, recipient: bytes, timelock: int = 20) -> DepositReveal:
    return DepositReveal(recipient, wallet.new_key().internal_key, timelock)


def deposit(node, wallet, spk: bytes, amount: int, mine: int = 1):
    tx = wallet.create_transaction([TxOut(amount, spk)], 2, node)
    node.send_raw_transaction(tx)
    if mine:
        node.mine(mine)
    return tx


def make_signers(
    root: Path, node: RegtestNode, store: BridgeStore, settlement: RecordedSettlement
) -> tuple[SignerSet, list[Signer]]:
    """The three signer processes' state of a child process: keys from `root`, every
    reveal the bridge store knows registered (2-of-3)."""
    keys = [SignerKey.load(root / f"signer{i}" / "key.json") for i in range(3)]
    signer_set = SignerSet.of([k.pubkey for k in keys], threshold=2)
    reveals = []
    for (spk,) in store.db.execute("SELECT spk FROM reveals").fetchall():
        reveal = store.reveal_for(bytes(spk))
        assert reveal is not None
        reveals.append(reveal)
    return signer_set, signer_nodes(keys, signer_set, settlement, node, reveals, root)


def signer_nodes(
    keys: list[SignerKey],
    signer_set: SignerSet,
    settlement: RecordedSettlement,
    node: RegtestNode,
    reveals: list[DepositReveal],
    root: Path,
) -> list[Signer]:
    """A signer for each key, its signed-request log under `root`, every reveal registered."""
    signers = []
    for i, key in enumerate(keys):
        s = Signer(
            key, signer_set, settlement, NodeChain(node), 3, root / f"signer{i}" / "signed.json"
        )
        for r in reveals:
            s.register_reveal(r)
        signers.append(s)
    return signers


def fund_bridge(
    node: RegtestNode,
    wallet: BitcoinWallet,
    watcher: DepositWatcher,
    signer_set: SignerSet,
    signer_keys: list[SignerKey],
    store: BridgeStore,
    root: Path,
    fee: int,
    amounts: tuple[int, ...],
) -> tuple[RecordedSettlement, list[Signer], PayoutBuilder]:
    """Credited deposits of `amounts` to ALICE swept into the bridge's custody
    (confirmed), and three signers reading their own views."""
    settlement = RecordedSettlement()
    reveals = [reveal_for(wallet, ALICE) for _ in amounts]
    credited = []
    for r, amount in zip(reveals, amounts, strict=True):
        watcher.register(r)
        tx = deposit(node, wallet, r.script_pubkey(signer_set), amount, mine=0)
        credited.append(FinalizedDeposit(ALICE, amount - fee, tx.txid, 0))
    node.mine(3)
    assert len(watcher.poll()) == len(amounts)
    signers = signer_nodes(signer_keys, signer_set, settlement, node, reveals, root)
    settlement.batches.append(FinalizedBatch(1, tuple(credited)))
    swept = SweepBuilder(store, signer_set, NodeChain(node)).sweep(
        [OutPoint(d.txid, d.vout) for d in credited], signers
    )
    assert swept is not None
    node.mine(1)
    return settlement, signers, PayoutBuilder(store, signer_set, NodeChain(node))


@pytest.fixture
def bridge(
    node, wallet, watcher, signer_set, signer_keys, store, tmp_path, fee
) -> tuple[RecordedSettlement, list[Signer], PayoutBuilder]:
    """Two credited deposits (0.01 + 0.02 BTC) swept into the bridge's custody (confirmed),
    and three signers reading their own views."""
    return fund_bridge(
        node, wallet, watcher, signer_set, signer_keys, store, tmp_path, fee, (1_000_000, 2_000_000)
    )
