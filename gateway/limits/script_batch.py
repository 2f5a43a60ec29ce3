"""Calls of one Lua script, sent to Redis together.

A round trip to Redis costs the gateway far more CPU than the script costs Redis, and every
request makes two (charge, then settle). So calls queue while a batch is in flight, and the
next batch carries all of them: one `EVALSHA` per hash slot, its arguments the calls' own,
end to end. Under load batches grow; alone, a call waits for nothing but its own round trip.
Each caller still awaits its own reply (or the batch's exception), so nothing about a call's
outcome or ordering changes: a settle has reached Redis before its response is sent.

The script must accept concatenated calls and return one reply per call, in order.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from redis.commands.core import AsyncScript

MAX_CALLS = 200  # per EVALSHA: bounds how long one script holds Redis


@dataclass(slots=True)
class _Call:
    keys: list[str]
    args: list[Any]
    reply: asyncio.Future[Any]


class ScriptBatch:
    def __init__(self, script: AsyncScript) -> None:
        self._script = script
        self._queue: dict[str, list[_Call]] = defaultdict(list)
        self._sender: asyncio.Task[None] | None = None

    async def call(self, keys: list[str], args: list[Any]) -> Any:
        """The script's reply to this call; the keys must share one hash slot."""
        loop = asyncio.get_running_loop()
        call = _Call(keys, args, loop.create_future())
        self._queue[hash_tag(keys[0])].append(call)
        if self._sender is None:
            self._sender = loop.create_task(self._send())
        return await call.reply

    async def _send(self) -> None:
        try:
            while self._queue:
                queued, self._queue = self._queue, defaultdict(list)
                batches = [
                    calls[start : start + MAX_CALLS]
                    for calls in queued.values()
                    for start in range(0, len(calls), MAX_CALLS)
                ]
                await asyncio.gather(*(self._run(calls) for calls in batches))
        finally:
            self._sender = None

    async def _run(self, calls: list[_Call]) -> None:
        keys = [key for call in calls for key in call.keys]
        args = [arg for call in calls for arg in call.args]
        try:
            replies = await self._script(keys=keys, args=args)
        except Exception as exc:  # each caller gets it, as if it had called alone
            for call in calls:
                if not call.reply.done():
                    call.reply.set_exception(exc)
            return
        except BaseException:
            for call in calls:
                call.reply.cancel()
            raise
        for call, reply in zip(calls, replies, strict=True):
            if not call.reply.done():  # its caller may have been cancelled meanwhile
                call.reply.set_result(reply)


def hash_tag(key: str) -> str:
    """The part of a key Redis Cluster hashes: inside the first non-empty `{…}`, else all."""
    start = key.find("{")
    end = key.find("}", start + 1) if start >= 0 else -1
    return key[start + 1 : end] if end > start + 1 else key
