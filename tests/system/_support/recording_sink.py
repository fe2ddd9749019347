"""A recording sink: a local idempotent HTTP API that counts effects per idempotency key.

Run as a script in its own process (so it outlives the workers killed in a test):

    python recording_sink.py            # prints {"port": N} on the first line of stdout

- ``POST /effects`` with JSON ``{"key": ..., "partition": ..., "seq": ...}``: the first call
  with a key is the effect, recorded in arrival order per partition; a repeated key is counted
  as an attempt and answered like the first, with no second effect (as a real idempotent API).
- ``GET /report``: effects, attempts, duplicates, the attempts per key and, per partition, the
  sequence numbers in the order their effects happened.
- ``GET /count``: just the numbers of effects and attempts (cheap, for polling).
- ``GET /health``: 200.

Only listens on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import defaultdict

from aiohttp import web


class Recorder:
    """The sink's memory."""

    def __init__(self) -> None:
        self.attempts: dict[str, int] = defaultdict(int)
        self.effect_of: dict[str, dict[str, object]] = {}
        self.order: dict[str, list[int]] = defaultdict(list)
        self.malformed = 0

    async def effects(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            key, partition, seq = str(body["key"]), str(body["partition"]), int(body["seq"])
        except (ValueError, KeyError, TypeError):
            self.malformed += 1
            return web.json_response({"error": "need key, partition and seq"}, status=400)
        self.attempts[key] += 1
        if key in self.effect_of:
            return web.json_response({**self.effect_of[key], "replayed": True})
        effect = {"effect_id": len(self.effect_of) + 1, "key": key}
        self.effect_of[key] = effect
        self.order[partition].append(seq)
        return web.json_response({**effect, "replayed": False}, status=201)

    async def report(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {
                "effects": len(self.effect_of),
                "attempts": sum(self.attempts.values()),
                "duplicates": sum(n - 1 for n in self.attempts.values()),
                "malformed": self.malformed,
                "attempts_per_key": self.attempts,
                "order": self.order,
            }
        )

    async def count(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {"effects": len(self.effect_of), "attempts": sum(self.attempts.values())}
        )

    async def health(self, _request: web.Request) -> web.Response:
        return web.json_response({"ok": True})


async def main() -> None:
    recorder = Recorder()
    app = web.Application()
    app.router.add_post("/effects", recorder.effects)
    app.router.add_get("/report", recorder.report)
    app.router.add_get("/count", recorder.count)
    app.router.add_get("/health", recorder.health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = runner.addresses[0][1]
    sys.stdout.write(json.dumps({"port": port}) + "\n")
    sys.stdout.flush()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
