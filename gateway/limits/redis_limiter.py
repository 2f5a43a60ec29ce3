"""The Redis limiter: every process shares the counters, so N processes admit exactly the
configured limit between them. One Lua script checks every bucket of a request and charges
them only if all pass (all-or-nothing, on the Redis server's clock); the same script settles.
Concurrent requests' calls travel in one batch (`ScriptBatch`), each still atomic.

If Redis is unreachable the configured failure mode applies: `open` falls back to
per-process limits (logged, counted), `closed` refuses with 503; both recover by themselves
on the next call that reaches Redis.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway.errors import GatewayError
from gateway.limits.buckets import Amounts, Bucket, Charge, Decision
from gateway.limits.memory import MemoryLimiter
from gateway.limits.script_batch import ScriptBatch
from gateway.metrics import Metrics

logger = logging.getLogger(__name__)
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)

_WINDOW = """
local function window(period, now)
  if period == 'minute' then return math.floor(now / 60), 60 - now % 60 end
  if period == 'day' then return math.floor(now / 86400), 86400 - now % 86400 end
  -- the UTC calendar month (days-to-civil, H. Hinnant)
  local days = math.floor(now / 86400)
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
                          - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400 + (m <= 2 and 1 or 0)
  local lengths = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
  local length = lengths[m]
  if m == 2 and ((y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0) then length = 29 end
  return y * 12 + m - 1, (length - d + 1) * 86400 - now % 86400
end
"""

# Calls end to end, each `kind, request_id, n` and n triples (one per key): an acquire
# ('a': period, limit, cost) checks every bucket and charges them only if all pass; a settle
# ('s': period, window, delta) corrects each window by the delta and frees the slots. One
# reply per call. All calls of a batch share one reading of the server's clock.
BATCH = (
    _WINDOW
    + """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000

local function acquire(k, a, n, request_id)
  local out = {'0'}
  local windows, resets, fresh = {}, {}, {}
  for i = 1, n do
    local key = KEYS[k + i]
    local period, limit, cost = ARGV[a + i * 3 - 2], tonumber(ARGV[a + i * 3 - 1]),
                                tonumber(ARGV[a + i * 3])
    if period == 'inflight' then
      redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
      local used = redis.call('ZCARD', key)
      if used + 1 > limit then return {tostring(i), '1'} end
      windows[i] = 0
      table.insert(out, '0'); table.insert(out, tostring(limit - used - 1)); table.insert(out, '0')
    else
      local w, reset = window(period, now)
      local stored = redis.call('GET', key .. ':' .. w)
      local used = tonumber(stored or '0')
      if used + cost > limit then return {tostring(i), tostring(reset)} end
      windows[i], resets[i], fresh[i] = w, reset, not stored
      table.insert(out, tostring(w)); table.insert(out, tostring(limit - used - cost))
      table.insert(out, tostring(reset))
    end
  end
  for i = 1, n do
    local key = KEYS[k + i]
    local period, cost = ARGV[a + i * 3 - 2], tonumber(ARGV[a + i * 3])
    if period == 'inflight' then
      redis.call('ZADD', key, now + 600, request_id)
      redis.call('EXPIRE', key, 700)
    else
      local counter = key .. ':' .. windows[i]
      redis.call('INCRBYFLOAT', counter, cost)
      -- Set once, when the window's counter is made: it lives until the window ends.
      if fresh[i] then redis.call('EXPIRE', counter, math.ceil(resets[i]) + 60) end
    end
  end
  return out
end

local function settle(k, a, n, request_id)
  for i = 1, n do
    local key = KEYS[k + i]
    local period, w, delta = ARGV[a + i * 3 - 2], ARGV[a + i * 3 - 1], tonumber(ARGV[a + i * 3])
    if period == 'inflight' then
      redis.call('ZREM', key, request_id)
    elseif delta ~= 0 and redis.call('EXISTS', key .. ':' .. w) == 1 then
      redis.call('INCRBYFLOAT', key .. ':' .. w, delta)
    end
  end
  return {'1'}
end

local replies = {}
local k, a = 0, 0
while a < #ARGV do
  local kind, request_id, n = ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 3])
  a = a + 3
  if kind == 'a' then
    table.insert(replies, acquire(k, a, n, request_id))
  else
    table.insert(replies, settle(k, a, n, request_id))
  end
  k = k + n
  a = a + n * 3
end
return replies
"""
)


class LimitsUnavailable(GatewayError):
    status = 503
    type = "server_error"
    code = "limits_unavailable"


class RedisLimiter:
    def __init__(self, client: aioredis.Redis, metrics: Metrics, fail_open: bool) -> None:
        self._batch = ScriptBatch(client.register_script(BATCH))
        self._metrics = metrics
        self._fail_open = fail_open
        self._fallback = MemoryLimiter()

    async def acquire(
        self, buckets: Sequence[Bucket], amounts: Amounts, request_id: str
    ) -> Decision:
        costs = [amounts[bucket.family] for bucket in buckets]
        args: list[Any] = ["a", request_id, len(buckets)]
        for bucket, cost in zip(buckets, costs, strict=True):
            args += [bucket.period, bucket.limit, cost]
        try:
            reply = await self._batch.call([b.key for b in buckets], args)
        except REDIS_DOWN as exc:
            return await self._unavailable(exc, buckets, amounts, request_id)
        values = [v.decode() if isinstance(v, bytes) else str(v) for v in reply]
        if values[0] != "0":
            return Decision(
                False, refused=buckets[int(values[0]) - 1], retry_after=float(values[1])
            )
        charges = tuple(
            Charge(
                bucket,
                cost,
                int(float(values[1 + 3 * i])),
                float(values[2 + 3 * i]),
                float(values[3 + 3 * i]),
            )
            for i, (bucket, cost) in enumerate(zip(buckets, costs, strict=True))
        )
        return Decision(True, charges)

    async def settle(self, charges: tuple[Charge, ...], actual: Amounts, request_id: str) -> None:
        if not charges:
            return
        if charges[0].local:
            await self._fallback.settle(charges, actual, request_id)
            return
        args: list[Any] = ["s", request_id, len(charges)]
        for charge in charges:
            bucket = charge.bucket
            delta = actual[bucket.family] - charge.cost if bucket.family in actual else 0
            args += [bucket.period, charge.window, delta]
        try:
            await self._batch.call([c.bucket.key for c in charges], args)
        except REDIS_DOWN as exc:
            self._metrics.limits_redis_errors.inc()
            logger.warning("could not settle limits in Redis (%s)", type(exc).__name__)

    async def _unavailable(
        self, exc: BaseException, buckets: Sequence[Bucket], amounts: Amounts, request_id: str
    ) -> Decision:
        self._metrics.limits_redis_errors.inc()
        mode = "falling back to per-process limits" if self._fail_open else "refusing"
        logger.warning("rate-limit store unreachable (%s); %s", type(exc).__name__, mode)
        if not self._fail_open:
            raise LimitsUnavailable("Rate limiting is temporarily unavailable; retry shortly.")
        decision = await self._fallback.acquire(buckets, amounts, request_id)
        return decision._replace(charges=tuple(c._replace(local=True) for c in decision.charges))
