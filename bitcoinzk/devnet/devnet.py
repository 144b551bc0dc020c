"""The devnet: every component on embedded defaults, in one process.

A regtest Bitcoin chain validated by libbitcoinkernel, a bridge of n signers
with a deposit watcher, and a Layer-2 node that sequences, proves every block
and settles it on an embedded EVM. Deposits are credited from Bitcoin,
withdrawals are paid on Bitcoin once the rollup contract says their batch is
final. Dev keys are derived from names so each run has the same accounts;
they are for local play only and must never hold real BTC.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bitcoinzk.bitcoin.regtest import RegtestNode
from bitcoinzk.bitcoin.remote import RemoteBitcoin
from bitcoinzk.bitcoin.rpc_client import BitcoinRPC
from bitcoinzk.bitcoin.rpc_server import RpcServer
from bitcoinzk.bitcoin.tx import OutPoint
from bitcoinzk.bitcoin.wallet import BitcoinWallet
from bitcoinzk.bridge.chain import BitcoinChain, NodeChain, RpcChain
from bitcoinzk.bridge.deposit import DepositReveal
from bitcoinzk.bridge.fees import FeePolicy
from bitcoinzk.bridge.payout import (
    BatchWithdrawalId,
    PayoutBuilder,
    PayoutError,
    PayoutRefused,
    PayoutResult,
    RefusalLog,
    Signer,
    parse_withdrawal_id,
)
from bitcoinzk.bridge.signers import SignerKey, SignerSet
from bitcoinzk.bridge.silver import SilverSettlementReader
from bitcoinzk.bridge.store import BridgeStore
from bitcoinzk.bridge.sweep import Reserves, SweepBuilder, SweepResult, reserves
from bitcoinzk.bridge.watcher import BlockSource, DepositWatcher
from bitcoinzk.crypto.eddsa import PrivateKey
from bitcoinzk.node.config import Config, ConfigError
from bitcoinzk.node.server import Node
from bitcoinzk.spec.genesis import Genesis
from bitcoinzk.spec.params import ChainParams

log = logging.getLogger(__name__)

DEV_NAMES = ("alice", "bob", "carol", "dave")
DEV_BALANCE = 10_000_000  # 0.1 BTC each (only in the L2-only dev genesis)
HALT_REPORT_S = 60.0  # a halted signer's state is logged this often, not every cycle


def dev_key(name: str) -> PrivateKey:
    return PrivateKey(hashlib.sha256(b"bitcoinzk-devnet-" + name.encode()).digest())


def dev_bitcoin_wallet(name: str) -> BitcoinWallet:
    return BitcoinWallet.from_seed(
        hashlib.sha256(b"bitcoinzk-devnet-btc-" + name.encode()).digest()
    )


def dev_genesis(params: ChainParams, funded: tuple[str, ...] = DEV_NAMES) -> Genesis:
    """Operator (fee account) first, then each funded dev account, in that order.

    Only for trying Layer-2 alone; the full devnet starts empty and BTC
    enters through deposits, as on a production chain."""
    allocations = tuple((dev_key(n).public_key(), DEV_BALANCE) for n in funded)
    return Genesis(params, dev_key("operator").public_key(), allocations)


def open_bitcoin(
    rpc_url: str, data_dir: Path
) -> tuple[RegtestNode | RemoteBitcoin, BlockSource, BitcoinChain]:
    """The one place the devnet picks its Bitcoin: `bitcoin.rpc` (a bitcoind-compatible
    node over JSON-RPC) when set, else the embedded regtest chain in `data_dir`.
    Returns the node the scenario drives, the watcher's block source and the
    signers' and payout builder's chain."""
    if rpc_url:
        rpc = BitcoinRPC(rpc_url)
        return RemoteBitcoin(rpc), rpc, RpcChain(rpc)
    node = RegtestNode(data_dir)
    return node, node, NodeChain(node)


@dataclass
class Devnet:
    config: Config
    data_dir: Path
    btc: RegtestNode | RemoteBitcoin = field(init=False)
    node: Node = field(init=False)
    payouts: list[PayoutResult] = field(default_factory=list)
    sweeps: list[SweepResult] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        cfg = self.config
        self.params = cfg.chain.params()
        if not cfg.settlement.enabled:
            raise ConfigError(
                "settlement.enabled",
                "must be true for `bzk devnet`: its bridge pays only from settled batches",
            )
        # a devnet starts empty (BTC enters by deposits) unless given a genesis file
        self.genesis = cfg.genesis_file() or Genesis(self.params, dev_key("operator").public_key())
        self.params = self.genesis.params
        self.btc, blocks, chain = open_bitcoin(cfg.bitcoin.rpc, self.data_dir / "bitcoin")
        self.blocks = blocks
        self.btc_rpc: RpcServer | None = None
        bridge_dir = self.data_dir / "bridge"
        keys = []
        for i in range(cfg.bridge.signers):
            path = bridge_dir / f"signer{i}" / "key.json"
            if not path.exists():
                SignerKey.generate().save(path)
            keys.append(SignerKey.load(path))
        self.signer_set = SignerSet.of([k.pubkey for k in keys], threshold=cfg.bridge.threshold)
        self.bridge_store = BridgeStore(bridge_dir / "bridge.sqlite")
        self.fees = FeePolicy(cfg.bridge.payout_fee_rate)
        self.node = Node(cfg.node_config(self.data_dir / "l2"), self.genesis)
        self.watcher = DepositWatcher(
            blocks,
            self.bridge_store,
            self.node.sequencer,
            self.signer_set,
            confirmations=cfg.bridge.deposit_confirmations,
            network=self.btc.network,
            sweep_margin=cfg.bridge.sweep_margin,
            fees=self.fees,
        )
        assert self.node.rollup is not None
        self.settlement = SilverSettlementReader(self.node.rollup, self.params)
        self.signers = [
            Signer(
                key,
                self.signer_set,
                self.settlement,
                chain,
                cfg.bridge.deposit_confirmations,
                bridge_dir / f"signer{i}" / "signed.json",
                fees=self.fees,
            )
            for i, key in enumerate(keys)
        ]
        for reveal in self._reveals():
            for signer in self.signers:
                signer.register_reveal(reveal)
        self.payout_builder = PayoutBuilder(self.bridge_store, self.signer_set, chain, self.fees)
        self.sweeper = SweepBuilder(self.bridge_store, self.signer_set, chain, self.fees)
        self.node.bridge_view = self.bridge_view

        @self.node.rpc.method("bzk_getBridgeFees")
        async def bridge_fees() -> dict[str, object]:
            """What the bridge charges: a deposit is credited its amount less `deposit_fee`,
            a withdrawal is paid its amount less `withdrawal_fee` on Bitcoin."""
            return {
                **self.fees.describe(self.signer_set),
                "sweep_margin": self.watcher.sweep_margin,
                "confirmations": self.watcher.confirmations,
            }

        self._seen_tip: str | None = None
        self.refusals = RefusalLog(HALT_REPORT_S)

    def _reveals(self) -> list[DepositReveal]:
        rows = self.bridge_store.db.execute("SELECT spk FROM reveals").fetchall()
        return [r for (spk,) in rows if (r := self.bridge_store.reveal_for(bytes(spk))) is not None]

    # --- lifecycle ---

    async def start(self, bitcoin_rpc: bool = False) -> None:
        await self.node.start()
        if bitcoin_rpc and self.config.bitcoin.rpc_port and isinstance(self.btc, RegtestNode):
            self.btc_rpc = RpcServer(self.btc, port=self.config.bitcoin.rpc_port)
            self.btc_rpc.register("bzk_getDepositAddress", self.deposit_address_rpc)
            self.btc_rpc.start()
        loop = asyncio.get_running_loop()
        self.tasks.append(loop.create_task(self._bridge_loop()))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.btc_rpc is not None:
            self.btc_rpc.stop()
        await self.node.stop()
        self.bridge_store.close()
        self.btc.close()

    async def _bridge_loop(self) -> None:
        while True:
            try:
                self.watcher.poll()
                self.resume()
                await self.pay_withdrawals()
            except PayoutRefused as e:
                self.refusals.report(self.signers, e)
            except Exception:
                log.exception("bridge step failed")
            await asyncio.sleep(0.3)

    def resume(self) -> None:
        """After a restart, and whenever Bitcoin moves (a reorg may drop our transactions
        back out of blocks): rebroadcast every recorded sweep and payout not confirmed."""
        height = self.blocks.height()
        tip = self.blocks.block_hash(height)
        if tip == self._seen_tip:
            return
        self._seen_tip = tip
        self.sweeper.resume(height)
        self.payout_builder.resume()

    # --- bridge operations ---

    def deposit_address(
        self, recipient: PrivateKey | bytes, refund: BitcoinWallet
    ) -> DepositReveal:
        """Reveal a deposit address committed to a Layer-2 key and tell the signers."""
        raw = recipient.public_key().to_bytes() if isinstance(recipient, PrivateKey) else recipient
        reveal = DepositReveal(
            raw, refund.new_key().internal_key, self.config.bridge.refund_timelock
        )
        self.watcher.register(reveal)
        for signer in self.signers:
            signer.register_reveal(reveal)
        return reveal

    def deposit_address_rpc(self, recipient: object, refund_key: object) -> dict[str, object]:
        """`bzk_getDepositAddress`: bad input is -32602 with its reason (the watcher's)."""
        result = self.watcher.rpc_get_deposit_address(
            recipient, refund_key, self.config.bridge.refund_timelock
        )
        reveal = self.watcher.parse_reveal(
            recipient, refund_key, self.config.bridge.refund_timelock
        )
        for signer in self.signers:
            signer.register_reveal(reveal)
        return result

    def reserves(self) -> Reserves:
        return reserves(self.bridge_store)

    async def pay_withdrawals(self) -> PayoutResult | None:
        """Sweep every finalized deposit into custody, then pay every withdrawal of every
        finalized batch and every final exit claim not paid yet (all signers online)."""
        batches = await self.node.pipeline.run_settlement(self.settlement.finalized_batches)
        final = [OutPoint(d.txid, d.vout) for b in batches for d in b.deposits]
        try:
            sweep = self.sweeper.sweep(final, self.signers) if final else None
        except PayoutRefused as e:  # a signer lags or is halted: payouts may still go out
            self.refusals.report(self.signers, e)
            sweep = None
        if sweep is not None:
            self.sweeps.append(sweep)
        # exodus exit claims (docs/exit.md) are owed like withdrawals, ids `exit:<account>`
        exits = await self.node.pipeline.run_settlement(self.settlement.finalized_exits)
        owed = [w for b in batches for w in b.withdrawals] + exits
        if not owed or not self.payout_builder.unpaid(owed):
            return None
        try:
            result = self.payout_builder.pay(owed, self.signers)
        except PayoutRefused:
            raise
        except PayoutError as e:  # the sweep is not confirmed yet, or reserves too fragmented
            log.info("payout waits: %s", e)
            return None
        if result is not None:
            self.payouts.append(result)
            log.info("paid %d withdrawals in %s", len(result.paid), result.tx.txid)
        return result

    def bridge_view(self) -> dict[str, Any]:
        deposits = []
        for row in self.bridge_store.deposits():
            reveal = self.bridge_store.reveal_for(row.spk)
            confirmations = self.btc.confirmations(row.block_hash) if row.block_hash else 0
            deposits.append(
                {
                    "txid": row.outpoint.txid,
                    "vout": row.outpoint.vout,
                    "amount": row.amount,
                    "recipient": reveal.recipient.hex() if reveal else None,
                    "confirmations": confirmations,
                    "status": row.status,
                    "sweep_txid": self.bridge_store.sweep_of(row.outpoint),
                }
            )
        withdrawals = []
        for text, amount, spk, payout in self.bridge_store.db.execute(
            "SELECT id, amount, spk, payout_txid FROM withdrawals ORDER BY rowid"
        ):
            wid = parse_withdrawal_id(text)
            lookup = self.btc.get_tx(payout) if payout and payout != "unpayable" else None
            confirmations = 0
            if lookup is not None and lookup.block_hash:
                confirmations = self.btc.confirmations(lookup.block_hash)
            withdrawals.append(
                {
                    "batch": wid.batch if isinstance(wid, BatchWithdrawalId) else None,
                    "id": str(wid),
                    "amount": amount,
                    "script_pubkey": bytes(spk).hex(),
                    "payout_txid": payout,
                    "confirmations": confirmations,
                    "status": "unpayable"
                    if payout == "unpayable"
                    else ("paid" if payout else "owed"),
                }
            )
        return {"deposits": deposits, "withdrawals": withdrawals}
