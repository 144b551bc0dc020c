"""`bzk fullnode`: the follower behind the node's read-only JSON-RPC and the explorer.

The methods answer exactly as the sequencer node's do (docs/rpc.md), from the
state the follower rebuilt out of the settlement chain's data; methods that
would change something are refused with `ReadOnlyNode` (-32030), naming where
to send them instead.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import groth16py
from aiohttp import web

from bitcoinzk import httprpc
from bitcoinzk.bitcoin.rpc_client import BitcoinRPC
from bitcoinzk.da.gold import ProofVerifier
from bitcoinzk.fullnode.follower import Follower, StoredFollower, deployment_at
from bitcoinzk.fullnode.gold import BlockSource, GoldNode, IndexBlocks, open_gold_node
from bitcoinzk.node.explorer import pages as explorer
from bitcoinzk.node.pipeline import batch_summary
from bitcoinzk.node.rpc.jsonrpc import Dispatcher, JsonRpcError
from bitcoinzk.node.rpc.params import (
    account_index,
    block_json,
    block_query,
    chain_fields,
    parse_hash,
    parse_number,
)
from bitcoinzk.prover.service import verify_proof
from bitcoinzk.sequencer.mempool import L2Mempool
from bitcoinzk.sequencer.store import Store
from bitcoinzk.settlement.evm.client import EvmClient, open_client
from bitcoinzk.settlement.evm.rollup import Deployment, Rollup
from bitcoinzk.spec.genesis import Genesis
from bitcoinzk.spec.state import State

log = logging.getLogger(__name__)

READ_ONLY = -32030
WRITE_METHODS = ("bzk_sendTransaction",)


@dataclass
class FullNodeConfig:
    data_dir: Path
    rpc_url: str | None = None
    """An EVM JSON-RPC endpoint; None: the embedded chain in `evm_data`."""
    evm_data: Path | None = None
    """A node's data directory holding its embedded chain (`evm.sqlite`, `settlement.json`)."""
    rollup: str | None = None
    """The Rollup's address; default: `settlement.json` in `evm_data`."""
    from_block: int = 0
    """The first EVM block to read events from (the rollup's deployment block)."""
    confirmations: int = 1
    """EVM blocks (Silver) or Bitcoin blocks (Gold) on top of a batch's before it is read."""
    layer: str = "silver"
    """"silver" (the Rollup contract's data) or "gold" (Taproot envelopes on Bitcoin)."""
    bitcoin_rpc: str | None = None
    """Gold: a bitcoind-compatible JSON-RPC URL; None: the embedded node in `bitcoin_data`."""
    bitcoin_data: Path | None = None
    """Gold: an embedded regtest node's data directory (read as a second reader)."""
    verifying_key: Path | None = None
    """Gold: the Groth16 verifying key every batch's proof is checked with."""
    publisher_key: str | None = None
    """Gold: the sequencer's x-only publisher key (hex) envelopes must be signed by."""
    from_height: int = 0
    """Gold: the first Bitcoin block that may hold a batch's envelope."""
    poll_s: float = 1.0
    host: str = "127.0.0.1"
    port: int = 8546
    http: httprpc.HttpLimits = field(default_factory=httprpc.HttpLimits)


def open_rollup(config: FullNodeConfig) -> Rollup:
    """The EVM client and the contract, read off the chain (what it is, not a file)."""
    client: EvmClient
    if config.rpc_url:
        if not config.rollup:
            raise ValueError("--rollup ADDRESS is needed with an EVM JSON-RPC URL")
        client = open_client(config.rpc_url, confirmations=config.confirmations)
        address, from_block = config.rollup, config.from_block
    else:
        if config.evm_data is None:
            raise ValueError("give --rpc-url URL --rollup ADDRESS, or --evm-data DIR")
        chain = config.evm_data / "evm.sqlite"
        if not chain.is_file():
            raise ValueError(f"{chain} does not exist: no embedded chain there")
        client = open_client(None, path=chain, confirmations=config.confirmations)
        address, from_block = config.rollup or "", config.from_block
        saved = config.evm_data / "settlement.json"
        if not address:
            if not saved.is_file():
                client.close()
                raise ValueError(f"no --rollup given and no {saved}")
            d = Deployment.load(saved)
            address, from_block = d.rollup, d.deploy_block
    try:
        return Rollup(client, deployment_at(client, address, from_block))
    except BaseException:
        client.close()
        raise


