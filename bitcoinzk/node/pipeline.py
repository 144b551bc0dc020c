"""The batch lifecycle: pending -> proving -> proven -> committed -> final.

Every block is one batch. The prover works in its own process (it keeps the
proving key in memory), so block production never waits for a proof. Proving
and settlement run as two loops side by side: as soon as a proof lands, every
proven batch that follows the contract's last one in an unbroken run (up to
MAX_BATCHES) is committed in one `commitBatches` call, whose proofs the contract
checks with one batched pairing check. A backlog of proofs therefore never holds
back commits of what is already proven, and the more proofs wait, the more share
one transaction's fixed cost. Commits go strictly in block order, because the
contract chains each batch onto the root it stored last.

Each step is recorded in the store before the next starts, so a restarted node
resumes where it stopped: a batch found "proving" is proven again, and a batch
the contract already has is recognised instead of committed twice -- only after
checking that the contract's batch of that number is this very block
(`Rollup.settled_batch_matches`): a contract of another chain, or one that
outlived this node's database, is refused at start (`check_settled_chain`) and
never taken for ours.

The prover is anything with `parallel` and `prove_many(inputs) -> [proof or
ProofError]` (`BlockProver`): the local `ProverService`, or a fleet. Results may
finish in any order; only commits are ordered.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from bitcoinzk.prover.service import BatchProof, ProofError
from bitcoinzk.prover.witness import CircuitInputs
from bitcoinzk.sequencer.store import BatchStatus, Store
from bitcoinzk.settlement.evm.contracts import MAX_BATCHES
from bitcoinzk.settlement.evm.rollup import DeploymentMismatch, InvalidProof, Rollup
from bitcoinzk.spec.types import ForcedWithdraw, op_from_json

log = logging.getLogger(__name__)
T = TypeVar("T")


class BlockProver(Protocol):
    """What the pipeline needs of a prover: prove up to `parallel` blocks at once."""

    @property
    def parallel(self) -> int: ...

    async def prove_many(self, many: list[CircuitInputs]) -> list[BatchProof | ProofError]:
        """Per block, in the order given, its proof or the ProofError that stopped it."""
        ...


@dataclass
class BatchPipeline:
    store: Store
    prover: BlockProver | None
    rollup: Rollup | None = None
    poll: float = 0.2
    commit_max: int = MAX_BATCHES
    """Batches per commitBatches transaction at most (the contract takes MAX_BATCHES)."""

    def __post_init__(self) -> None:
        # One thread owns every settlement call: the EVM client is not built for
        # concurrent use, and commits must be strictly ordered anyway.
        self._evm = ThreadPoolExecutor(max_workers=1, thread_name_prefix="settlement")
        if not 1 <= self.commit_max <= MAX_BATCHES:
            raise ValueError(f"commit_max must be 1..{MAX_BATCHES}")
        self.backlog = 0
        """Blocks waiting for a proof (pending or proving): what admission bounds."""
        self.backlog_max = 0
        self.refresh_backlog()

    def refresh_backlog(self) -> int:
        """Recount the blocks without a proof (after a block is stored or proven)."""
        self.backlog = len(self.store.batches_with_status(BatchStatus.PENDING)) + len(
            self.store.batches_with_status(BatchStatus.PROVING)
        )
        self.backlog_max = max(self.backlog_max, self.backlog)
        return self.backlog

    async def run_settlement(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a settlement-layer call on the one thread that owns the EVM client."""
        return await asyncio.get_running_loop().run_in_executor(self._evm, fn, *args)

    def recover(self) -> None:
        """A proof that was under way when the node stopped is simply redone."""
        for number in self.store.batches_with_status(BatchStatus.PROVING):
            self.store.update_batch(number, BatchStatus.PENDING)

    async def run(self) -> None:
        """Prove and settle side by side until cancelled."""
        self.recover()
        loops = []
        if self.prover is not None:
            loops.append(self._loop(self.prove_step))
        if self.rollup is not None:
            loops.append(self._loop(self.settle_step))
        await asyncio.gather(*loops)

    async def _loop(self, step: Callable[[], Any]) -> None:
        while True:
            try:
                worked = await step()
            except Exception:
                log.exception("batch pipeline step failed")
                worked = False
            if not worked:
                await asyncio.sleep(self.poll)

    async def step(self) -> bool:
        """One step of each loop (for callers that drive the pipeline by hand)."""
        proved = await self.prove_step() if self.prover is not None else False
        settled = await self.settle_step() if self.rollup is not None else False
        return proved or settled

    async def prove_step(self) -> bool:
        """Prove up to `parallel` pending blocks, oldest first; True if any were."""
        assert self.prover is not None
        pending = self.store.batches_with_status(BatchStatus.PENDING)
        self.refresh_backlog()
        if not pending:
            return False
        await self.prove(pending[: self.prover.parallel])
        self.refresh_backlog()
        return True

    async def settle_step(self) -> bool:
        """Commit the proven run after the contract's last batch, then mark what is final."""
        assert self.rollup is not None
        proven = self.store.batches_with_status(BatchStatus.PROVEN)
        worked = False
        if proven:
            count = await self.run_settlement(self.rollup.batch_count)
            ready = ready_run(proven, count, self.commit_max)
            if ready:
                await self.commit(ready)
                worked = True
        for number in self.store.batches_with_status(BatchStatus.COMMITTED):
            if not await self.finalize(number):
                break  # batches become final in order
            worked = True
        return worked

    async def prove(self, numbers: list[int]) -> None:
        """Prove these pending blocks at once (the prover runs `parallel` proofs side by
        side; commits stay in order whichever proof finishes first)."""
        assert self.prover is not None
        batches: list[tuple[int, CircuitInputs]] = []
        for number in numbers:
            inputs = self.store.get_batch_inputs(number)
            if inputs is None:
                self.store.update_batch(
                    number, BatchStatus.FAILED, error="no circuit inputs stored"
                )
                continue
            self.store.update_batch(number, BatchStatus.PROVING, proving_started=time.time())
            batches.append((number, inputs))
        if not batches:
            return
        started = time.perf_counter()
        try:
            results = await self.prover.prove_many([inputs for _, inputs in batches])
        except Exception as exc:
            # No proofs came back: the blocks are pending again, or nothing would ever
            # prove them (`recover` only runs at start).
            for number, _ in batches:
                self.store.update_batch(number, BatchStatus.PENDING)
            if isinstance(exc, BrokenProcessPool):
                # A worker killed mid-proof breaks its pool for good: drop the pool, and
                # the next proof starts a fresh worker.
                log.error("the prover's worker died; starting another")
                close = getattr(self.prover, "close", None)
                if close is not None:
                    close()
            raise
        for (number, _), proof in zip(batches, results, strict=True):
            if isinstance(proof, ProofError):
                # The STF accepted this block but the circuit refuses it: a bug, never skipped.
                log.error("block %d does not prove: %s", number, proof)
                self.store.update_batch(number, BatchStatus.FAILED, error=str(proof))
                continue
            self.store.update_batch(
                number,
                BatchStatus.PROVEN,
                proof.proof,
                prove_s=round(proof.prove_s, 3),
                total_prove_s=round(time.perf_counter() - started, 3),
                circuit_id=proof.circuit_id,
                proven_at=time.time(),
            )
            log.info("block %d proven in %.2f s", number, proof.prove_s)

    def check_settled_chain(self) -> None:
        """At start: refuse a contract whose batches are not this node's blocks.

        The contract chains every batch onto the root it stored last, and a batch's
        hash covers its number and both roots, so the contract's latest batch being
        this node's block of that number means the two chains agree up to there;
        later blocks are checked one by one as they commit (`_settled`). Raises
        DeploymentMismatch with a one-line reason.
        """
        assert self.rollup is not None
        count = self.rollup.batch_count()
        head = self.store.head()
        if count > head:
            raise DeploymentMismatch(
                f"the rollup at {self.rollup.address} holds {count} batches but this node has "
                f"{head} blocks: settlement.json belongs to another data directory "
                "(node.sqlite deleted or replaced?)"
            )
        if count and not self._settled_sync(count):
            raise DeploymentMismatch(
                f"the rollup at {self.rollup.address} holds another batch {count} than this "
                f"node's block {count}: it settles another chain"
            )
        for number in self.store.batches_with_status(BatchStatus.FINAL):
            if number > count:
                raise DeploymentMismatch(
                    f"this node recorded batch {number} as final but the rollup at "
                    f"{self.rollup.address} holds only {count}: another contract or a reset chain"
                )
        for number in self.store.batches_with_status(BatchStatus.COMMITTED):
            if number > count:  # its commit is gone (a reorg): commit it again
                self.store.update_batch(
                    number, BatchStatus.PROVEN, settlement_tx=None, settlement_block=None
                )

    def _settled_sync(self, number: int) -> bool:
        """Whether the contract's batch `number` is exactly this node's block `number`."""
        assert self.rollup is not None
        block = self.store.get_block(number)
        batch = self.store.get_batch(number)
        if block is None or batch is None:
            return False
        hint = batch.info.get("settlement_block")  # recorded with our own commits
        first = op_from_json(block.ops[0]) if block.ops else None
        return self.rollup.settled_batch_matches(
            number,
            block.pubdata,
            block.old_root,
            block.new_root,
            hint if isinstance(hint, int) else None,
            first.digest() if isinstance(first, ForcedWithdraw) else 0,
        )

    async def _settled(self, number: int) -> bool:
        return await self.run_settlement(self._settled_sync, number)

    async def commit(self, numbers: list[int]) -> None:
        """Commit these consecutive proven batches in one transaction (all or none)."""
        assert self.rollup is not None and numbers
        rollup = self.rollup
        count = await self.run_settlement(rollup.batch_count)
        for number in [n for n in numbers if n <= count]:
            # Committed before a restart, recorded after it -- if it is this very block.
            await self._adopt_commit(number)
        numbers = [n for n in numbers if n > count]
        if not numbers or numbers[0] != count + 1:
            return  # nothing left, or an earlier batch is not committed yet
        first = self.store.get_block(numbers[0])
        assert first is not None
        settled_root = await self.run_settlement(rollup.state_root)
        if settled_root != first.old_root:
            # The proofs would fail as "invalid proof"; say what is actually wrong.
            self._diverged(
                numbers[0],
                f"the contract's state root is {hex(settled_root)}, block "
                f"{numbers[0]} builds on {hex(first.old_root)}",
            )
            return
        commits: list[tuple[bytes, int, bytes]] = []
        for number in numbers:
            block = self.store.get_block(number)
            batch = self.store.get_batch(number)
            assert block is not None and batch is not None and batch.proof is not None
            commits.append((block.pubdata, block.new_root, batch.proof))
        try:
            receipts = await self.run_settlement(rollup.commit_batches, commits)
        except InvalidProof as exc:
            # Our own verifier accepted these proofs; the contract's did not. The
            # contract is the judge: find the culprit one by one (a k = 1 commit of
            # a good batch goes through), and stop at it, loudly, rather than retry.
            if len(numbers) > 1:
                log.warning("batches %s rejected together: retrying one at a time", numbers)
                await self.commit(numbers[:1])
                return
            log.error("block %d: the contract rejects its proof: %s", numbers[0], exc)
            self.store.update_batch(
                numbers[0], BatchStatus.FAILED, error=f"contract rejected the proof: {exc}"
            )
            return
        now = time.time()
        for number, receipt in zip(numbers, receipts, strict=True):
            self.store.update_batch(
                number,
                BatchStatus.COMMITTED,
                settlement_tx="0x" + receipt.tx_hash.hex(),
                settlement_block=receipt.block_number,
                commit_gas=receipt.gas_used,
                calldata_bytes=receipt.calldata_bytes,
                batches_in_tx=receipt.batches_in_tx,
                chain_hash="0x" + receipt.chain_hash.hex(),
                committed_at=now,
            )
        log.info(
            "blocks %d-%d committed in one transaction, gas %d",
            numbers[0],
            numbers[-1],
            receipts[0].gas_used,
        )

    async def _adopt_commit(self, number: int) -> None:
        """The contract has a batch `number`: ours (committed before a restart) or not."""
        assert self.rollup is not None
        if not await self._settled(number):
            self._diverged(number, f"the contract's batch {number} is another block")
            return
        found = await self.run_settlement(self.rollup.settlement_tx_of, number)
        self.store.update_batch(
            number,
            BatchStatus.COMMITTED,
            settlement_tx=None if found is None else "0x" + found[0].hex(),
            settlement_block=None if found is None else found[1],
            committed_at=time.time(),
            recovered=True,
        )

    def _diverged(self, number: int, why: str) -> None:
        """The contract settles another chain than this node's: nothing more can commit."""
        log.error("block %d cannot settle: %s", number, why)
        self.store.update_batch(number, BatchStatus.FAILED, error=why)

    async def finalize(self, number: int) -> bool:
        """Final = the contract still holds this block as batch `number` and the
        transaction that put it there has its confirmations. Without a known
        transaction nothing is final."""
        assert self.rollup is not None
        rollup = self.rollup
        batch = self.store.get_batch(number)
        assert batch is not None
        tx = batch.info.get("settlement_tx")
        if tx is None:
            found = await self.run_settlement(rollup.settlement_tx_of, number)
            if found is None:
                return False
            tx = "0x" + found[0].hex()
            self.store.update_batch(
                number, BatchStatus.COMMITTED, settlement_tx=tx, settlement_block=found[1]
            )
        if not await self._settled(number):
            if await self.run_settlement(rollup.batch_count) < number:
                # its commit was dropped (a reorg): commit it again
                self.store.update_batch(
                    number, BatchStatus.PROVEN, settlement_tx=None, settlement_block=None
                )
            else:
                self._diverged(number, f"the contract's batch {number} is another block")
            return False
        final = await self.run_settlement(rollup.client.is_final, bytes.fromhex(tx[2:]))
        if final:
            now = time.time()
            block = self.store.get_block(number)
            assert block is not None
            self.store.update_batch(
                number,
                BatchStatus.FINAL,
                final_at=now,
                # inclusion -> final for every transaction of the block
                latency_final_s=round(now - block.timestamp, 3),
                tx_count=len(block.ops),
            )
        return bool(final)


