"""A prover fleet on Ray: block proofs on as many machines as join, each keeping its key.

Who does what:

- The node is the Ray driver. `RayProverFleet.start` connects to a cluster
  (`prover.ray_address`) or, with no address, starts a private one on this
  machine, and creates one `ProverActor` per prover slot. A slot is the custom
  Ray resource `bzk_prover` that `bzk prover worker` advertises when it joins a
  machine to the cluster, so actors land on prover machines only.
- The cluster may change while the node runs. With `workers` = 0 (one actor per
  slot) a watcher thread looks at the cluster every `WATCH_S`: a machine that joins
  later (or comes back) gets actors for its new slots, and an idle actor whose
  machine has left is taken out of the pool until it answers again.
- A `ProverActor` is one long-lived process on a worker machine. It loads the
  proving key from that machine's own key cache once, through the very entry
  points the local prover process uses (`service.worker_init` / `worker_prove`):
  whichever backend the prover service proves with, the fleet proves with.

A proof is a pure function of its inputs, so losing one costs only time. When an
actor dies mid-proof (its process killed, its machine gone), the block goes to
another live actor, and Ray restarts the dead one (reloading its key) up to
`max_restarts` times (-1: always); it rejoins the pool once it answers again.
Every proof is verified here with the node's own key before it is returned, and
an actor whose key differs from the node's refuses to start. Results come back
in any order; the pipeline commits in block order.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import resource
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import groth16py
import ray
from ray.exceptions import ActorDiedError, OutOfMemoryError, RayActorError

from bitcoinzk.prover.circuit import CircuitShape, circuit_id
from bitcoinzk.prover.keys import Backend, KeyFiles, default_backend, ensure_keys, find_keys
from bitcoinzk.prover.service import (
    BatchProof,
    ProofError,
    ProveResult,
    WitnessBackend,
    checked_result,
    verify_proof,
    worker_init,
    worker_prove,
    worker_spec,
)
from bitcoinzk.prover.witness import CircuitInputs
from bitcoinzk.spec.params import ChainParams

log = logging.getLogger(__name__)

PROVER_RESOURCE = "bzk_prover"
"""The Ray resource a prover machine offers, one unit per prover actor it hosts."""

MAX_ATTEMPTS = 4
"""Workers a block may take down with it before it counts as unprovable: a block
that kills every prover it meets must stop the chain loudly, not loop forever."""

POLL_S = 0.05
"""How often a waiting proof looks for a free actor. Polling keeps the fleet free of
event-loop-bound state: actors come back on Ray's schedule, not on an asyncio event."""

WATCH_S = 2.0
"""How often an elastic fleet (one actor per slot) looks at the cluster for slots that
joined and machines that left: one GCS call, so a new worker is loading its key within
seconds of joining without the fleet polling in a tight loop."""

RESPAWN_MAX_S = 300.0
"""Longest pause before new actors are tried again after one failed to start (a joined
machine without the node's key): the pause doubles per failure from WATCH_S."""

_LOST = (RayActorError, OutOfMemoryError)
"""What a call raises when the actor's process is gone (killed, crashed, its machine
lost, or killed by Ray's memory monitor): the proof is lost, not wrong."""


class FleetError(RuntimeError):
    """The fleet cannot prove: no cluster, no prover slot, or a worker without the key."""


def _cpu_seconds() -> float:
    """CPU this process and its finished children (node's witness calculator) used: on
    a shared machine, how much of the cores a prover actually got."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def key_digest(keys: KeyFiles) -> str:
    """What a worker's key must match: the verifying key the node checks proofs with."""
    return hashlib.sha256(keys.verifying_key.read_bytes()).hexdigest()


class ProverActor:
    """One prover process on a worker machine, holding the key for its whole life."""

    def __init__(
        self,
        shape: CircuitShape,
        backend: Backend,
        digest: str,
        witness: WitnessBackend,
        parallel: int,
        key_dir: str | None,
    ) -> None:
        directory = Path(key_dir) if key_dir else None
        host = socket.gethostname()
        keys = find_keys(shape, directory, backend)
        if keys is None:
            raise FleetError(
                f"{host} has no {backend} proving key for circuit {circuit_id(shape)}: copy "
                "the node's key directory there (or import the same ceremony .zkey)"
            )
        if key_digest(keys) != digest:
            raise FleetError(
                f"{host} holds another key for circuit {circuit_id(shape)} than the node "
                f"({keys.directory}): its proofs would not verify"
            )
        worker_init(worker_spec(keys, witness, directory, parallel))
        self._about: dict[str, object] = {
            "pid": os.getpid(),
            "host": host,
            "node_id": ray.get_runtime_context().get_node_id(),
            "key": str(keys.directory),
            "backend": backend,
        }

    def about(self) -> dict[str, object]:
        return {**self._about, "cpu_s": round(_cpu_seconds(), 3)}

    def prove(self, inputs: CircuitInputs) -> ProveResult:
        return worker_prove(inputs)


