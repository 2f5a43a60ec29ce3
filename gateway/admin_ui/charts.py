"""Bar charts as geometry for the `_chart.html` partial, and the number formats the usage
pages share. Charts are server-rendered SVG: no script, and no style attribute (the CSP
forbids them), only coordinates and CSS classes."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

WIDTH, HEIGHT = 400, 180  # the viewBox; sized near the pixels it gets, so text stays legible
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 8, 10, 24
_MAX_AXIS_LABELS = 8
_LABEL_CHARS = 14


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True, slots=True)
class AxisLabel:
    x: float
    text: str


@dataclass(frozen=True, slots=True)
class BarChart:
    title: str
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    labels: tuple[AxisLabel, ...]
    width: int
    height: int
    left: int = _LEFT

    @property
    def right(self) -> int:
        return self.width - _RIGHT

    @property
    def baseline(self) -> int:
        return self.height - _BOTTOM


def bar_chart(
    title: str,
    points: Sequence[tuple[str, float]],
    show: Callable[[float], str],
    width: int = WIDTH,
    height: int = HEIGHT,
) -> BarChart:
    """One bar a point, on a scale from zero to a round number above the largest value;
    `show` formats values for the axis and each bar's tooltip."""
    top = _round_up(max((value for _, value in points), default=0.0))
    baseline, plot_height = height - _BOTTOM, height - _TOP - _BOTTOM
    slot = (width - _LEFT - _RIGHT) / max(len(points), 1)
    gap = min(slot * 0.2, 4.0)
    bars = []
    for i, (label, value) in enumerate(points):
        tall = plot_height * value / top
        bars.append(
            Bar(
                x=round(_LEFT + i * slot + gap / 2, 2),
                y=round(baseline - tall, 2),
                width=round(slot - gap, 2),
                height=round(tall, 2),
                label=label,
                value=show(value),
            )
        )
    ticks = tuple(Tick(round(baseline - plot_height * f, 2), show(top * f)) for f in (0, 0.5, 1))
    every = math.ceil(len(points) / _MAX_AXIS_LABELS) or 1
    labels = tuple(
        AxisLabel(round(_LEFT + (i + 0.5) * slot, 2), _shorten(label))
        for i, (label, _) in enumerate(points)
        if i % every == 0
    )
    return BarChart(title, tuple(bars), ticks, labels, width, height)


def _round_up(value: float) -> float:
    """The next 1, 2, 2.5 or 5 times a power of ten: an axis people can read."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if value <= m * power * (1 + 1e-9))


def _shorten(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"


def count(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def usd(value: Decimal | float) -> str:
    """Dollars and cents from $1 up; below, enough decimals that a cheap model's spend
    does not read as $0.00."""
    amount = Decimal(str(value)) if isinstance(value, float) else value
    if amount >= 1:
        return f"${amount:,.2f}"
    whole, _, fraction = f"{amount:.6f}".rstrip("0").partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


def milliseconds(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


def formats() -> dict[str, Any]:
    """The formats above by name, for templates."""
    return {"count": count, "usd": usd, "percent": percent, "ms": milliseconds}
