"""The upstream HTTP client runs on uvloop in the gateway; its tests run on both loops."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import uvloop


def pytest_asyncio_loop_factories(config: Any, item: Any) -> Mapping[str, Any]:
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