def ready_run(proven: list[int], batch_count: int, limit: int) -> list[int]:
    """The proven batches that extend the contract's chain without a gap, at most `limit`.

    Proofs may land in any order; a batch is committed once it and every batch
    before it are proven. Batches the contract already has (a restart between the
    commit and recording it) come first so `commit` records them.
    """
    already = [n for n in proven if n <= batch_count]
    run: list[int] = []
    for n in proven:
        if n <= batch_count:
            continue
        if n != batch_count + 1 + len(run) or len(run) == limit:
            break
        run.append(n)
    return already + run


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of `values` by the nearest-rank method."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q * len(ordered))))
    return ordered[rank - 1]


def final_latency(store: Store, last: int = 256) -> dict[str, Any]:
    """Inclusion -> final latency of the transactions of the last `last` final blocks.

    Per transaction (a block's latency counts once per transaction it holds): p50, p95
    and max in seconds, None before anything is final.
    """
    samples: list[float] = []
    for number in store.batches_with_status(BatchStatus.FINAL)[-last:]:
        batch = store.get_batch(number)
        assert batch is not None
        info = batch.info
        if "latency_final_s" in info:
            samples += [float(info["latency_final_s"])] * max(1, int(info.get("tx_count", 1)))
    if not samples:
        return {"p50_s": None, "p95_s": None, "max_s": None, "transactions": 0}
    return {
        "p50_s": round(percentile(samples, 0.5), 2),
        "p95_s": round(percentile(samples, 0.95), 2),
        "max_s": round(max(samples), 2),
        "transactions": len(samples),
    }


def batch_summary(store: Store, number: int) -> dict[str, Any] | None:
    batch = store.get_batch(number)
    if batch is None:
        return None
    return {
        "number": number,
        "status": str(batch.status),
        "public_input": hex(batch.public_input),
        "proof": None if batch.proof is None else "0x" + batch.proof.hex(),
        **batch.info,
    }