def open_bitcoin_blocks(config: FullNodeConfig) -> BlockSource:
    """Gold: the Bitcoin chain, as the rest of the code reaches it (`devnet/devnet.py`)."""
    if config.bitcoin_rpc:
        return BitcoinRPC(config.bitcoin_rpc)
    if config.bitcoin_data is None:
        raise ValueError("give --bitcoin-rpc URL or --bitcoin-data DIR (an embedded node's)")
    return IndexBlocks(config.bitcoin_data)


def open_gold(config: FullNodeConfig, genesis: Genesis) -> GoldNode:
    verify: ProofVerifier | None = None
    if config.verifying_key is not None:
        if not config.verifying_key.is_file():
            raise ValueError(f"{config.verifying_key} does not exist (--verifying-key)")
        try:
            vk = groth16py.VerifyingKey.load(str(config.verifying_key))
        except Exception as exc:  # groth16py's own decoding errors
            raise ValueError(f"{config.verifying_key} is not a verifying key: {exc}") from None
        verify = partial(verify_proof, vk)
    key: bytes | None = None
    if config.publisher_key is not None:
        try:
            key = bytes.fromhex(config.publisher_key)
        except ValueError:
            key = b""
        if len(key) != 32:
            raise ValueError("--publisher-key must be a 32-byte x-only public key in hex")
    blocks = open_bitcoin_blocks(config)
    try:
        return open_gold_node(
            config.data_dir,
            genesis,
            blocks,
            verify,
            key,
            config.confirmations,
            config.from_height,
            owns_blocks=True,
        )
    except BaseException:
        if isinstance(blocks, IndexBlocks):
            blocks.close()
        raise


def open_follower(
    config: FullNodeConfig, genesis: Genesis, rollup: Rollup | None = None
) -> Follower:
    """The contract (`open_rollup`, unless given) and the store, wired together."""
    rollup = open_rollup(config) if rollup is None else rollup
    store = Store(config.data_dir / "fullnode.sqlite")
    try:
        return Follower(store, genesis, rollup, config.confirmations)
    except BaseException:
        store.close()
        rollup.client.close()
        raise


class _ChainView:
    """What the explorer reads of a sequencer, served by the follower (never any mempool)."""

    def __init__(self, follower: StoredFollower) -> None:
        self.follower = follower
        self.mempool = L2Mempool(follower.params)
        self.deposits: dict[bytes, Any] = {}

    @property
    def head(self) -> int:
        return self.follower.head

    @property
    def state(self) -> State:
        return self.follower.state


