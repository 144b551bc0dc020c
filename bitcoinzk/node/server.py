"""The Layer-2 node: sequencer + JSON-RPC API over HTTP (aiohttp).

One event loop owns the mempool and the store. Admission is: parse ->
signature check in worker processes -> mempool rules -> fsynced group commit
-> reply. Blocks are built (and their circuit inputs computed) in a producer
process; the loop then stores each block and adopts its state changes, so
storing never races admission. Proving and settlement follow in the batch
pipeline (bitcoinzk/node/pipeline.py).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, cast

import groth16py
from aiohttp import web

from bitcoinzk import httprpc
from bitcoinzk.node.explorer import pages as explorer
from bitcoinzk.node.pipeline import BatchPipeline, batch_summary, final_latency
from bitcoinzk.node.rpc.jsonrpc import Dispatcher, JsonRpcError
from bitcoinzk.node.rpc.params import (
    account_index,
    account_json,
    block_json,
    block_query,
    chain_fields,
    parse_hash,
    parse_number,
)
from bitcoinzk.node.sigverify import BatchVerifier
from bitcoinzk.prover.circuit import CircuitShape, circuit_id
from bitcoinzk.prover.keys import Backend, find_keys
from bitcoinzk.prover.service import Prover, ProverService, WitnessBackend
from bitcoinzk.prover.witness import build_inputs
from bitcoinzk.sequencer.producer import BlockProducer
from bitcoinzk.sequencer.sequencer import Sequencer, SequencerConfig
from bitcoinzk.sequencer.store import Store, StoredBlock
from bitcoinzk.settlement.evm.client import open_client
from bitcoinzk.settlement.evm.contracts import MAX_BATCHES
from bitcoinzk.settlement.evm.rollup import DEFAULT_FORCED_DEADLINE, Deployment, Rollup, deploy
from bitcoinzk.spec.errors import (
    InvalidOperation,
    InvalidSignature,
    UnknownAccount,
)
from bitcoinzk.spec.genesis import Genesis
from bitcoinzk.spec.types import UserOperation, user_op_from_json

log = logging.getLogger(__name__)


class SettlementNeedsKey(Exception):
    """A node without a prover was asked to deploy the rollup contract, whose verifier
    is generated from the proving key's verifying key."""


@dataclass
class NodeConfig:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8545
    sequencer: SequencerConfig = field(default_factory=SequencerConfig)
    verify_workers: int | None = None
    prove: bool = False
    """Prove every block (a prover process with the key in memory)."""
    key_dir: Path | None = None
    witness: WitnessBackend = "auto"
    """Witness backend: "node" (circom2 JIT, compiled once per circuit), "wasmi", "auto"."""
    prove_parallel: int = 1
    """Blocks proven at once, sharing one key (a proof uses one core); per actor on Ray."""
    fleet: str = "local"
    """"local": prover processes on this machine; "ray": actors on a Ray cluster (fleet.py)."""
    ray_address: str = ""
    """fleet "ray": "" starts a Ray instance here; "host:port" or "ray://host:port" joins one."""
    ray_workers: int = 0
    """fleet "ray": prover actors; 0 = one per `bzk_prover` slot (a local instance: 1)."""
    ray_max_restarts: int = -1
    prover_backend: str = "auto"
    """"native" (Rust, every core), "groth16py" (one core a proof), "auto" (native if built)."""
    """fleet "ray": times Ray restarts a crashed prover actor (-1: always)."""
    settlement: str | None = None
    """None: no settlement; "embedded": py-evm in the data dir; else an EVM JSON-RPC URL."""
    evm_key: bytes | None = None
    confirmations: int = 1
    producer_process: bool = True
    """Build blocks in a process of their own (tree hashing off the event loop)."""
    http: httprpc.HttpLimits = field(default_factory=httprpc.HttpLimits)
    """Body, batch and reply sizes; header and body timeouts (slowloris)."""
    max_backlog: int = 32
    """Refuse new transactions while this many blocks (stored without a proof, plus the
    mempool in blocks) wait for the prover; 0: never (no bound: the backlog grows)."""
    commit_max: int = MAX_BATCHES
    """Batches committed in one transaction at most (their proofs checked together)."""
    forced_deadline: int = DEFAULT_FORCED_DEADLINE
    """Seconds a forced withdrawal may wait in the contract's queue (set when this node
    deploys the contract; the contract's own value is what counts)."""
    forced_poll_s: float = 1.0
    """How often the node reads the contract's forced-withdrawal queue."""


class ProvingBacklog(InvalidOperation):
    """The prover is behind by `max_backlog` blocks: new transactions wait their turn."""

    code = -32023


