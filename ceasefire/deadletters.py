"""`ceasefire deadletter list|show|replay`: what Elasticsearch rejected and why, and sending it
again once the mapping or the data is fixed (`tasks.store.deadletter`).

Exit codes as `ceasefire.cli`: 0 done (every letter asked for is indexed now), 1 some letters
stay (rejected again, unreadable, unknown id; for `show`, no such letter), 2 configuration
(bad arguments, unreachable cluster: raised as `ConfigError`, turned into 2 by `cli.main`).
"""

from __future__ import annotations

import argparse
import json
import textwrap
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

from tasks.settings import ConfigError, Settings
from tasks.store.client import open_cluster

if TYPE_CHECKING:  # tasks.store.deadletter imports clustering (datasketch: seconds): when used
    from tasks.store.deadletter import LetterPage, ReplayReport
    from tasks.store.deadletter_record import DeadLetter

DONE, LETTERS_LEFT = 0, 1  # `ceasefire.cli`'s EXIT_OK and EXIT_DEAD_LETTERED
MAX_LIMIT = 10_000  # Elasticsearch's default result window
err = Console(stderr=True, soft_wrap=True)


class UsageError(ConfigError):
    """Arguments that do not make one request (exit 2)."""


def _since(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"a number from 1 to {MAX_LIMIT}: {text!r}")
    return value


def _when(letter: DeadLetter) -> str:
    return letter.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if letter.at else "(no time)"


def _json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _letters(n: int) -> str:
    return f"{n} dead letter{'' if n == 1 else 's'}"


def print_page(page: LetterPage, index: str) -> None:
    """Two lines a letter: when, id, error type and status, origin; then the reason."""
    if not page.letters:
        print(f"no more dead letters ({page.total} in all)" if page.total
              else f"no dead letters in {index}")
        return
    print(f"{_letters(page.total)} in {index}, newest first; showing {len(page.letters)}:")
    for letter in page.letters:
        status = f" {letter.status}" if letter.status is not None else ""
        print(f"{_when(letter)}  {letter.id}  {letter.error_type}{status}  "
              f"{letter.origin or '(no origin)'}")
        print(textwrap.indent(textwrap.shorten(letter.reason or "(no reason)", 300), "    "))
    if page.next:
        print(f"next page: ceasefire deadletter list --after {page.next}")


def print_letter(letter: DeadLetter) -> None:
    """The record, then the stored document a field a line: text as it is (indented when it
    runs over lines), anything else as compact JSON (`--json` gives the document exactly)."""
    for label, value in (("id", letter.id), ("origin", letter.origin or "(none)"),
                         ("rejected", f"{_when(letter)} UTC"),
                         ("status", "(none)" if letter.status is None else letter.status),
                         ("error", letter.error_type), ("reason", letter.reason)):
        print(f"{label + ':':<10}{value}")
    if not isinstance(letter.document, dict):
        print(f"document: (not an object) {json.dumps(letter.document, default=str)[:2000]}")
        return
    print("document:")
    for name, value in letter.document.items():
        if isinstance(value, str) and "\n" in value:
            print(f"  {name}: |\n{textwrap.indent(value, '    ', lambda line: True)}")
        elif isinstance(value, str):
            print(f"  {name}: {value}")
        else:
            print(f"  {name}: {json.dumps(value, ensure_ascii=False, default=str)}")


def print_replay(report: ReplayReport, index: str) -> None:
    """Counts, then every letter that stays and why."""
    indexed = len(report.replayed)
    print(f"{indexed} indexed ({report.created} created, {report.updated} updated, "
          f"{report.unchanged} unchanged) and removed from {index}; "
          f"{len(report.rejected)} rejected again; {len(report.unreadable)} unreadable")
    if report.superseded:
        print(f"{_letters(len(report.superseded))} removed without sending: the article was "
              f"indexed after the rejection")
    if indexed:
        print(f"near-duplicates (kept, marked): {report.near_duplicates}; clusters "
              f"relabelled: {report.clusters_relabelled}")
    if report.rejected:
        print("rejected again (kept, with the new error):")
        for r in report.rejected:
            print(f"  {r.article_id}  {r.error_type}  {textwrap.shorten(r.reason, 200)}")
    for letter_id, why in report.unreadable:
        print(f"unreadable (kept): {letter_id}: {why}")
    for letter_id in report.changed:
        print(f"rejected again by another writer meanwhile (kept): {letter_id}")
    for letter_id in report.already_indexed:
        print(f"no dead letter, already indexed: {letter_id}")
    for letter_id in report.unknown:
        print(f"unknown id (no dead letter, not indexed): {letter_id}")


