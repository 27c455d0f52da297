"""Inline SVG charts for the RFM page (pure functions; every label is escaped here, so the
templates may insert the markup as it is)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

__all__ = ["PALETTE", "bars_svg", "lines_svg"]

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def _frame(
    title: str, width: int, height: int, left: int, x_end: float, top: int, plot_h: float
) -> list[str]:
    """The opening of a chart: the svg element with its (escaped) title, and the 0-100 % grid."""
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>',
        f'<text x="{left}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    for tick in (0, 25, 50, 75, 100):
        y = top + plot_h * (1 - tick / 100)
        out.append(f'<line x1="{left}" x2="{x_end}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{tick}%</text>')
    return out


def _color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def bars_svg(
    labels: Sequence[str], series: dict[str, Sequence[float]], title: str, width: int = 560, height: int = 240
) -> str:
    """Grouped bars of fractions 0..1 (one group per label, one bar per series), as percentages."""
    left, bottom, top = 40, 46, 26
    plot_w, plot_h = width - left - 10, height - bottom - top
    n_series = max(1, len(series))
    group_w = plot_w / max(1, len(labels))
    bar_w = group_w * 0.7 / n_series
    out = _frame(title, width, height, left, width - 10, top, plot_h)
    for s, (name, values) in enumerate(series.items()):
        for g, value in enumerate(values):
            h = plot_h * max(0.0, min(1.0, float(value)))
            x = left + g * group_w + group_w * 0.15 + s * bar_w
            out.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{_color(s)}"><title>{escape(name)} {value:.1%}</title></rect>'
            )
        lx = left + s * 150
        out.append(f'<rect x="{lx}" y="{height - 14}" width="10" height="10" fill="{_color(s)}"/>')
        out.append(f'<text x="{lx + 14}" y="{height - 5}" font-size="11">{escape(name)}</text>')
    for g, label in enumerate(labels):
        x = left + g * group_w + group_w / 2
        out.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 16}" font-size="11" text-anchor="middle">{escape(label)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def lines_svg(
    xs: Sequence[str],
    series: dict[str, Sequence[float | None]],
    title: str,
    width: int = 560,
    height: int = 260,
) -> str:
    """One line per series over the x labels (as-of dates), values 0..1 shown as percentages;
    None leaves a gap."""
    left, bottom, top, right = 40, 62, 26, 34
    plot_w, plot_h = width - left - right, height - bottom - top
    step = plot_w / max(1, len(xs) - 1)
    out = _frame(title, width, height, left, width - right, top, plot_h)
    every = max(1, len(xs) // 8)  # at most ~8 date labels
    for i, x_label in enumerate(xs):
        if i % every == 0 or i == len(xs) - 1:
            x = left + i * step if len(xs) > 1 else left + plot_w / 2
            out.append(
                f'<text x="{x:.1f}" y="{top + plot_h + 14}" font-size="10" text-anchor="middle">{escape(x_label)}</text>'
            )
    for s, (name, values) in enumerate(series.items()):
        points = []
        for i, value in enumerate(values):
            if value is None:
                continue
            x = left + i * step if len(xs) > 1 else left + plot_w / 2
            y = top + plot_h * (1 - max(0.0, min(1.0, float(value))))
            points.append(f"{x:.1f},{y:.1f}")
            out.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{_color(s)}">'
                f"<title>{escape(name)} {escape(xs[i])}: {value:.1%}</title></circle>"
            )
        if len(points) > 1:
            out.append(
                f'<polyline fill="none" stroke="{_color(s)}" stroke-width="2" points="{" ".join(points)}"/>'
            )
        lx = left + (s % 4) * 130
        ly = height - 26 + (s // 4) * 14
        out.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{_color(s)}"/>')
        out.append(f'<text x="{lx + 14}" y="{ly}" font-size="11">{escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)
