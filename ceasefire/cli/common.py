"""What the command modules share: settings loaded on use, help text helpers."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ceasefire.cli.errors import UserError

if TYPE_CHECKING:
    from tasks.settings import Settings

EXAMPLES_DIR = Path(__file__).resolve().parent.parent.parent / "examples"


def examples(*lines: str) -> str:
    """An `Examples:` block for a command's help (one invocation a line)."""
    return "\b\n" + "\n".join(["Examples:", *(f"  {line}" for line in lines)])


def unwrap(doc: str | None) -> str:
    """A docstring as help text: paragraphs kept, the lines of each joined (rich help keeps
    single line breaks)."""
    import inspect

    paragraphs = inspect.cleandoc(doc or "").split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


def command(app: Any, func: Any, *example_lines: str, panel: str, name: str | None = None) -> None:
    """Add `func` to `app` as a command: its docstring as the help, then the examples."""
    text = unwrap(func.__doc__)
    app.command(name, help=text, short_help=text.split("\n\n")[0], rich_help_panel=panel,
                epilog=examples(*example_lines))(func)


def settings() -> Settings:
    """The settings from the environment (SettingsError, exit 2, names the bad variable)."""
    from tasks.settings import Settings

    return Settings.from_env()


@contextmanager
def pyarrow_blocked() -> Iterator[None]:
    """While a command runs, `import pyarrow` fails unless the command asks for it
    (`allow_pyarrow`): the Elasticsearch client's serializer imports pyarrow whenever it is
    installed, for ES|QL Arrow responses we never request: half a second of every command."""
    blocked = "pyarrow" not in sys.modules
    if blocked:
        sys.modules["pyarrow"] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        yield
    finally:
        if blocked:
            allow_pyarrow()


def allow_pyarrow() -> None:
    """Let this process import pyarrow (Parquet export): call before anything imports it."""
    if "pyarrow" in sys.modules and sys.modules["pyarrow"] is None:
        del sys.modules["pyarrow"]



def existing(paths: list[Path], what: str = "input") -> None:
    """UserError (exit 2) for the first path that does not exist: said before any work."""
    for path in paths:
        if not path.exists():
            raise UserError(f"{what} not found: {path}", "check the path (relative paths are "
                            f"from {Path.cwd()})")


def choose(text: str, names: tuple[str, ...], what: str) -> str:
    """`text` as one of `names`, ignoring case, spaces and a plural "s" (a usage error else)."""
    import typer

    key = text.strip().lower()
    if key not in names and key.endswith("s") and key[:-1] in names:
        key = key[:-1]
    if key not in names:
        raise typer.BadParameter(f"unknown {what} {text!r}; choose one of: {', '.join(names)}")
    return key


def in_range(value: int, flag: str, low: int, high: int, why: str = "") -> int:
    if not low <= value <= high:
        raise UserError(f"{flag} {value} is outside {low}..{high}" + (f" ({why})" if why else ""))
    return value


def unused(*_: Any) -> None:
    """Nothing: marks parameters a command takes for the record only."""
