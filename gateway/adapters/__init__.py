"""The adapter registry: the one mapping from a provider row's `adapter:` to its translator.

OpenAI-compatible vendors are not modules: they are provider rows with `adapter: openai` and
their own `api_base`. `demo` speaks OpenAI's format to the built-in in-process upstream.
"""

from __future__ import annotations

from gateway.adapters.azure import AzureOpenAIAdapter
from gateway.adapters.base import Adapter
from gateway.adapters.openai import OpenAIAdapter


class DemoAdapter(OpenAIAdapter):
    name = "demo"
    needs_api_base = False


ADAPTERS: dict[str, Adapter] = {
    "openai": OpenAIAdapter(),
    "azure": AzureOpenAIAdapter(),
    "demo": DemoAdapter(),
}
