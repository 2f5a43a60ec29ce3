"""CPU time of a server as a whole: the process, its live descendants, the children it reaped.

A gateway with workers serves from child processes and a PostgreSQL postmaster does its work
in backends, so one process's own counters would miss most of it. A child that exits during
a measurement moves its time into its parent's `children_*` counters, which are summed too,
so nothing that ran in between is lost and nothing is counted twice.
"""

from __future__ import annotations

import contextlib

import psutil


def tree_seconds(process: psutil.Process) -> float:
    """User plus system CPU seconds used so far by `process` and everything below it."""
    total = 0.0
    for member in [process, *_descendants(process)]:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            times = member.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


def _descendants(process: psutil.Process) -> list[psutil.Process]:
    try:
        children: list[psutil.Process] = process.children(recursive=True)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []
    return children
