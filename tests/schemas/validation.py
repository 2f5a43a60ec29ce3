"""Checking instances against the schemas of `tests.schemas.openai`, with every violation
listed in words, and the order the spec describes for the chunks of a stream."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from tests.schemas.openai import CHAT_COMPLETION_CHUNK


def violations(instance: Any, schema: Mapping[str, Any]) -> list[str]:
    """Every way `instance` breaks `schema`, one readable line each, sorted by location."""
    validator = Draft202012Validator(schema)
    found = sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.path)))
    return [line for error in found for line in _describe(error)]


def _describe(error: ValidationError) -> list[str]:
    """An anyOf/oneOf failure is explained by the alternative that was meant (the one not
    ruled out by a null or a discriminating `type` value), not by jsonschema's summary."""
    if error.context:
        branches: dict[Any, list[ValidationError]] = defaultdict(list)
        for sub in error.context:
            branches[sub.relative_schema_path[0]].append(sub)
        meant = [subs for subs in branches.values() if not any(map(_rules_out, subs))]
        if len(meant) == 1:
            return [line for sub in meant[0] for line in _describe(sub)]
    where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    message = error.message if len(error.message) <= 160 else error.message[:157] + "..."
    rule = next((_STREAM_RULES[p] for p in error.schema_path if p in _STREAM_RULES), None)
    return [f"{where}: {message}" + (f" ({rule})" if rule else "")]


_STREAM_RULES = {
    "then": "only the usage chunk, the one with `choices: []`, may carry a usage object",
    "else": "a chunk with `choices: []` is the usage chunk",
}


def _rules_out(error: ValidationError) -> bool:
    if error.validator == "type" and error.validator_value == "null":
        return True
    return error.validator in ("enum", "const") and list(error.relative_path) == ["type"]


def assert_valid(instance: Any, schema: Mapping[str, Any]) -> None:
    """Raise AssertionError listing every violation, not just the first one."""
    problems = violations(instance, schema)
    if problems:
        listing = "\n  ".join(problems)
        raise AssertionError(f"{len(problems)} schema violation(s):\n  {listing}")


def assert_valid_stream(
    chunks: list[Mapping[str, Any]], schema: Mapping[str, Any] = CHAT_COMPLETION_CHUNK
) -> None:
    """Each chunk against `schema`, then the order the spec describes: one id for the whole
    stream, each choice finished exactly once and silent afterwards, and a usage chunk (if
    any) only at the very end."""
    problems = [
        f"chunk {i}: {p}" for i, chunk in enumerate(chunks) for p in violations(chunk, schema)
    ]
    if not problems:
        problems = _stream_order_problems(chunks)
    if problems:
        listing = "\n  ".join(problems)
        raise AssertionError(f"{len(problems)} stream violation(s):\n  {listing}")


def _stream_order_problems(chunks: list[Mapping[str, Any]]) -> list[str]:
    problems: list[str] = []
    if not chunks:
        return ["the stream has no chunks"]
    ids = {chunk["id"] for chunk in chunks}
    if len(ids) > 1:
        problems.append(f"chunks carry different ids: {sorted(ids)}")
    finished: set[int] = set()
    for i, chunk in enumerate(chunks):
        if not chunk["choices"] and i != len(chunks) - 1:
            problems.append(f"chunk {i}: the usage chunk is not the last chunk")
        for choice in chunk["choices"]:
            index = choice["index"]
            if index in finished:
                problems.append(f"chunk {i}: choice {index} continues after its finish_reason")
            if choice["finish_reason"] is not None:
                finished.add(index)
    seen = {choice["index"] for chunk in chunks for choice in chunk["choices"]}
    for index in sorted(seen - finished):
        problems.append(f"choice {index} never got a finish_reason")
    return problems
