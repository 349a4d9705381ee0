"""Chart geometry for server-rendered SVG: coordinates and ticks computed here, drawn by the templates.

Pure functions over plain numbers; the pages read without JavaScript and each chart has a table beside it.
"""

from dataclasses import dataclass

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 12, 30
MAX_X_LABELS = 6
BAR_WIDTH, BAR_HEIGHT = 640, 28


@dataclass(frozen=True)
class Tick:
    position: float
    label: str
    anchor: str = "middle"


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int


@dataclass(frozen=True)
class Chart:
    """A time chart: a line (`points`, `area`) or bars, with its axes."""

    width: int
    height: int
    bottom: float
    left: float
    right: float
    points: str
    area: str
    bars: list[Bar]
    x_ticks: list[Tick]
    y_ticks: list[Tick]


@dataclass(frozen=True)
class Segment:
    key: str
    x: float
    width: float
    value: int


def nice_step(highest: float, ticks: int = 4) -> int:
    """A round step (1, 2 or 5 times a power of ten) giving about `ticks` intervals up to `highest`."""
    raw = max(highest / ticks, 1)
    power = 10 ** (len(str(int(raw))) - 1)
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power


def time_chart(values: list[int], labels: list[str], kind: str = "line") -> Chart:
    """Line or bar geometry for one value per bucket, oldest first; `labels` name the buckets."""
    count = max(len(values), 1)
    step = nice_step(max(values, default=0))
    top_value = step * max(1, -(-max(values, default=0) // step))
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_width / count

    def y_of(value: float) -> float:
        return round(TOP + plot_height * (1 - value / top_value), 1)

    centres = [round(LEFT + slot * (index + 0.5), 1) for index in range(len(values))]
    points = " ".join(f"{x},{y_of(v)}" for x, v in zip(centres, values))
    base = HEIGHT - BOTTOM
    area = f"{centres[0]},{base} {points} {centres[-1]},{base}" if values else ""
    bars = [Bar(x=round(LEFT + slot * index + slot * 0.1, 1), y=y_of(value), width=round(max(slot * 0.8, 0.5), 1),
                height=round(base - y_of(value), 1), label=label, value=value)
            for index, (value, label) in enumerate(zip(values, labels))] if kind == "bar" else []
    y_ticks = [Tick(position=y_of(v), label=str(v)) for v in range(0, top_value + 1, step)]
    return Chart(width=WIDTH, height=HEIGHT, bottom=base, left=LEFT, right=WIDTH - RIGHT,
                 points=points if kind == "line" else "", area=area if kind == "line" else "", bars=bars,
                 x_ticks=_x_ticks(centres, labels), y_ticks=y_ticks)


def _x_ticks(centres: list[float], labels: list[str]) -> list[Tick]:
    if not centres:
        return []
    shown = min(len(centres), MAX_X_LABELS)
    indexes = sorted({round(i * (len(centres) - 1) / max(shown - 1, 1)) for i in range(shown)})
    ticks = []
    for index in indexes:
        anchor = "start" if index == 0 and len(indexes) > 1 else "end" if index == len(centres) - 1 and index else "middle"
        ticks.append(Tick(position=centres[index], label=labels[index], anchor=anchor))
    return ticks


def stacked_bar(parts: list[tuple[str, int]]) -> list[Segment]:
    """Segments of one horizontal bar, proportional to each part (parts of 0 are left out)."""
    total = sum(value for _, value in parts)
    segments, x = [], 0.0
    for key, value in parts:
        if value and total:
            width = BAR_WIDTH * value / total
            segments.append(Segment(key=key, x=round(x, 2), width=round(width, 2), value=value))
            x += width
    return segments
