"""Group commit: concurrent submissions share flushes; every caller gets its own answer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from crossdock.backbone._group_commit import GroupCommitter


class Recorder:
    """A flush that records each batch and answers each item with its double."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.fail_on = fail_on

    async def flush(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        await asyncio.sleep(0.001)  # a commit takes time: meanwhile, more items pile up
        if self.fail_on is not None and self.fail_on in items:
            raise OSError("disk full")
        return [item * 2 for item in items]


async def test_concurrent_items_share_batches_and_get_their_own_result() -> None:
    recorder = Recorder()
    committer = GroupCommitter(recorder.flush, max_batch=16, max_wait=0.001)
    results = await asyncio.gather(*(committer.submit(i) for i in range(100)))
    assert results == [i * 2 for i in range(100)]
    assert sorted(i for batch in recorder.batches for i in batch) == list(range(100))
    assert len(recorder.batches) < 100 / 4  # far fewer flushes than items
    assert max(len(batch) for batch in recorder.batches) <= 16


async def test_a_failed_flush_fails_exactly_its_callers() -> None:
    recorder = Recorder(fail_on=3)
    committer = GroupCommitter(recorder.flush, max_batch=4, max_wait=0)
    results = await asyncio.gather(*(committer.submit(i) for i in range(8)), return_exceptions=True)
    failed_batch = next(b for b in recorder.batches if 3 in b)
    for item, result in enumerate(results):
        if item in failed_batch:
            assert isinstance(result, OSError)
        else:
            assert result == item * 2


async def test_a_lone_item_is_flushed_without_waiting_for_company() -> None:
    recorder = Recorder()
    committer = GroupCommitter(recorder.flush, max_batch=256, max_wait=0.002)
    assert await asyncio.wait_for(committer.submit(21), timeout=5) == 42
    await committer.drain()
    assert recorder.batches == [[21]]


async def test_a_cancelled_caller_does_not_break_the_batch() -> None:
    recorder = Recorder()
    committer = GroupCommitter(recorder.flush, max_batch=8, max_wait=0.001)
    doomed = asyncio.create_task(committer.submit(1))
    kept = asyncio.create_task(committer.submit(2))
    await asyncio.sleep(0)
    doomed.cancel()
    assert await kept == 4
    with pytest.raises(asyncio.CancelledError):
        await doomed
