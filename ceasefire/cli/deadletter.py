"""`ceasefire deadletter list|show|replay`: what Elasticsearch rejected and why, and sending it
again once the mapping or the data is fixed (`tasks.store.deadletter`).

Exit codes: 0 done (every letter asked for is indexed now); 1 some letters stay (rejected
again, unreadable, unknown id; for `show`, no such letter); 2 configuration (bad arguments,
unreachable cluster).
"""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from ceasefire.cli.common import command, examples, settings
from ceasefire.cli.errors import EXIT_LETTERS_LEFT, EXIT_OK, UserError
from ceasefire.cli.output import print_json, warn

if TYPE_CHECKING:  # tasks.store.deadletter imports clustering (datasketch: seconds): when used
    from tasks.store.deadletter import LetterPage, ReplayReport
    from tasks.store.deadletter_record import DeadLetter

MAX_LIMIT = 10_000  # Elasticsearch's default result window
REASON_HELP = "an error type (document_parsing_exception) or words of the reason (dateline)"
SINCE_HELP = "rejected on or after (ISO date or time; naive = UTC)"

app = typer.Typer(
    help="Inspect documents Elasticsearch rejected, and send them again after a mapping or "
         "data fix.",
    no_args_is_help=True, rich_markup_mode=None, pretty_exceptions_enable=False,
    rich_help_panel="Ops",
    epilog=examples("ceasefire deadletter list", "ceasefire deadletter show ID",
                    "ceasefire deadletter replay --all"),
)


