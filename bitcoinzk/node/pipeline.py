"""The batch lifecycle: pending -> proving -> proven -> committed -> final.

Every block is one batch. The prover works in its own process (it keeps the
proving key in memory), so block production never waits for a proof; commits
go to the settlement contract strictly in block order, because the contract
chains each batch onto the root it stored last. Each step is recorded in the
store before the next starts, so a restarted node resumes where it stopped:
a batch found "proving" is proven again, and a batch the contract already has
is recognised instead of committed twice -- only after checking that the
contract's batch of that number is this very block (`Rollup.settled_batch_matches`):
a contract of another chain, or one that outlived this node's database, is
refused at start (`check_settled_chain`) and never taken for ours.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from bitcoinzk.l2.store import Store
from bitcoinzk.prover.service import ProofError, ProverService
from bitcoinzk.prover.witness import CircuitInputs
from bitcoinzk.settlement.rollup import DeploymentMismatch, InvalidProof, Rollup

log = logging.getLogger(__name__)
T = TypeVar("T")

PENDING, PROVING, PROVEN, COMMITTED, FINAL, FAILED = (
    "pending",
    "proving",
    "proven",
    "committed",
    "final",
    "failed",
)


@dataclass
class BatchPipeline:
    store: Store
    prover: ProverService | None
    rollup: Rollup | None = None
    poll: float = 0.2

    def __post_init__(self) -> None:
        # One thread owns every settlement call: the EVM client is not built for
        # concurrent use, and commits must be strictly ordered anyway.
        self._evm = ThreadPoolExecutor(max_workers=1, thread_name_prefix="settlement")

    async def run_settlement(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a settlement-layer call on the one thread that owns the EVM client."""
        return await asyncio.get_running_loop().run_in_executor(self._evm, fn, *args)

    def recover(self) -> None:
        """A proof that was under way when the node stopped is simply redone."""
        for number in self.store.batches_with_status(PROVING):
            self.store.update_batch(number, PENDING)

    async def run(self) -> None:
        self.recover()
        while True:
            try:
                worked = await self.step()
            except Exception:
                log.exception("batch pipeline step failed")
                worked = False
            if not worked:
                await asyncio.sleep(self.poll)

    async def step(self) -> bool:
        """Advance the oldest batch that can move; True if something moved."""
        if self.prover is not None:
            pending = self.store.batches_with_status(PENDING)
            if pending:
                await self.prove(pending[: self.prover.parallel])
                return True
        if self.rollup is not None:
            proven = self.store.batches_with_status(PROVEN)
            if proven:
                await self.commit(proven[0])
                return True
            committed = self.store.batches_with_status(COMMITTED)
            if committed and await self.finalize(committed[0]):
                return True
        return False

    async def prove(self, numbers: list[int]) -> None:
        """Prove these pending blocks at once (the prover runs `parallel` proofs side by
        side; commits stay in order whichever proof finishes first)."""
        assert self.prover is not None
        batches: list[tuple[int, CircuitInputs]] = []
        for number in numbers:
            inputs = self.store.get_batch_inputs(number)
            if inputs is None:
                self.store.update_batch(number, FAILED, error="no circuit inputs stored")
                continue
            self.store.update_batch(number, PROVING, proving_started=time.time())
            batches.append((number, inputs))
        if not batches:
            return
        started = time.perf_counter()
        results = await self.prover.prove_many([inputs for _, inputs in batches])
        for (number, _), proof in zip(batches, results, strict=True):
            if isinstance(proof, ProofError):
                # The STF accepted this block but the circuit refuses it: a bug, never skipped.
                log.error("block %d does not prove: %s", number, proof)
                self.store.update_batch(number, FAILED, error=str(proof))
                continue
            self.store.update_batch(
                number,
                PROVEN,
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
        for number in self.store.batches_with_status(FINAL):
            if number > count:
                raise DeploymentMismatch(
                    f"this node recorded batch {number} as final but the rollup at "
                    f"{self.rollup.address} holds only {count}: another contract or a reset chain"
                )
        for number in self.store.batches_with_status(COMMITTED):
            if number > count:  # its commit is gone (a reorg): commit it again
                self.store.update_batch(number, PROVEN, settlement_tx=None)

    def _settled_sync(self, number: int) -> bool:
        """Whether the contract's batch `number` is exactly this node's block `number`."""
        assert self.rollup is not None
        block = self.store.get_block(number)
        if block is None:
            return False
        return self.rollup.settled_batch_matches(
            number, block.pubdata, block.old_root, block.new_root
        )

    async def _settled(self, number: int) -> bool:
        return await self.run_settlement(self._settled_sync, number)

    async def commit(self, number: int) -> None:
        assert self.rollup is not None
        rollup = self.rollup
        count = await self.run_settlement(rollup.batch_count)
        if count >= number:
            # Committed before a restart, recorded after it -- if it is this very block.
            await self._adopt_commit(number)
            return
        if count != number - 1:
            return  # an earlier batch is not committed yet
        block = self.store.get_block(number)
        batch = self.store.get_batch(number)
        assert block is not None and batch is not None and batch[2] is not None
        settled_root = await self.run_settlement(rollup.state_root)
        if settled_root != block.old_root:
            # The proof would fail as "invalid proof"; say what is actually wrong.
            self._diverged(
                number,
                f"the contract's state root is {hex(settled_root)}, block "
                f"{number} builds on {hex(block.old_root)}",
            )
            return
        try:
            receipt = await self.run_settlement(
                rollup.commit_batch, block.pubdata, block.new_root, batch[2]
            )
        except InvalidProof as exc:
            # Our own verifier accepted this proof; the contract's did not. The
            # contract is the judge: stop here, loudly, rather than retry forever.
            log.error("block %d: the contract rejects its proof: %s", number, exc)
            self.store.update_batch(number, FAILED, error=f"contract rejected the proof: {exc}")
            return
        self.store.update_batch(
            number,
            COMMITTED,
            settlement_tx="0x" + receipt.tx_hash.hex(),
            settlement_block=receipt.block_number,
            commit_gas=receipt.gas_used,
            calldata_bytes=receipt.calldata_bytes,
            committed_at=time.time(),
        )
        log.info("block %d committed, gas %d", number, receipt.gas_used)

    async def _adopt_commit(self, number: int) -> None:
        """The contract has a batch `number`: ours (committed before a restart) or not."""
        assert self.rollup is not None
        if not await self._settled(number):
            self._diverged(number, f"the contract's batch {number} is another block")
            return
        tx = await self.run_settlement(self.rollup.settlement_tx_of, number)
        self.store.update_batch(
            number,
            COMMITTED,
            settlement_tx=None if tx is None else "0x" + tx.hex(),
            committed_at=time.time(),
            recovered=True,
        )

    def _diverged(self, number: int, why: str) -> None:
        """The contract settles another chain than this node's: nothing more can commit."""
        log.error("block %d cannot settle: %s", number, why)
        self.store.update_batch(number, FAILED, error=why)

    async def finalize(self, number: int) -> bool:
        """Final = the contract still holds this block as batch `number` and the
        transaction that put it there has its confirmations. Without a known
        transaction nothing is final."""
        assert self.rollup is not None
        rollup = self.rollup
        batch = self.store.get_batch(number)
        assert batch is not None
        tx = batch[3].get("settlement_tx")
        if tx is None:
            found = await self.run_settlement(rollup.settlement_tx_of, number)
            if found is None:
                return False
            tx = "0x" + found.hex()
            self.store.update_batch(number, COMMITTED, settlement_tx=tx)
        if not await self._settled(number):
            if await self.run_settlement(rollup.batch_count) < number:
                # its commit was dropped (a reorg): commit it again
                self.store.update_batch(number, PROVEN, settlement_tx=None)
            else:
                self._diverged(number, f"the contract's batch {number} is another block")
            return False
        final = await self.run_settlement(rollup.client.is_final, bytes.fromhex(tx[2:]))
        if final:
            self.store.update_batch(number, FINAL, final_at=time.time())
        return bool(final)


def batch_summary(store: Store, number: int) -> dict[str, Any] | None:
    batch = store.get_batch(number)
    if batch is None:
        return None
    status, public_input, proof, info = batch
    return {
        "number": number,
        "status": status,
        "public_input": hex(public_input),
        "proof": None if proof is None else "0x" + proof.hex(),
        **info,
    }
