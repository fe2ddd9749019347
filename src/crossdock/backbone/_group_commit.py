"""Group commit: concurrent callers share one transaction, each answered after its COMMIT."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


class GroupCommitter(Generic[In, Out]):
    """Batches concurrent submissions into one `flush` call.

    One flusher task runs at a time. Items that arrive while a flush is committing wait for the
    next one, which takes up to `max_batch` of them; before flushing a batch that is not full
    the flusher waits at most `max_wait` seconds for more. Every caller's future is resolved
    only after the flush that holds its item returned (after the COMMIT), or fails with the
    flush's error (nothing of that batch was committed).
    """

    def __init__(
        self,
        flush: Callable[[Sequence[In]], Awaitable[Sequence[Out]]],
        *,
        max_batch: int = 256,
        max_wait: float = 0.001,
    ) -> None:
        self._flush = flush
        self._max_batch = max_batch
        self._max_wait = max_wait
        self._pending: list[tuple[In, asyncio.Future[Out]]] = []
        self._full = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: In) -> Out:
        """Queue one item and wait until the transaction that holds it committed."""
        future: asyncio.Future[Out] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if len(self._pending) >= self._max_batch:
            self._full.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        return await future

    async def drain(self) -> None:
        """Wait until every submitted item was flushed."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        while self._pending:
            if len(self._pending) < self._max_batch and self._max_wait > 0:
                self._full.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self._max_wait)
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            await self._flush_batch(batch)

    async def _flush_batch(self, batch: list[tuple[In, asyncio.Future[Out]]]) -> None:
        try:
            results = await self._flush([item for item, _ in batch])
        except BaseException as error:  # every caller of the batch gets the failure
            for _, future in batch:
                if not future.done():
                    if isinstance(error, Exception):
                        future.set_exception(error)
                    else:
                        future.cancel()
            if not isinstance(error, Exception):
                raise
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
