"""Collect concurrent requests for a few milliseconds and run them as one batch."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """Run ``fn(items) -> results`` over requests gathered from concurrent callers.

    The first request of a batch waits at most ``wait_s`` for company, or until
    ``max_batch`` requests are queued; the batch then runs in a worker thread while
    new requests queue up for the next one. Batches run one at a time (one model).

    Args:
        fn: Answers a list of items, one result per item, in order.
        max_batch: Most items in one batch.
        wait_s: Longest wait for more items once one has arrived.
    """

    def __init__(
        self, fn: Callable[[list[T]], list[R]], *, max_batch: int = 64, wait_s: float = 0.005
    ) -> None:
        """Keep the settings; the worker starts with ``start`` inside the serving loop."""
        self.fn = fn
        self.max_batch = max_batch
        self.wait_s = wait_s
        self.batches = 0
        self.items = 0
        self._queue: asyncio.Queue[tuple[T, asyncio.Future[R]]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the worker in the running event loop."""
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._work())

    async def stop(self) -> None:
        """Stop the worker; queued requests fail with ``CancelledError``."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def submit(self, item: T) -> R:
        """Queue one item and wait for its result (or the batch's exception)."""
        if self._queue is None:
            await self.start()
        assert self._queue is not None
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        await self._queue.put((item, future))
        return await future

    async def _work(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            batch = [await queue.get()]
            deadline = time.monotonic() + self.wait_s
            while len(batch) < self.max_batch:
                left = deadline - time.monotonic()
                try:
                    batch.append(queue.get_nowait() if left <= 0 else await asyncio.wait_for(
                        queue.get(), left
                    ))
                except (asyncio.QueueEmpty, TimeoutError):
                    break
            live = [(item, fut) for item, fut in batch if not fut.cancelled()]
            if not live:
                continue
            try:
                results = await asyncio.to_thread(self.fn, [item for item, _ in live])
            except Exception as exc:  # noqa: BLE001 - every caller of the batch gets it
                for _, fut in live:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            self.batches += 1
            self.items += len(live)
            for (_, fut), result in zip(live, results, strict=True):
                if not fut.done():
                    fut.set_result(result)
