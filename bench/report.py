"""The report: medians over rounds, one table, the ratios worth quoting, and the JSON file.

Absolute numbers move with whatever else the machine is doing; ratios between targets that
ran interleaved under the same noise move much less, so the ratios are the result.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

Runs = dict[str, dict[str, list[dict[str, Any]]]]  # scenario -> target -> one result a round
Summary = dict[str, dict[str, dict[str, Any]]]  # scenario -> target -> medians and totals

_MEDIANS = ("rps", "p50_ms", "p99_ms", "ttfb_p50_ms", "cpu_us", "db_us")
_REFERENCES = ("direct", "passthrough")


def summarize(runs: Runs) -> Summary:
    """Per scenario and target: the median of each metric over rounds, errors summed, and the
    spread of throughput over rounds (how much noise there was to begin with)."""
    summary: Summary = {}
    for scenario, targets in runs.items():
        for name, rounds in targets.items():
            row: dict[str, Any] = {field: _median(rounds, field) for field in _MEDIANS}
            rates = [r["rps"] for r in rounds]
            row["rps_spread_pct"] = (
                (max(rates) - min(rates)) / row["rps"] * 100 if row["rps"] else None
            )
            row["rounds"] = len(rounds)
            row["completed"] = sum(r["completed"] for r in rounds)
            row["errors"] = sum(r["errors"] for r in rounds)
            row["cut_off"] = sum(r["cut_off"] for r in rounds)
            row["time_limited_rounds"] = sum(bool(r.get("hit_time_limit")) for r in rounds)
            kinds: Counter[str] = Counter()
            for r in rounds:
                kinds.update(r["error_kinds"])
            row["error_kinds"] = dict(kinds)
            summary.setdefault(scenario, {})[name] = row
    return summary


def ratios(summary: Summary) -> dict[str, dict[str, dict[str, float | None]]]:
    """Every target but `direct` against the references: CPU per request and throughput as
    ratios, latency as milliseconds added."""
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    for scenario, targets in summary.items():
        for name, row in targets.items():
            if name == "direct":
                continue
            entry: dict[str, float | None] = {}
            for ref in _REFERENCES:
                base = targets.get(ref)
                if base is None or ref == name:
                    continue
                entry[f"rps_vs_{ref}"] = _ratio(row["rps"], base["rps"])
                for field in ("p50_ms", "p99_ms", "ttfb_p50_ms"):
                    entry[f"added_{field}_vs_{ref}"] = _minus(row[field], base[field])
            floor = targets.get("passthrough")
            if floor is not None and name != "passthrough":
                entry["cpu_vs_passthrough"] = _ratio(row["cpu_us"], floor["cpu_us"])
                with_db = _plus(row["cpu_us"], row["db_us"]) if row["db_us"] is not None else None
                entry["cpu_with_db_vs_passthrough"] = _ratio(with_db, floor["cpu_us"])
            out.setdefault(scenario, {})[name] = entry
    return out


def print_report(
    summary: Summary, table_ratios: dict[str, dict[str, dict[str, float | None]]]
) -> None:
    head = (
        f"{'target':<12} {'scenario':<9} {'req/s':>8} {'±%':>4} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'TTFB p50':>8} {'CPU µs/req':>10} {'DB µs/req':>9} {'errors':>6}"
    )
    print(head)
    print("-" * len(head))
    for scenario, targets in summary.items():
        for name, row in targets.items():
            print(
                f"{name:<12} {scenario:<9} {_num(row['rps'], 8, 0)} "
                f"{_num(row['rps_spread_pct'], 4, 0)} {_num(row['p50_ms'], 7, 2)} "
                f"{_num(row['p99_ms'], 7, 2)} {_num(row['ttfb_p50_ms'], 8, 2)} "
                f"{_num(row['cpu_us'], 10, 0)} {_num(row['db_us'], 9, 0)} "
                f"{row['errors'] + row['cut_off']:>6}"
            )
        print()
    rounds = max(row["rounds"] for targets in summary.values() for row in targets.values())
    print(f"RATIOS (medians of {rounds} interleaved rounds; quote these, not absolute numbers)")
    for scenario, targets in table_ratios.items():
        print(f"{scenario}:")
        for name, r in targets.items():
            if not r:  # nothing to compare with
                continue
            lines = _ratio_lines(r)
            print(f"  {name:<12} {lines[0]}")
            print(f"  {'':<12} {lines[1]}")
    problems = [
        f"  {scenario}/{name}: {row['errors']} errors {row['error_kinds']}, "
        f"{row['cut_off']} cut off by the time limit"
        for scenario, targets in summary.items()
        for name, row in targets.items()
        if row["errors"] or row["cut_off"]
    ]
    if problems:
        print("\nWARNING: failed or unfinished requests; those rows are not comparable:")
        print("\n".join(problems))
    limited = sorted(
        {
            name
            for targets in summary.values()
            for name, row in targets.items()
            if row["time_limited_rounds"]
        }
    )
    if limited:
        print(f"note: some runs of {', '.join(limited)} ended at --seconds before --requests.")
    print("±%: spread of req/s over rounds. DB: CPU of the gateway's stores (its embedded")
    print("PostgreSQL, and Redis with --redis), per request.")


def _ratio_lines(r: dict[str, float | None]) -> list[str]:
    """Throughput and CPU on one line, the latency added on the next, the floor first."""
    refs = ("passthrough", "direct")
    first = []
    if "cpu_vs_passthrough" in r:
        cpu = f"CPU/req {_x(r['cpu_vs_passthrough'])} passthrough"
        if r.get("cpu_with_db_vs_passthrough") is not None:
            cpu += f" ({_x(r['cpu_with_db_vs_passthrough'])} with its DB)"
        first.append(cpu)
    first.append(
        "req/s "
        + ", ".join(f"{_x(r[f'rps_vs_{ref}'])} {ref}" for ref in refs if f"rps_vs_{ref}" in r)
    )
    added = []
    with_ttfb = False
    for ref in refs:
        if f"added_p50_ms_vs_{ref}" not in r:
            continue
        text = f"{_ms(r[f'added_p50_ms_vs_{ref}'])}/{_ms(r[f'added_p99_ms_vs_{ref}'])}"
        if r[f"added_ttfb_p50_ms_vs_{ref}"] is not None:
            with_ttfb = True
            text += f" ({_ms(r[f'added_ttfb_p50_ms_vs_{ref}'])})"
        added.append(f"{text} ms vs {ref}")
    label = "added p50/p99 (TTFB): " if with_ttfb else "added p50/p99: "
    return ["; ".join(first), label + ", ".join(added)]


def write_json(path: Path, meta: dict[str, Any], summary: Summary, runs: Runs) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"meta": meta, "summary": summary, "ratios": ratios(summary), "runs": runs}
    path.write_text(json.dumps(document, indent=2) + "\n")


def _median(rounds: list[dict[str, Any]], field: str) -> float | None:
    values = [v for r in rounds if (v := r.get(field)) is not None]
    return statistics.median(values) if values else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _minus(a: float | None, b: float | None) -> float | None:
    return a - b if a is not None and b is not None else None


def _plus(a: float | None, b: float | None) -> float | None:
    return a + b if a is not None and b is not None else None


def _num(value: float | None, width: int, digits: int) -> str:
    return f"{value:>{width}.{digits}f}" if value is not None else f"{'-':>{width}}"


def _x(value: float | None) -> str:
    return f"{value:.2f}x" if value is not None else "-"


def _ms(value: float | None) -> str:
    return f"{value:+.2f}" if value is not None else "-"