class FullNode:
    def __init__(self, config: FullNodeConfig, follower: StoredFollower) -> None:
        self.config = config
        self.follower = follower
        self.genesis = follower.genesis
        self.params = follower.params
        self.store = follower.store
        # what the explorer reads of a node
        self.sequencer = _ChainView(follower)
        self.prover = None
        self.bridge_view = None
        self.bitcoin_explorer_url: str | None = None
        self.rpc = Dispatcher(config.http)
        self._register()
        self.runner: web.AppRunner | None = None
        self.task: asyncio.Task[None] | None = None
        self.synced = asyncio.Event()

    def proving_backlog(self) -> int:
        return 0

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.config.port}/"

    async def start(self) -> None:
        app = httprpc.application(self.config.http)
        app.router.add_post("/", self.rpc.handle_http)
        app.router.add_get("/health", self._health)
        explorer.setup(app, self)
        self.runner = httprpc.runner(app, self.config.http)
        await self.runner.setup()
        await web.TCPSite(self.runner, self.config.host, self.config.port).start()
        self.task = asyncio.get_running_loop().create_task(self._follow())

    async def stop(self) -> None:
        self.follower.stopping.set()
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except (asyncio.CancelledError, Exception):
                pass
        # a cancelled task leaves its sync thread running: let it end (at the next batch)
        await asyncio.to_thread(self.follower.busy.acquire)
        if self.runner is not None:
            await self.runner.cleanup()
        self.follower.close()

    async def _follow(self) -> None:
        while True:
            try:
                report = await asyncio.to_thread(self.follower.sync_once)
                self.follower.last_error = None
                if report.applied or report.rolled_back:
                    log.info(
                        "followed to batch %d (+%d, rolled back %d)",
                        report.head,
                        report.applied,
                        report.rolled_back,
                    )
                self.synced.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # refused data or an unreachable chain: say so, retry
                message = f"{type(exc).__name__}: {exc}"
                if message != self.follower.last_error:
                    log.error("not following: %s", message)
                self.follower.last_error = message
            await asyncio.sleep(self.config.poll_s)

    async def _health(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {"ok": self.follower.last_error is None, "head": self.follower.head}
        )

    def _register(self) -> None:
        """The method table: RPC name -> the method below that answers it."""
        self.rpc.methods.update(
            {
                **{name: self.refuse_write for name in WRITE_METHODS},
                "bzk_getTransactionReceipt": self.get_receipt,
                "bzk_getAccount": self.get_account,
                "bzk_getExitWitness": self.get_exit_witness,
                "bzk_getBlock": self.get_block,
                "bzk_blockNumber": self.block_number,
                "bzk_stateRoot": self.state_root,
                "bzk_chainInfo": self.chain_info,
                "bzk_getBatch": self.get_batch,
            }
        )

    async def refuse_write(self, *args: Any, **kwargs: Any) -> None:
        raise JsonRpcError(
            READ_ONLY,
            "ReadOnlyNode: a full node rebuilds the state from the settlement "
            "chain and accepts no transactions; send them to the sequencer",
        )

    async def get_receipt(self, tx_hash: Any) -> dict[str, Any] | None:
        with self.follower.lock:
            receipt = self.store.get_receipt(parse_hash(tx_hash))
        return None if receipt is None else receipt.to_json()

    async def get_account(self, account: Any) -> dict[str, Any] | None:
        index = self._account_index(account)
        return None if index is None else self.follower.account(index)

    async def get_exit_witness(self, account: Any) -> dict[str, Any] | None:
        index = self._account_index(account)
        return None if index is None else self.follower.exit_witness(index)

    async def get_block(self, number: Any = "latest", full: Any = True) -> dict[str, Any] | None:
        number, full = block_query(number, full, self.follower.head)
        with self.follower.lock:
            block = self.store.get_block(number)
        return None if block is None else block_json(block, full)

    async def block_number(self) -> int:
        return self.follower.head

    async def state_root(self) -> str:
        with self.follower.lock:
            return hex(self.follower.state.root)

    async def chain_info(self) -> dict[str, Any]:
        with self.follower.lock:
            return {
                **chain_fields(self.params, self.genesis, self.store),
                "head": self.follower.head,
                "state_root": hex(self.follower.state.root),
                "accounts": self.follower.state.num_accounts,
                "mode": "fullnode",
                **self.follower.info(),
                "synced_at": self.follower.synced_at,
                "error": self.follower.last_error,
            }

    async def get_batch(self, number: Any) -> dict[str, Any] | None:
        with self.follower.lock:
            return batch_summary(self.store, parse_number(number, "number"))

    def _account_index(self, account: Any) -> int | None:
        return account_index(account, self.params.capacity, self.follower.index_of)


async def serve(config: FullNodeConfig, genesis: Genesis) -> None:
    """Follow and serve until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    follower: StoredFollower
    if config.layer == "gold":
        follower = await asyncio.to_thread(open_gold, config, genesis)
        source = "layer=gold"
    else:
        silver = await asyncio.to_thread(open_follower, config, genesis)
        follower, source = silver, f"rollup={silver.rollup.address}"
    node = FullNode(config, follower)
    try:
        await node.start()
        print(
            f"bzk fullnode listening on {node.url} {source} head={follower.head}",
            flush=True,
        )
        await stop.wait()
    finally:
        await node.stop()


__all__ = ["FullNode", "FullNodeConfig", "open_follower", "open_gold", "serve"]
