"""A timeline as a PNG: articles per interval above, their share of all indexed articles below,
one line per series with the total in black. Drawn on matplotlib's Agg canvas without pyplot,
so no display and no global figure state."""

from __future__ import annotations

from datetime import datetime
from math import nan
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from ceasefire.timeline import NONE, OTHER, TOTAL, Timeline

STYLE: dict[str, dict[str, Any]] = {OTHER: {"color": "0.55", "linestyle": "--"},
                                    NONE: {"color": "0.75", "linestyle": ":"}}


def interval_start(label: str) -> datetime:
    """The first day of an interval label (yyyy-MM-dd or yyyy-MM)."""
    return datetime.fromisoformat(label if len(label) > 7 else f"{label}-01")


def plot_timeline(tl: Timeline, path: Path, title: str = "") -> None:
    """Draw `tl` into the PNG file `path`."""
    fig = Figure(figsize=(10, 6.5), layout="constrained")
    FigureCanvasAgg(fig)  # PNG through Agg, whatever backend pyplot would pick
    counts_ax, share_ax = fig.subplots(2, 1, sharex=True)
    x = [interval_start(label) for label in tl.intervals]
    marker = "o" if len(x) <= 60 else None
    lines: list[tuple[str, list[int], dict[str, Any]]] = [
        (TOTAL, tl.counts, {"color": "black", "linewidth": 2.2, "zorder": 3}),  # on top
        *((s.name, s.counts, STYLE.get(s.name, {})) for s in tl.series)]
    for name, counts, style in lines:
        shares = [nan if (v := tl.share(c, i)) is None else v for i, c in enumerate(counts)]  # gaps
        counts_ax.plot(x, counts, label=name, marker=marker, markersize=3, **style)
        share_ax.plot(x, shares, label=name, marker=marker, markersize=3, **style)
    counts_ax.set_ylabel(f"articles per {tl.interval}")
    counts_ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    counts_ax.set_ylim(bottom=0)
    share_ax.set_ylabel("share of all indexed articles")
    share_ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    share_ax.set_ylim(bottom=0)
    locator = AutoDateLocator()
    share_ax.xaxis.set_major_locator(locator)
    share_ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    for ax in (counts_ax, share_ax):
        ax.grid(alpha=0.3)
    if not x:
        counts_ax.text(0.5, 0.5, "no dated articles", ha="center", transform=counts_ax.transAxes)
    if tl.series:
        counts_ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small",
                         title=tl.split)
    fig.suptitle(title or f"articles per {tl.interval}" + (f" by {tl.split}" if tl.split else ""))
    fig.supxlabel("\n".join(tl.notes()), fontsize="x-small", color="0.3")
    fig.savefig(path, dpi=110, format="png")
