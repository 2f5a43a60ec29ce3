"""Calls of one Lua script, sent to Redis together when they come faster than Redis answers.

A round trip to Redis costs the gateway far more CPU than the script costs Redis, and every
request makes two (charge, then settle). A call made while nothing is in flight goes at
once, alone; calls made while one is in flight queue, and the next batch carries them all:
one `EVALSHA` per hash slot, their arguments end to end. So under load batches grow, and
alone a call costs what it always did. Each caller still awaits its own reply (or the
batch's exception), so a call's outcome and ordering do not change: a settle has reached
Redis before its response is sent.

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
        self._busy = False  # a call or a batch is in flight
        self._sender: asyncio.Task[None] | None = None

    async def call(self, keys: list[str], args: list[Any]) -> Any:
        """The script's reply to this call; the keys must share one hash slot."""
        if not self._busy:
            self._busy = True
            try:
                replies = await self._script(keys=keys, args=args)
            finally:
                self._next()
            return replies[0]
        call = _Call(keys, args, asyncio.get_running_loop().create_future())
        self._queue[hash_tag(keys[0])].append(call)
        return await call.reply

    def _next(self) -> None:
        """What was in flight has returned: send what queued meanwhile, or go idle."""
        if not self._queue:
            self._busy = False
            return
        queued, self._queue = self._queue, defaultdict(list)
        batches = [
            calls[start : start + MAX_CALLS]
            for calls in queued.values()
            for start in range(0, len(calls), MAX_CALLS)
        ]
        self._sender = asyncio.get_running_loop().create_task(self._send(batches))

    async def _send(self, batches: list[list[_Call]]) -> None:
        try:
            await asyncio.gather(*(self._run(calls) for calls in batches))
        finally:
            self._next()

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