def _since(text: str | None) -> datetime | None:
    """An ISO date or time (naive = UTC); a usage error else."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(f"not an ISO date or time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _plain(line: str = "") -> None:
    print(line)


def _when(letter: DeadLetter) -> str:
    return letter.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if letter.at else "(no time)"


def _letters(n: int) -> str:
    from tasks.report import plural

    return plural(n, "dead letter")


def print_page(page: LetterPage, index: str) -> None:
    """Two lines a letter: when, id, error type and status, origin; then the reason."""
    if not page.letters:
        _plain(f"no more dead letters ({page.total} in all)" if page.total
               else f"no dead letters in {index}")
        return
    _plain(f"{_letters(page.total)} in {index}, newest first; showing {len(page.letters)}:")
    for letter in page.letters:
        status = f" {letter.status}" if letter.status is not None else ""
        _plain(f"{_when(letter)}  {letter.id}  {letter.error_type}{status}  "
               f"{letter.origin or '(no origin)'}")
        _plain(textwrap.indent(textwrap.shorten(letter.reason or "(no reason)", 300), "    "))
    if page.next:
        _plain(f"next page: ceasefire deadletter list --after {page.next}")


def print_letter(letter: DeadLetter) -> None:
    """The record, then the stored document a field a line: text as it is (indented when it
    runs over lines), anything else as compact JSON (`--json` gives the document exactly)."""
    for label, value in (("id", letter.id), ("origin", letter.origin or "(none)"),
                         ("rejected", f"{_when(letter)} UTC"),
                         ("status", "(none)" if letter.status is None else letter.status),
                         ("error", letter.error_type), ("reason", letter.reason)):
        _plain(f"{label + ':':<10}{value}")
    if not isinstance(letter.document, dict):
        _plain(f"document: (not an object) {json.dumps(letter.document, default=str)[:2000]}")
        return
    _plain("document:")
    for name, value in letter.document.items():
        if isinstance(value, str) and "\n" in value:
            _plain(f"  {name}: |\n{textwrap.indent(value, '    ', lambda line: True)}")
        elif isinstance(value, str):
            _plain(f"  {name}: {value}")
        else:
            _plain(f"  {name}: {json.dumps(value, ensure_ascii=False, default=str)}")


def print_replay(report: ReplayReport, index: str) -> None:
    """Counts, then every letter that stays and why."""
    indexed = len(report.replayed)
    _plain(f"{indexed} indexed ({report.created} created, {report.updated} updated, "
           f"{report.unchanged} unchanged) and removed from {index}; "
           f"{len(report.rejected)} rejected again; {len(report.unreadable)} unreadable")
    if report.superseded:
        _plain(f"{_letters(len(report.superseded))} removed without sending: the article was "
               f"indexed after the rejection")
    if indexed:
        _plain(f"near-duplicates (kept, marked): {report.near_duplicates}; clusters "
               f"relabelled: {report.clusters_relabelled}")
    if report.rejected:
        _plain("rejected again (kept, with the new error):")
        for r in report.rejected:
            _plain(f"  {r.article_id}  {r.error_type}  {textwrap.shorten(r.reason, 200)}")
    for letter_id, why in report.unreadable:
        _plain(f"unreadable (kept): {letter_id}: {why}")
    for letter_id in report.changed:
        _plain(f"rejected again by another writer meanwhile (kept): {letter_id}")
    for letter_id in report.already_indexed:
        _plain(f"no dead letter, already indexed: {letter_id}")
    for letter_id in report.unknown:
        _plain(f"unknown id (no dead letter, not indexed): {letter_id}")


Json = Annotated[bool, typer.Option("--json", help="machine-readable output (only JSON on stdout)")]


def list_(reason: Annotated[str | None, typer.Option("--reason", help=REASON_HELP)] = None,
          since: Annotated[str | None, typer.Option("--since", metavar="DATE",
                                                       help=SINCE_HELP)] = None,
          limit: Annotated[int | None, typer.Option(
              "--limit", min=1, max=MAX_LIMIT, help="letters per page (default 50)")] = None,
          after: Annotated[str | None, typer.Option(
              "--after", metavar="CURSOR",
              help="the next page: the cursor the previous page printed")] = None,
          as_json: Json = False) -> int:
    """Rejected documents, newest first."""
    when = _since(since)
    from tasks.store.client import open_cluster
    from tasks.store.deadletter import LIST_LIMIT, LetterFilter, list_letters
    from tasks.store.deadletter_record import CursorError

    config = settings()
    try:
        page = list_letters(open_cluster(config), config.deadletter_index,
                            LetterFilter(reason, when), limit or LIST_LIMIT, after)
    except CursorError as exc:
        raise UserError(str(exc)) from None
    if as_json:
        print_json(page.to_dict())
    else:
        print_page(page, config.deadletter_index)
    return EXIT_OK


def show(letter_id: Annotated[str, typer.Argument(
             metavar="ID", help="the letter's id, as `deadletter list` prints it",
             show_default=False)],
         as_json: Json = False) -> int:
    """One letter: the stored document and the error."""
    from tasks.store.client import open_cluster
    from tasks.store.deadletter import get_letter

    config = settings()
    letter = get_letter(open_cluster(config), config.deadletter_index, letter_id)
    if letter is None:
        warn(f"no dead letter {letter_id!r} in {config.deadletter_index}")
        return EXIT_LETTERS_LEFT
    if as_json:
        print_json(letter.to_dict())
    else:
        print_letter(letter)
    return EXIT_OK


def replay(ids: Annotated[list[str] | None, typer.Option(
               "--id", metavar="ID", help="these letters (repeatable; --id A B takes both)")] = None,
           every: Annotated[bool, typer.Option("--all", help="every letter")] = False,
           reason: Annotated[str | None, typer.Option(
               "--reason", help=f"every letter with this reason: {REASON_HELP}")] = None,
           since: Annotated[str | None, typer.Option(
               "--since", metavar="DATE", help=f"every letter {SINCE_HELP}")] = None,
           batch_size: Annotated[int | None, typer.Option(
               "--batch-size", help="letters sent per batch (default 100)")] = None,
           as_json: Json = False) -> int:
    """Send letters through the ingest write path again; those indexed leave the dead-letter
    index (exit 1 if some stay)."""
    when = _since(since)
    if bool(ids) == bool(every or reason or when):
        raise UserError("replay takes --id ID ... or a selection (--all, --reason, --since), "
                        "not both and not neither")
    if batch_size is not None and batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, not {batch_size}")
    from tasks.store.client import open_cluster
    from tasks.store.deadletter import REPLAY_BATCH, LetterFilter
    from tasks.store.deadletter import replay as send_again

    config = settings()
    es = open_cluster(config)
    size = REPLAY_BATCH if batch_size is None else batch_size
    if ids:
        report = send_again(es, config, ids=ids, batch_size=size)
    else:
        report = send_again(es, config, letters=LetterFilter(reason, when), batch_size=size)
    if as_json:
        print_json(report.to_dict())
    else:
        print_replay(report, config.deadletter_index)
    return EXIT_OK if report.complete else EXIT_LETTERS_LEFT


def _register() -> None:
    command(app, list_,
            "ceasefire deadletter list",
            "ceasefire deadletter list --reason dateline --since 2025-10-01",
            "ceasefire deadletter list --limit 10 --json",
            panel="Dead letters",
            name='list')
    command(app, show,
            "ceasefire deadletter show 3f9c0a1e2b",
            "ceasefire deadletter show 3f9c0a1e2b --json",
            panel="Dead letters")
    command(app, replay,
            "ceasefire deadletter replay --all",
            "ceasefire deadletter replay --id 3f9c0a1e2b 7d41b9e0aa",
            "ceasefire deadletter replay --reason dateline --since 2025-10-01 --json",
            panel="Dead letters")


_register()
