"""Azure OpenAI: OpenAI's body format behind per-deployment URLs and an `api-key` header.

The deployment's `model` is the Azure deployment name; `api_version` comes from the provider
row. Everything else (normalisation, streams, errors) is OpenAI's.
"""

from __future__ import annotations

from gateway.adapters.base import Operation, Target
from gateway.adapters.openai import PATHS, OpenAIAdapter

DEFAULT_API_VERSION = "2024-10-21"


class AzureOpenAIAdapter(OpenAIAdapter):
    name = "azure"

    def url(self, operation: Operation, target: Target) -> str:
        version = target.api_version or DEFAULT_API_VERSION
        return (
            f"{target.api_base}/openai/deployments/{target.model}"
            f"{PATHS[operation]}?api-version={version}"
        )

    def credentials(self, api_key: str) -> dict[str, str]:
        return {"api-key": api_key}