@dataclass
class FleetWorker:
    """The fleet's view of one actor."""

    index: int
    handle: Any  # ray.actor.ActorHandle; untyped by Ray
    about: dict[str, object] = field(default_factory=dict)
    alive: bool = False
    """Answered since it was created or last lost a proof: it may be given work."""
    busy: int = 0
    proven: int = 0
    lost: int = 0
    ping: Any = None  # an ObjectRef of a pending `about` call while not alive
    started: bool = False
    """Has answered at least once (its key loaded); one that dies before that failed to start."""

    def summary(self) -> dict[str, object]:
        return {
            "index": self.index,
            "alive": self.alive,
            "busy": self.busy,
            "proven": self.proven,
            "lost": self.lost,
            **self.about,
        }


class RayProverFleet:
    """Proves blocks on Ray actors; the drop-in for `ProverService` (a `service.Prover`)."""

    def __init__(
        self,
        params: ChainParams,
        key_dir: Path | None = None,
        *,
        address: str = "",
        workers: int = 0,
        witness: WitnessBackend = "auto",
        parallel: int = 1,
        max_restarts: int = -1,
        allow_dev_setup: bool = True,
        log_to_driver: bool = True,
        backend: Backend | None = None,
    ) -> None:
        """`address`: "" starts a private Ray instance on this machine with `workers`
        slots (default 1); "host:port" (a cluster this machine is part of) or
        "ray://host:port" (Ray Client) joins an existing cluster. `workers`: actors to
        create, 0 = one per `bzk_prover` slot the cluster offers, now and later (machines
        that join while the node runs get actors: `watch_once`). `parallel`: blocks
        each actor proves at once with its one key (a groth16py proof uses one core).
        `backend`: the prover every actor runs (`prover.backend`; default: this machine's
        `default_backend()`), decided here so that every machine proves with the same one."""
        if workers < 0 or parallel < 1 or max_restarts < -1:
            raise ValueError("workers >= 0, parallel >= 1 and max_restarts >= -1")
        self.params = params
        self.shape = CircuitShape.of(params)
        self.circuit_id = circuit_id(self.shape)
        self.backend: Backend = backend if backend is not None else default_backend()
        # The node's key: proofs are checked with it, and a local instance's actors load it.
        self.keys = ensure_keys(self.shape, key_dir, allow_dev_setup, self.backend)
        self.vk: groth16py.VerifyingKey = self.keys.load_verifying_key()
        self.key_dir = key_dir
        self.address = address
        self.witness: WitnessBackend = witness
        self.per_actor = parallel
        self.max_restarts = max_restarts
        self.log_to_driver = log_to_driver
        self._target = workers
        self._workers: list[FleetWorker] = []
        self._lock = threading.Lock()
        """Guards adding and removing workers: the watcher thread adds, the event loop removes."""
        self._next_index = 0
        self._driver: ThreadPoolExecutor | None = None
        self._owns_ray = False
        self._watcher: threading.Thread | None = None
        self._stop = threading.Event()
        self._live_nodes: frozenset[str] | None = None
        """Ray nodes alive at the watcher's last look (None: not looked yet)."""
        self._respawn_after = 0.0
        self._respawn_pause = WATCH_S
        self.resubmitted = 0

    # --- lifecycle ---

    def start(self, wait: bool = True) -> None:
        """Connect (or start a local cluster) and create the actors; with `wait`, return
        once each has loaded its key, raising FleetError for one that cannot."""
        if self._driver is None:
            # Ray's local processes die with the *thread* that started them (a Linux
            # parent-death signal), so ray.init runs on a thread that lives as long as
            # the fleet, whichever thread (or short-lived executor) called start.
            self._driver = ThreadPoolExecutor(1, thread_name_prefix="ray-driver")
            self._driver.submit(self._connect).result()
        if wait:
            self.wait_ready()

    def _connect(self) -> None:
        if not ray.is_initialized():
            if self.address:
                ray.init(address=self.address, log_to_driver=self.log_to_driver)
            else:
                # A private one-machine instance: nothing listens beyond this host.
                os.environ.setdefault("RAY_AUTH_MODE", "disabled")
                ray.init(
                    address="local",  # never another cluster this machine may know of
                    num_cpus=os.cpu_count() or 1,
                    resources={PROVER_RESOURCE: self._target or 1},
                    include_dashboard=False,
                    log_to_driver=self.log_to_driver,
                )
            self._owns_ray = True
        offered: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
        slots = int(offered.get(PROVER_RESOURCE, 0))
        count = self._target or slots
        if slots == 0:
            raise FleetError(
                "the Ray cluster offers no prover slot: join prover machines with "
                "`bzk prover worker --address <head>:6379`"
            )
        if count > slots:
            raise FleetError(f"{count} prover workers asked for, the cluster offers {slots} slots")
        with self._lock:
            self._spawn(count)
        if self.elastic:
            self._stop.clear()
            self._watcher = threading.Thread(
                target=self._watch, name="prover-fleet-watch", daemon=True
            )
            self._watcher.start()

    @property
    def elastic(self) -> bool:
        """One actor per slot, however many slots the cluster offers over time."""
        return self._target == 0

    def _spawn(self, count: int) -> None:
        """Create `count` actors; each lands on a free prover slot (or waits for one).
        The caller holds `_lock`."""
        actor = ray.remote(ProverActor)
        # A local instance's actors share the node's key directory; a remote worker
        # uses its own machine's ($BZK_KEY_DIR or ~/.cache/bitcoinzk/keys).
        key_dir = str(self.key_dir) if self.key_dir and not self.address else None
        for _ in range(count):
            handle = actor.options(
                resources={PROVER_RESOURCE: 1},
                num_cpus=0,  # placed by prover slots; the slot stands for the cores
                max_restarts=self.max_restarts,
                max_task_retries=0,  # a lost proof is resubmitted by us, to another actor
                max_concurrency=self.per_actor,
            ).remote(
                self.shape,
                self.backend,
                key_digest(self.keys),
                self.witness,
                self.per_actor,
                key_dir,
            )
            self._workers.append(FleetWorker(self._next_index, handle))
            self._next_index += 1

    def _watch(self) -> None:
        while not self._stop.wait(WATCH_S):
            try:
                self.watch_once()
            except Exception:  # a GCS hiccup must not end the watch
                log.exception("prover fleet: looking at the cluster failed")

    def watch_once(self) -> int:
        """Look at the cluster once: note which Ray nodes are alive, and create actors
        for prover slots that have no actor (machines that joined since); how many."""
        nodes: list[dict[str, Any]] = ray.nodes()  # type: ignore[no-untyped-call]
        alive = [n for n in nodes if n.get("Alive")]
        self._live_nodes = frozenset(str(n["NodeID"]) for n in alive)
        slots = sum(int(n.get("Resources", {}).get(PROVER_RESOURCE, 0)) for n in alive)
        with self._lock:
            # An actor whose machine left and that Ray restarts waits for a slot and still
            # counts: the next machine to join takes it; only slots beyond every actor get
            # new ones. (One Ray dropped for good left the pool and counts no more.)
            missing = slots - len(self._workers)
            if missing <= 0 or time.monotonic() < self._respawn_after:
                return 0
            log.info("prover fleet: %d new prover slot(s); creating actors", missing)
            self._spawn(missing)
        return missing

    def wait_ready(self) -> None:
        for worker in self._workers:
            if worker.alive:
                continue
            try:
                worker.about = ray.get(worker.handle.about.remote())
            except RayActorError as exc:
                raise FleetError(f"prover worker {worker.index} did not start: {exc}") from None
            worker.alive = worker.started = True
            log.info("prover worker %d ready: %s", worker.index, worker.about)

    def close(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join()
            self._watcher = None
        for worker in self._workers:
            ray.kill(worker.handle, no_restart=True)
        self._workers = []
        if self._owns_ray:
            ray.shutdown()
            self._owns_ray = False
        if self._driver is not None:
            self._driver.shutdown()
            self._driver = None

    def __enter__(self) -> RayProverFleet:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- proving ---

    @property
    def parallel(self) -> int:
        """Blocks worth handing over at once: every live actor's share."""
        live = sum(w.alive for w in self._workers) if self._workers else self._target
        return max(1, live) * self.per_actor

    def workers(self, refresh: bool = False) -> list[dict[str, object]]:
        """Each actor's state; with `refresh`, first ask every live one for its figures."""
        if refresh:
            live = [w for w in self._workers if w.alive]
            answers = ray.get([w.handle.about.remote() for w in live])
            for worker, about in zip(live, answers, strict=True):
                worker.about = about
        return [w.summary() for w in self._workers]

    async def prove_inputs(self, inputs: CircuitInputs) -> BatchProof:
        """Prove one block on a free actor; if the actor is lost mid-proof, on another."""
        if self._driver is None:
            self.start(wait=False)
        lost_on: FleetWorker | None = None
        for _ in range(MAX_ATTEMPTS):
            worker = await self._acquire(avoid=lost_on)
            try:
                result: ProveResult = await worker.handle.prove.remote(inputs)
            except _LOST as exc:
                self._lose(worker, exc)
                lost_on = worker
                continue
            finally:
                worker.busy -= 1
            worker.proven += 1
            return checked_result(self.vk, self.circuit_id, inputs, result)
        raise ProofError(f"the block was lost with {MAX_ATTEMPTS} prover workers in turn")

    async def prove_many(self, many: list[CircuitInputs]) -> list[BatchProof | ProofError]:
        """Prove several blocks across the fleet; per block, its proof or its ProofError."""

        async def one(inputs: CircuitInputs) -> BatchProof | ProofError:
            try:
                return await self.prove_inputs(inputs)
            except ProofError as exc:
                return exc

        return list(await asyncio.gather(*(one(inputs) for inputs in many)))

    def verify(self, proof: bytes, public_input: int) -> bool:
        return verify_proof(self.vk, proof, public_input)

    def _lose(self, worker: FleetWorker, exc: Exception) -> None:
        worker.alive = False  # no work until it answers again (Ray restarts it)
        worker.lost += 1
        self.resubmitted += 1
        log.warning(
            "prover worker %d (host %s pid %s) lost a proof (%s); proving the block again",
            worker.index,
            worker.about.get("host"),
            worker.about.get("pid"),
            type(exc).__name__,
        )

    async def _acquire(self, avoid: FleetWorker | None = None) -> FleetWorker:
        """A live actor with a free slot (the least busy, then the one that has proven
        least, so a newly joined one gets work; preferring another than `avoid`); waits
        for one to become free, come back or join."""
        while True:
            self._revive()
            free = [w for w in list(self._workers) if w.alive and w.busy < self.per_actor]
            if free:
                worker = min(free, key=lambda w: (w is avoid, w.busy, w.proven))
                worker.busy += 1
                return worker
            if not self._workers and not self.elastic:
                raise FleetError("every prover worker is gone for good (see the log)")
            await asyncio.sleep(POLL_S)

    def _revive(self) -> None:
        """Ask each actor that is not alive whether it is back (a restarted actor has
        reloaded its key, a new one loaded it); drop the ones Ray reports dead for good.
        An idle actor whose machine has left the cluster is out until it answers again."""
        live_nodes = self._live_nodes
        for worker in list(self._workers):
            if worker.alive and live_nodes is not None and worker.busy == 0:
                node = worker.about.get("node_id")
                if node is not None and node not in live_nodes:
                    worker.alive = False
                    log.warning(
                        "prover worker %d: its machine (host %s) left the cluster",
                        worker.index,
                        worker.about.get("host"),
                    )
            if worker.alive:
                continue
            if worker.ping is None:
                worker.ping = worker.handle.about.remote()
                continue
            ready, _ = ray.wait([worker.ping], timeout=0)
            if not ready:
                continue
            ping, worker.ping = worker.ping, None
            try:
                worker.about = ray.get(ping)
            except ActorDiedError as exc:
                log.error("prover worker %d is gone for good: %s", worker.index, exc)
                # Ray raises this for a call in flight when the machine went, even while it
                # restarts the actor elsewhere: end it, or that restart would take the slot
                # of the next machine to join from the actor the fleet creates for it.
                ray.kill(worker.handle, no_restart=True)
                with self._lock:
                    self._workers.remove(worker)
                if not worker.started:
                    # It never loaded its key: creating another at once would fail alike.
                    self._respawn_after = time.monotonic() + self._respawn_pause
                    self._respawn_pause = min(2 * self._respawn_pause, RESPAWN_MAX_S)
                continue
            except RayActorError:
                continue  # restarting: ask again on the next round
            if not worker.started:
                self._respawn_pause = WATCH_S
            worker.alive = worker.started = True
            log.info("prover worker %d is ready: %s", worker.index, worker.about)
