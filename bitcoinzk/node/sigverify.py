"""Signature checks for admission, spread over worker processes.

One EdDSA verification in Python costs about a millisecond, so admission
would be bound to one core; worker processes use every core. Requests that
arrive together travel to the workers together (one pickle round trip per
group, not per signature): the queue flushes at `max_batch` items or after
`max_wait` seconds. Each signature is checked on its own: a random-linear-
combination batch check must also prove every R8 is in the prime-order
subgroup to agree with the circuit, and that costs what it saves
(bitcoinzk.crypto.eddsa.verify_batch, measured equal).
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
from concurrent.futures import Executor, ProcessPoolExecutor

from bitcoinzk.crypto.eddsa import PublicKey, verify
from bitcoinzk.procutil import exit_with_parent
from bitcoinzk.spec.types import UserOperation

Item = tuple[UserOperation, int, int, int]  # op, chain_id, sender ax, sender ay


def verify_items(items: list[Item]) -> list[int | None]:
    """Worker entry point: the signed message (used as the tx hash) if the signature
    verifies, else None. Hashing the message here keeps a 400 µs Poseidon off the
    event loop."""
    out: list[int | None] = []
    for op, chain_id, ax, ay in items:
        try:
            pubkey = PublicKey(ax, ay)
            msg = op.message(chain_id)
        except Exception:
            out.append(None)
            continue
        ok = op.signature is not None and verify(pubkey, msg, op.signature)
        out.append(msg if ok else None)
    return out


class BatchVerifier:
    def __init__(
        self, workers: int | None = None, max_batch: int = 512, max_wait: float = 0.003
    ) -> None:
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self.max_batch = max_batch
        self.max_wait = max_wait
        # "spawn": a forked worker would inherit the node's listening socket and,
        # orphaned by a kill -9, keep the port from a restarted node.
        self.pool: Executor | None = (
            ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=mp.get_context("spawn"),
                initializer=exit_with_parent,
                initargs=(os.getpid(),),
            )
            if self.workers > 0
            else None
        )
        self.pending: list[tuple[Item, asyncio.Future[int | None]]] = []
        self.wakeup = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self.task:
            self.task.cancel()
        if self.pool:
            self.pool.shutdown(wait=False, cancel_futures=True)

    async def verify(self, op: UserOperation, chain_id: int, pubkey: PublicKey) -> int | None:
        """The op's signed message if its signature verifies for `pubkey`, else None."""
        fut: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self.pending.append(((op, chain_id, pubkey.x, pubkey.y), fut))
        self.wakeup.set()
        return await fut

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self.wakeup.wait()
            if len(self.pending) < self.max_batch:
                # Let requests that arrive together share one batch.
                await asyncio.sleep(self.max_wait)
            batch, self.pending = self.pending[: self.max_batch], self.pending[self.max_batch :]
            if not self.pending:
                self.wakeup.clear()
            items = [item for item, _ in batch]
            try:
                if self.pool is None:
                    results = verify_items(items)
                else:
                    parts = max(1, min(self.workers, len(items) // 16))
                    size = -(-len(items) // parts)
                    chunks = [items[i : i + size] for i in range(0, len(items), size)]
                    answers = await asyncio.gather(
                        *(loop.run_in_executor(self.pool, verify_items, c) for c in chunks)
                    )
                    results = [ok for part in answers for ok in part]
            except Exception as exc:
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for (_, fut), ok in zip(batch, results, strict=True):
                if not fut.done():
                    fut.set_result(ok)
