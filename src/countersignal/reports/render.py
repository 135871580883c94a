"""Report output: flat CSV, and a server-rendered HTML page with inline SVG charts."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"


def flatten(figures: dict, prefix: str = "") -> list[tuple[str, object]]:
    """``("tco.items.removed", 3)`` rows, in a stable order."""
    rows: list[tuple[str, object]] = []
    for key, value in figures.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows.extend(flatten(value, f"{name}."))
        else:
            rows.append((name, value))
    return rows


def to_csv(figures: dict) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["metric", "value"])
    for name, value in flatten(figures):
        writer.writerow([name, "" if value is None else value])
    return buffer.getvalue()


def bar_chart_svg(title: str, counts: dict[str, int]) -> str:
    """A small horizontal bar chart as inline SVG. Uses matplotlib's object API (no pyplot
    global state), so concurrent requests can render safely."""
    from matplotlib.figure import Figure

    labels = list(counts) or ["(none)"]
    values = [counts[k] for k in counts] or [0]
    fig = Figure(figsize=(6, 0.45 * len(labels) + 1.0))
    ax = fig.subplots()
    ax.barh(labels, values, color="#3b6ea5")
    ax.set_title(title)
    ax.invert_yaxis()
    for i, value in enumerate(values):
        ax.text(value, i, f" {value}", va="center")
    ax.set_xlim(0, max([*values, 1]) * 1.15)
    fig.tight_layout()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]


def to_html(figures: dict) -> str:
    tco = figures["tco"]
    charts = [
        bar_chart_svg("Decisions by action", tco["measures"]["by_action"]),
        bar_chart_svg("Removal orders", {
            "acted on": tco["removal_orders"]["acted_on"],
            **{f"not acted on: {k.replace('_', ' ')}": v
               for k, v in tco["removal_orders"]["not_acted_on_by_reason"].items()},
            "unanswered": tco["removal_orders"]["unanswered"],
        }),
        bar_chart_svg("Complaints", {"upheld": tco["complaints"]["upheld"],
                                     "reversed (restored)": tco["complaints"]["reversed"]}),
    ]
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    return env.get_template("report.html").render(
        figures=figures, rows=flatten(figures), charts=charts
    )