def _app_error(exc: InvalidOperation) -> JsonRpcError:
    return JsonRpcError(exc.code, f"{type(exc).__name__}: {exc}")


class Node:
    def __init__(self, config: NodeConfig, genesis: Genesis, prover: Prover | None = None) -> None:
        """`prover`: one the caller built and started (and will close), e.g. a fleet
        shared by several nodes in a test; by default the node opens its own."""
        self.config = config
        self.genesis = genesis
        self.store = Store(config.data_dir / "node.sqlite")
        self.params = genesis.params
        self._own_prover = prover is None
        if prover is None and config.prove:
            prover = self._open_prover()
        self.prover = prover
        self.rollup: Rollup | None = None
        try:
            self.rollup = self._open_settlement() if config.settlement else None
            witness = partial(build_inputs, params=self.params) if self.prover is not None else None
            self.sequencer = Sequencer(self.store, genesis, config.sequencer, witness)
            self.pipeline = BatchPipeline(
                self.store, self.prover, self.rollup, commit_max=config.commit_max
            )
            if self.rollup is not None:
                self.pipeline.check_settled_chain()
        except BaseException:
            # refused at start (another chain's contract, another genesis): leave no file open
            if self.rollup is not None:
                self.rollup.client.close()
            self.store.close()
            raise
        self.producer = (
            BlockProducer(self.store.path, genesis, witness) if config.producer_process else None
        )
        self.rpc = Dispatcher(config.http)
        self._register()
        self.verifier: BatchVerifier | None = None
        self.runner: web.AppRunner | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.admit_queue: list[tuple[UserOperation, bytes, asyncio.Future[Any]]] = []
        self.admit_event = asyncio.Event()
        self.stats = {"accepted": 0, "rejected": 0, "included": 0, "busy": 0}
        self.bridge_view: Callable[[], dict[str, Any]] | None = None
        """Set by whoever runs the bridge beside this node (the devnet): returns
        {"deposits": [{"txid", "vout", "amount", "recipient", "confirmations",
        "status", "l2_tx"}], "withdrawals": [{"batch", "amount", "script_pubkey",
        "payout_txid", "confirmations", "status"}]} for the explorer."""
        self.bitcoin_explorer_url: str | None = None

    def _backend(self) -> Backend | None:
        backend = self.config.prover_backend
        if backend == "auto":
            return None
        if backend not in ("native", "groth16py"):
            raise ValueError(f"unknown prover backend {backend!r} (native, groth16py, auto)")
        return cast(Backend, backend)

    def _open_prover(self) -> Prover:
        config = self.config
        if config.fleet == "ray":
            from bitcoinzk.prover.fleet import RayProverFleet  # imports Ray only when used

            return RayProverFleet(
                self.params,
                config.key_dir,
                address=config.ray_address,
                workers=config.ray_workers,
                witness=config.witness,
                parallel=config.prove_parallel,
                max_restarts=config.ray_max_restarts,
                backend=self._backend(),
            )
        if config.fleet != "local":
            raise ValueError(f"unknown prover fleet {config.fleet!r} (local or ray)")
        return ProverService(
            self.params,
            config.key_dir,
            witness=config.witness,
            parallel=config.prove_parallel,
            backend=self._backend(),
        )

    def _open_settlement(self) -> Rollup:
        """Connect to the rollup contract, deploying it on first start."""
        assert self.config.settlement is not None
        rpc = None if self.config.settlement == "embedded" else self.config.settlement
        client = open_client(
            rpc, self.config.evm_key, self.config.data_dir / "evm.sqlite", self.config.confirmations
        )
        path = self.config.data_dir / "settlement.json"
        if path.exists():
            rollup = Rollup(client, Deployment.load(path))
            try:
                rollup.check_deployment(
                    self.params, self.genesis.state().root, self._verifying_key(), self._circuit()
                )
            except BaseException:
                client.close()
                raise
            return rollup
        if self.prover is None:
            client.close()
            raise SettlementNeedsKey(
                "deploying the rollup contract needs the prover's verifying key: add --prove, "
                "or deploy it first with `bzk settle deploy` (same --data-dir and shape)"
            )
        rollup = deploy(
            client,
            self.prover.vk,
            self.params,
            self.genesis.state().root,
            circuit=self.prover.circuit_id,
            forced_deadline=self.config.forced_deadline,
        )
        rollup.deployment.save(path)
        return rollup

    def _circuit(self) -> str:
        return circuit_id(CircuitShape.of(self.params))

    def _verifying_key(self) -> groth16py.VerifyingKey | None:
        """The key this node's proofs verify under: the prover's, else the cached one
        (a node that does not prove may still commit `bzk prove` proofs)."""
        if self.prover is not None:
            return self.prover.vk
        files = find_keys(CircuitShape.of(self.params), self.config.key_dir, self._backend())
        if files is None:
            log.warning("no verifying key for this circuit: the rollup's verifier is not checked")
            return None
        return files.load_verifying_key()

    # --- lifecycle ---

    async def start(self) -> None:
        if self.producer is not None:
            self.producer.start()
            if await self.producer.root() != self.sequencer.state.root:
                raise RuntimeError("the block producer loaded another state than the node")
        self.verifier = BatchVerifier(self.config.verify_workers)
        self.verifier.start()
        app = httprpc.application(self.config.http)
        app.router.add_post("/", self.rpc.handle_http)
        app.router.add_get("/health", self._health)
        explorer.setup(app, self)
        self.runner = httprpc.runner(app, self.config.http)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.config.host, self.config.port)
        await site.start()
        loop = asyncio.get_running_loop()
        self.tasks.append(loop.create_task(self._block_loop()))
        self.tasks.append(loop.create_task(self._admit_loop()))
        if self.prover is not None or self.rollup is not None:
            if self.prover is not None:
                await asyncio.to_thread(self.prover.start)
            self.tasks.append(loop.create_task(self.pipeline.run()))
        if self.rollup is not None:
            self.tasks.append(loop.create_task(self._forced_loop(self.rollup)))

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.config.port}/"

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.runner:
            await self.runner.cleanup()
        if self.verifier:
            await self.verifier.close()
        if self.prover is not None and self._own_prover:
            self.prover.close()
        if self.producer is not None:
            self.producer.close()
        self.store.close()

    async def _block_loop(self) -> None:
        tick = min(0.05, self.sequencer.config.block_time / 4)
        while True:
            await asyncio.sleep(tick)
            try:
                if self.sequencer.block_due():
                    block = await self._produce_block()
                    if block is not None:
                        self.stats["included"] += len(block.ops)
                        log.info(
                            "block %d: %d ops root %s",
                            block.number,
                            len(block.ops),
                            hex(block.new_root)[:18],
                        )
            except Exception:
                log.exception("block production failed")

    async def _forced_loop(self, rollup: Rollup) -> None:
        """Follow the contract's forced-withdrawal queue: every request it logs goes to the
        sequencer, which processes the oldest waiting one in slot 0 of the next block, long
        before its deadline (docs/protocol.md, "Forced withdrawals")."""
        since = rollup.deployment.deploy_block
        while True:
            try:
                tip = await self.pipeline.run_settlement(rollup.client.block_number)
                if tip >= since:
                    requests = await self.pipeline.run_settlement(
                        rollup.forced_requests, since, tip
                    )
                    for request in requests:
                        if self.sequencer.add_forced(request):
                            log.info(
                                "forced withdrawal %d queued on the contract: account %d, %d sats",
                                request.index,
                                request.sender,
                                request.amount,
                            )
                    since = tip + 1
            except Exception:
                log.exception("reading the forced-withdrawal queue failed")
            await asyncio.sleep(self.config.forced_poll_s)

    async def _produce_block(self) -> StoredBlock | None:
        if self.producer is None:
            return self.sequencer.produce_block()
        begun = self.sequencer.begin_block()
        if begun is None:
            return None
        number, candidates = begun
        built = await self.producer.build(number, candidates, self.sequencer.max_block_txs)
        if built is None:
            return None
        try:
            return self.sequencer.commit(built)
        except BaseException:
            # The producer adopted a block that was not stored: reload it from the store.
            self.producer.restart()
            raise

    async def _admit_loop(self) -> None:
        """Admit verified operations in groups: one fsync serves the whole group."""
        while True:
            await self.admit_event.wait()
            await asyncio.sleep(0)
            group, self.admit_queue = self.admit_queue, []
            self.admit_event.clear()
            try:
                results = self.sequencer.admit([(op, tx_hash) for op, tx_hash, _ in group])
            except Exception as exc:
                for _, _, fut in group:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for (_, _, fut), result in zip(group, results, strict=True):
                if fut.done():
                    continue
                if result.error is None:
                    self.stats["accepted"] += 1
                    fut.set_result("0x" + result.tx_hash.hex())
                else:
                    self.stats["rejected"] += 1
                    fut.set_exception(_app_error(result.error))

    def proving_backlog(self) -> int:
        """Blocks waiting for a proof: stored ones, plus the mempool counted in blocks."""
        per_block = max(1, self.sequencer.max_block_txs)
        queued = len(self.sequencer.mempool.entries)
        return self.pipeline.backlog + (queued + per_block - 1) // per_block

    # --- HTTP ---

    async def _health(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"ok": True, "head": self.sequencer.head})

    # --- RPC methods ---

    def _register(self) -> None:
        """The method table: RPC name -> the method below that answers it."""
        self.rpc.methods.update(
            {
                "bzk_sendTransaction": self.send_transaction,
                "bzk_getTransactionReceipt": self.get_receipt,
                "bzk_getAccount": self.get_account,
                "bzk_getBlock": self.get_block,
                "bzk_blockNumber": self.block_number,
                "bzk_stateRoot": self.state_root,
                "bzk_chainInfo": self.chain_info,
                "bzk_getBatch": self.get_batch,
            }
        )

    async def send_transaction(self, tx: Any) -> dict[str, Any]:
        backlog = self.proving_backlog()
        bound = self.config.max_backlog
        if self.prover is not None and bound and backlog >= bound:
            self.stats["busy"] += 1
            raise _app_error(
                ProvingBacklog(f"busy: proving backlog {backlog} >= {bound} blocks, retry later")
            )
        try:
            op = user_op_from_json(tx)
        except InvalidOperation as exc:
            raise _app_error(exc) from None
        sender = self.sequencer.state.get(op.sender)
        if sender is None:
            raise _app_error(UnknownAccount(f"account {op.sender} does not exist"))
        assert self.verifier is not None and op.signature is not None
        msg = await self.verifier.verify(op, self.params.chain_id, sender.pubkey)
        if msg is None:
            self.stats["rejected"] += 1
            raise _app_error(InvalidSignature("signature does not verify for the sender's key"))
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.admit_queue.append((op, msg.to_bytes(32, "big"), fut))
        self.admit_event.set()
        return {"hash": await fut}

    async def get_receipt(self, tx_hash: Any) -> dict[str, Any] | None:
        raw = parse_hash(tx_hash)
        receipt = self.store.get_receipt(raw)
        if receipt is not None:
            return receipt.to_json()
        if raw in self.sequencer.mempool.entries or raw in self.sequencer.deposits:
            return {"hash": "0x" + raw.hex(), "status": "pending", "block_number": None}
        return None

    async def get_account(self, account: Any) -> dict[str, Any] | None:
        index = self._account_index(account)
        if index is None:
            return None
        state = self.sequencer.state
        found = account_json(state, index)
        if found is not None:
            found["pending_nonce"] = self.sequencer.mempool.pending_nonce(state, index)
        return found

    async def get_block(self, number: Any = "latest", full: Any = True) -> dict[str, Any] | None:
        number, full = block_query(number, full, self.sequencer.head)
        block = self.store.get_block(number)
        return None if block is None else block_json(block, full)

    async def block_number(self) -> int:
        return self.sequencer.head

    async def state_root(self) -> str:
        return hex(self.sequencer.state.root)

    async def chain_info(self) -> dict[str, Any]:
        return {
            **chain_fields(self.params, self.genesis, self.store),
            "head": self.sequencer.head,
            "state_root": hex(self.sequencer.state.root),
            "accounts": self.sequencer.state.num_accounts,
            "mempool": len(self.sequencer.mempool),
            "min_fee": self.sequencer.config.min_fee,
            "block_time": self.sequencer.config.block_time,
            "stats": dict(self.stats),
            "proving_backlog": self.proving_backlog() if self.prover is not None else 0,
            "proving_backlog_max": self.pipeline.backlog_max,
            "max_backlog": self.config.max_backlog,
            "latency_final": final_latency(self.store),
        }

    async def get_batch(self, number: Any) -> dict[str, Any] | None:
        return batch_summary(self.store, parse_number(number, "number"))

    def _account_index(self, account: Any) -> int | None:
        return account_index(account, self.params.capacity, self.sequencer.state.index_of)


async def serve(config: NodeConfig, genesis: Genesis, ready: asyncio.Event | None = None) -> None:
    """Run a node until SIGINT/SIGTERM (either one stops it cleanly, also while starting)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def take_signals() -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

    take_signals()
    node = Node(config, genesis)
    try:
        await node.start()
        take_signals()  # a Ray prover fleet's core worker took SIGTERM at start: take it back
        log.info("node listening on %s (head %d)", node.url, node.sequencer.head)
        print(f"bzk node listening on {node.url} head={node.sequencer.head}", flush=True)
        if ready:
            ready.set()
        await stop.wait()
    finally:
        await node.stop()


__all__ = ["Node", "NodeConfig", "SettlementNeedsKey", "serve"]
