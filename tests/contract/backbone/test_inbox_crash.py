"""An acknowledged delivery survives a kill -9 of the process that recorded it.

A child process records deliveries from 32 concurrent producers and prints each one after
`record_delivery` returned (the moment a webhook would be acknowledged). The test kills it
with SIGKILL at a random point, three times, then checks that every printed delivery is in
the inbox with the id the child was given. The seed is printed so a failure can be rerun.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import textwrap

import pytest

from crossdock.backbone import Delivery
from crossdock.runtime.clock import ManualClock

from .conftest import Backend

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from crossdock.backbone import Delivery
    from crossdock.backbone.postgres import PostgresStore
    from crossdock.backbone.sqlite import SQLiteStore

    kind, target, schema, prefix = sys.argv[1:5]

    async def main() -> None:
        if kind == "sqlite":
            store = SQLiteStore(target)
        else:
            store = PostgresStore(target, schema=schema)
        await store.start()
        print("READY", flush=True)

        async def producer(n: int) -> None:
            i = 0
            while True:
                key = f"{prefix}-{n}-{i}"
                record = await store.record_delivery(Delivery("crash", key, key.encode()))
                print("ACK", key, record.inbox_id, record.new, flush=True)
                i += 1

        await asyncio.gather(*(producer(n) for n in range(32)))

    asyncio.run(main())
    """
)


async def _run_and_kill(backend: Backend, prefix: str, kill_after: int) -> dict[str, int]:
    target = str(backend.path) if backend.kind == "sqlite" else str(backend.url)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        backend.kind,
        target,
        backend.schema,
        prefix,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None
    acked: dict[str, int] = {}
    try:
        async with asyncio.timeout(60):
            while len(acked) < kill_after:
                line = (await child.stdout.readline()).decode().split()
                if not line:
                    raise AssertionError("the child ended before it was killed")
                if line[0] == "ACK":
                    assert line[3] == "True"  # every key is unique
                    acked[line[1]] = int(line[2])
    finally:
        os.kill(child.pid, signal.SIGKILL)
        await child.wait()
    return acked


@pytest.mark.system
async def test_acknowledged_deliveries_survive_kill_9(backend: Backend) -> None:
    seed = random.randrange(2**32)
    print(f"seed={seed}")
    rng = random.Random(seed)
    acked: dict[str, int] = {}
    for round_ in range(3):
        acked |= await _run_and_kill(backend, f"r{round_}", rng.randrange(50, 600))
    store = backend.build(ManualClock())
    await store.start()
    try:
        for key, inbox_id in acked.items():
            again = await store.record_delivery(Delivery("crash", key, b"redelivery"))
            assert not again.new, f"acknowledged {key} was lost (seed={seed})"
            assert again.inbox_id == inbox_id
            item = await store.get_inbox(inbox_id)
            assert item is not None
            assert item.body == key.encode()
    finally:
        await store.close()
