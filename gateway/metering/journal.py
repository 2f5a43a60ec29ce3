"""The usage journal: every record is appended to a local file before anything else.

A `write` is one `os.write` to an append-only segment, so the record survives the process
being killed at any moment after it (it is in the kernel's page cache; a power loss is
another matter, documented in the README). Segments are retired once every record in them is
in the database. A segment whose owner died (its lock is free) is replayed by whichever
process starts next; inserts are idempotent on the request id, so a record written and then
replayed is still counted once.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from gateway.metering.record import UsageRecord

logger = logging.getLogger(__name__)


class Journal:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._fd = -1
        self.path: Path | None = None
        self.rotate()

    def write(self, record: UsageRecord) -> None:
        os.write(self._fd, record.to_json_line())

    def rotate(self) -> Path | None:
        """Starts a new segment; returns the one it replaces (to retire once committed)."""
        previous, old_fd = self.path, self._fd
        name = f"usage-{os.getpid()}-{os.urandom(4).hex()}.jsonl"
        self.path = self.directory / name
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # ours while we live
        if old_fd >= 0:
            os.close(old_fd)
        return previous

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def retire(self, segment: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            segment.unlink()

    def orphans(self) -> Iterator[tuple[Path, list[UsageRecord]]]:
        """Segments of processes that are gone, with their records."""
        for segment in sorted(self.directory.glob("usage-*.jsonl")):
            if segment == self.path:
                continue
            try:
                fd = os.open(segment, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue  # a live process owns it
            try:
                yield segment, list(read_segment(segment))
            finally:
                os.close(fd)


def read_segment(segment: Path) -> Iterator[UsageRecord]:
    with segment.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.endswith(b"\n"):
                logger.warning(
                    "%s: line %d is incomplete (killed mid-write); skipped", segment.name, number
                )
                continue
            yield UsageRecord.from_json(line)
