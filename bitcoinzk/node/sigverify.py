"""Signature checks for admission, batched and spread over worker processes.

One EdDSA verification in Python costs milliseconds; a batch check with a
multi-scalar multiplication costs a fraction of that per signature, and worker
processes use every core. Requests that arrive together are verified together:
the queue flushes when it holds `max_batch` items or after `max_wait` seconds.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import Executor, ProcessPoolExecutor

from bitcoinzk.crypto.eddsa import PublicKey, Signature, verify_batch

Item = tuple[int, int, int, int, int, int]  # ax, ay, msg, r8x, r8y, s


def verify_items(items: list[Item]) -> list[bool]:
    """Top-level (picklable) worker entry point."""
    batch = [(PublicKey(ax, ay), m, Signature(rx, ry, s)) for ax, ay, m, rx, ry, s in items]
    return verify_batch(batch)


class BatchVerifier:
    def __init__(
        self, workers: int | None = None, max_batch: int = 512, max_wait: float = 0.003
    ) -> None:
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.pool: Executor | None = (
            ProcessPoolExecutor(max_workers=self.workers) if self.workers > 0 else None
        )
        self.pending: list[tuple[Item, asyncio.Future[bool]]] = []
        self.wakeup = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.verified = 0

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self.task:
            self.task.cancel()
        if self.pool:
            self.pool.shutdown(wait=False, cancel_futures=True)

    async def verify(self, pubkey: PublicKey, msg: int, sig: Signature) -> bool:
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.pending.append(((pubkey.x, pubkey.y, msg, sig.r8x, sig.r8y, sig.s), fut))
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
            self.verified += len(results)
            for (_, fut), ok in zip(batch, results, strict=True):
                if not fut.done():
                    fut.set_result(ok)
