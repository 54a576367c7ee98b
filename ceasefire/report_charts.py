"""The report's bar charts as PNGs: one horizontal bar per value, largest on top, counts at the
bar ends. Drawn on matplotlib's Agg canvas without pyplot, like the timeline chart."""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

LABEL_CHARS = 40  # longer labels are cut, so a hostile title-length value cannot squash the bars


def short(label: str, limit: int = LABEL_CHARS) -> str:
    """`label` on one line, cut to `limit` characters with an ellipsis."""
    flat = " ".join(label.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def plot_bars(bars: list[tuple[str, int]], path: Path, title: str, note: str = "") -> None:
    """Draw `bars` (label, count; in the order given, first on top) into the PNG file `path`."""
    fig = Figure(figsize=(7, 0.9 + 0.38 * max(len(bars), 2)), layout="constrained")
    FigureCanvasAgg(fig)  # PNG through Agg, whatever backend pyplot would pick
    ax = fig.subplots()
    labels = [short(label) for label, _ in bars][::-1]
    counts = [count for _, count in bars][::-1]
    if bars:
        drawn = ax.barh(range(len(bars)), counts, color="#4c72b0")
        ax.bar_label(drawn, labels=[f"{c:,}" for c in counts], padding=3, fontsize="small")
        ax.set_yticks(range(len(bars)), labels)
        ax.set_xlim(0, max(counts) * 1.15 or 1)
    else:
        ax.set_yticks([])
        ax.text(0.5, 0.5, "none among the matches", ha="center", va="center",
                transform=ax.transAxes)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("matching articles")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title)
    if note:
        fig.supxlabel(note, fontsize="x-small", color="0.3")
    fig.savefig(path, dpi=100, format="png")
