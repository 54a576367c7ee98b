"""Where output goes: results on stdout, messages and progress bars on stderr; data and
error text printed as it is (never read as rich markup), tables never cut when piped."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from rich.console import Console

T = TypeVar("T")
PIPE_WIDTH = 10_000  # not a terminal: tables as wide as their cells, nothing cut or wrapped


def _console(stderr: bool) -> Console:
    from rich.console import Console

    # markup and highlighting off: a value such as ^[a-z]{2}$ or "[draft].txt" prints as it is;
    # soft_wrap: messages stay on one line for logs and grep.
    console = Console(stderr=stderr, soft_wrap=True, markup=False, highlight=False, emoji=False)
    if not console.is_terminal:
        console.width = PIPE_WIDTH
    return console


@cache
def out() -> Console:
    """stdout: what a command answers."""
    return _console(stderr=False)


@cache
def err() -> Console:
    """stderr: messages, warnings, progress bars."""
    return _console(stderr=True)


def say(text: str, style: str | None = None) -> None:
    """One line of plain text on stdout (styled on a terminal)."""
    from rich.text import Text

    out().print(Text(text, style=style or ""))


def warn(text: str, style: str | None = None) -> None:
    """One line of plain text on stderr."""
    from rich.text import Text

    err().print(Text(text, style=style or ""))


def error_lines(what: str, fix: str | None = None) -> None:
    """`error: <what>` and, when known, the fix on a second line (stderr, plain)."""
    what = " ".join(what.split("\n"))
    if not sys.stderr.isatty():  # plain text for logs, without loading rich
        sys.stderr.write(f"error: {what}\n" + (f"  {fix}\n" if fix else ""))
        sys.stderr.flush()
        return
    from rich.text import Text

    err().print(Text("error: ", style="red") + Text(what))
    if fix:
        err().print(Text("  " + fix))


def print_json(value: Any) -> None:
    """JSON on stdout, and nothing else (for scripts)."""
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]],
          right: Iterable[str] = ()) -> None:
    """A table on stdout: boxed on a terminal, its full width when piped."""
    from rich.table import Table
    from rich.text import Text

    right = set(right)
    shown = Table(title=Text(title), title_justify="left")
    for column in columns:
        shown.add_column(Text(column), justify="right" if column in right else "left",
                         overflow="fold")
    for row in rows:
        shown.add_row(*(Text(str(cell)) for cell in row))
    out().print(shown)


def with_progress(run: Callable[[], T]) -> T:
    """Run a flow in this process with a progress bar per pipeline stage (on a terminal)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )

    from tasks import progress

    bars = Progress(TextColumn("{task.description:<24}", markup=False), BarColumn(),
                    MofNCompleteColumn(), TimeElapsedColumn(), console=err(),
                    disable=not err().is_terminal)
    stages: dict[str, TaskID] = {}
    lock = threading.Lock()

    def update(stage: str, done: int, total: int) -> None:
        with lock:
            if stage not in stages:
                stages[stage] = bars.add_task(stage, total=total or None)
            bars.update(stages[stage], completed=done, total=total or None)  # 0: not known

    with bars, progress.listening(update):
        return run()


def print_report(report: Any, as_json: bool) -> None:
    """The run summary: the stages with their times, the counts, the first skips (`--json`:
    the whole report as JSON, alone on stdout)."""
    if as_json:
        print_json(report.to_dict())
        return
    for line in getattr(report, "stage_lines", lambda: [])():
        say(line)
    table("ingest summary", ("step", "count"),
          ((label, str(value))
           for label, value in report.rows()), right=("count",))
    for example in report.skip_examples:
        say(f"skipped {example}", style="yellow")
