"""The Health page's chart of mails sent and failed per minute, as SVG geometry.

Pure: the minutes in (``consumer/admin/health.py``), rectangles and axis ticks out, in the
SVG's own units; the template writes them as ``<rect>`` elements. So the chart is drawn
on the server, with no chart library and no script, inside the standalone app's
Content-Security-Policy. Each minute with mail is one bar: what was sent from the axis
up, what failed stacked on it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from ..health import Minute

WIDTH, HEIGHT = 760, 200
#: Room for the axes' labels: left, top, right, bottom.
LEFT, TOP, RIGHT, BOTTOM = 44, 10, 10, 24
#: Minutes between two labels of the time axis, the first that leaves at most :data:`MOST_LABELS`.
LABEL_STEPS = (1, 5, 10, 15, 30, 60, 120)
MOST_LABELS = 8


@dataclass(frozen=True)
class Bar:
    """One minute with mail: where its two rectangles go, and what it counts."""

    start: float
    #: The minute's time, as the page shows it.
    label: str
    sent: int
    failed: int
    x: float
    width: float
    sent_y: float
    sent_height: float
    failed_y: float
    failed_height: float


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    top: int
    right: int
    baseline: int
    #: The value at the top of the plot: a round number at least the busiest minute's mails.
    top_value: int
    bars: tuple[Bar, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    sent: int
    failed: int


def clock(epoch: float) -> str:
    """``HH:MM`` in the server's local time."""
    return time.strftime("%H:%M", time.localtime(epoch))


def round_up(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... that is at least ``value`` (1 for nothing)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def chart(minutes: Sequence[Minute], label: Callable[[float], str] = clock) -> Chart:
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    baseline = HEIGHT - BOTTOM
    top_value = round_up(max((m.sent + m.failed for m in minutes), default=0))
    step = plot_width / max(1, len(minutes))
    # A gap between bars while there is room for one.
    width = step - 1 if step >= 3 else step

    def height(count: int) -> float:
        return round(count / top_value * plot_height, 2)

    bars = []
    for index, minute in enumerate(minutes):
        if not (minute.sent or minute.failed):
            continue
        sent_height, failed_height = height(minute.sent), height(minute.failed)
        bars.append(Bar(minute.start, label(minute.start), minute.sent, minute.failed, round(LEFT + index * step, 2),
                        round(width, 2), round(baseline - sent_height, 2), sent_height,
                        round(baseline - sent_height - failed_height, 2), failed_height))
    every = next((s for s in LABEL_STEPS if len(minutes) / s <= MOST_LABELS), LABEL_STEPS[-1])
    x_ticks = tuple(Tick(round(LEFT + index * step, 2), label(minute.start)) for index, minute in enumerate(minutes)
                    if int(minute.start // 60) % every == 0)
    y_values = (0, top_value // 2, top_value) if top_value % 2 == 0 else (0, top_value)
    y_ticks = tuple(Tick(round(baseline - height(value), 2), str(value)) for value in y_values)
    return Chart(WIDTH, HEIGHT, LEFT, TOP, WIDTH - RIGHT, baseline, top_value, tuple(bars), x_ticks, y_ticks,
                 sum(m.sent for m in minutes), sum(m.failed for m in minutes))