def _cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from tasks.store.deadletter import LIST_LIMIT, LetterFilter, list_letters
    from tasks.store.deadletter_record import CursorError

    try:
        page = list_letters(open_cluster(settings), settings.deadletter_index,
                            LetterFilter(args.reason, args.since), args.limit or LIST_LIMIT,
                            args.after)
    except CursorError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        _json(page.to_dict())
    else:
        print_page(page, settings.deadletter_index)
    return DONE


def _cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from tasks.store.deadletter import get_letter

    letter = get_letter(open_cluster(settings), settings.deadletter_index, args.id)
    if letter is None:
        err.print(Text(f"no dead letter {args.id!r} in {settings.deadletter_index}"))
        return LETTERS_LEFT
    if args.json:
        _json(letter.to_dict())
    else:
        print_letter(letter)
    return DONE


def _cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    filtered = args.all or args.reason or args.since
    if bool(args.ids) == bool(filtered):
        raise UsageError("replay takes --id ID ... or a selection (--all, --reason, --since), "
                         "not both and not neither")
    from tasks.store.deadletter import REPLAY_BATCH, LetterFilter, replay

    batch_size = REPLAY_BATCH if args.batch_size is None else args.batch_size
    if batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, not {batch_size}")
    es = open_cluster(settings)
    if args.ids:
        report = replay(es, settings, ids=args.ids, batch_size=batch_size)
    else:
        report = replay(es, settings, letters=LetterFilter(args.reason, args.since),
                        batch_size=batch_size)
    if args.json:
        _json(report.to_dict())
    else:
        print_replay(report, settings.deadletter_index)
    return DONE if report.complete else LETTERS_LEFT


def add_commands(sub: Any) -> None:
    """`deadletter` and its actions, on the CLI's subparsers."""
    dl = sub.add_parser("deadletter", help="inspect documents Elasticsearch rejected, and send "
                                           "them again after a mapping or data fix")
    actions = dl.add_subparsers(dest="action", required=True)
    reason_help = "an error type (document_parsing_exception) or words of the reason (dateline)"
    since_help = "rejected on or after (ISO date or time; naive = UTC)"

    ls = actions.add_parser("list", help="rejected documents, newest first")
    ls.add_argument("--reason", help=reason_help)
    ls.add_argument("--since", type=_since, help=since_help)
    ls.add_argument("--limit", type=_limit, help="letters per page (default 50)")
    ls.add_argument("--after", metavar="CURSOR",
                    help="the next page: the cursor the previous page printed")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(func=_cmd_list)

    show = actions.add_parser("show", help="one letter: the stored document and the error")
    show.add_argument("id")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(func=_cmd_show)

    rp = actions.add_parser("replay", help="send letters through the ingest write path again; "
                                           "those indexed leave the dead-letter index")
    rp.add_argument("--id", dest="ids", nargs="+", action="extend", metavar="ID",
                    help="these letters (repeatable)")
    rp.add_argument("--all", action="store_true", help="every letter")
    rp.add_argument("--reason", help=f"every letter with this reason: {reason_help}")
    rp.add_argument("--since", type=_since, help=f"every letter {since_help}")
    rp.add_argument("--batch-size", type=int, help="letters sent per batch (default 100)")
    rp.add_argument("--json", action="store_true", help="machine-readable output")
    rp.set_defaults(func=_cmd_replay)
