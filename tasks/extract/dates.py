"""Finding and parsing publication dates in the messy forms news pages print them.

One rule decides whether a date is believable (`date_in_range`: 1990-01-01 to a day after now);
a value that is not a date string, has an impossible offset, lacks its day, month or year, or
falls outside that range is no date (`read_date` says which; `parse_date` gives None): the
article is kept undated rather than given an invented date.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from dateutil import parser as dateparser

# ISO 8601 timestamps, including offsets without a leading zero (`+5:30`) as some CMSs print
# them, and several glued together (`...+5:302025-10-13T...`).
_ISO_RE = re.compile(
    r"(?P<dt>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)"
    r"(?P<tz>Z|[+-]\d{1,2}:\d{2}|[+-]\d{4})?"
)

# Offsets of time-zone abbreviations common in international news datelines. Abbreviations are
# ambiguous in general (IST is also Irish/Israel time); these are the readings newsrooms mean.
TZ_ABBREVIATIONS: dict[str, int] = {
    "UTC": 0, "GMT": 0, "Z": 0, "BST": 3600, "WET": 0, "WEST": 3600,
    "CET": 3600, "CEST": 7200, "EET": 7200, "EEST": 10800, "MSK": 10800,
    "IST": 19800, "PKT": 18000, "GST": 14400, "AST": 10800, "IDT": 10800,
    "EST": -18000, "EDT": -14400, "CST": -21600, "CDT": -18000,
    "MST": -25200, "MDT": -21600, "PST": -28800, "PDT": -25200,
    "JST": 32400, "KST": 32400, "AEST": 36000, "AEDT": 39600,
}

# The one range rule for publication dates (pages, feeds, files, records).
EARLIEST_DATE = datetime(1990, 1, 1, tzinfo=UTC)
DATE_SKEW = timedelta(days=1)  # clocks and time zones: a little "future" is tolerated
MAX_HUMAN_DATE_CHARS = 300  # longer text is not a date line; fuzzy parsing of it invents dates
MAX_DATE_SCAN_CHARS = 10_000  # where the first ISO timestamp is looked for

# Why a date value was left empty (`read_date`, `date_problem`).
DATE_PROBLEMS = ("date-not-text", "date-unparseable", "date-out-of-range")

# Two different defaults: a field dateutil fills from the default differs between the two parses.
_DEFAULTS = (datetime(2000, 1, 1), datetime(2001, 2, 2))

_LABEL_RE = re.compile(
    r"\b(?P<label>published|updated|posted|last updated|modified)\s*(?:on|at)?\s*:?\s*",
    re.IGNORECASE,
)


def _offset(tz: str | None) -> timezone | None:
    """The offset `tz` names; ValueError when it is impossible (`+99:00`)."""
    if not tz:
        return None
    if tz == "Z":
        return UTC
    sign = -1 if tz[0] == "-" else 1
    hours, _, minutes = tz[1:].partition(":") if ":" in tz else (tz[1:3], "", tz[3:])
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))


def find_iso_datetimes(text: str) -> list[datetime]:
    """Every ISO 8601 timestamp in `text`, in order; ones without an offset are left naive."""
    found = []
    for m in _ISO_RE.finditer(text):
        try:
            dt = datetime.fromisoformat(m["dt"])
            tz = _offset(m["tz"])
        except ValueError:
            continue
        found.append(dt.replace(tzinfo=tz) if tz else dt)
    return found


def parse_human_date(text: str) -> datetime | None:
    """A date such as `October 13, 2025 06:35 IST`, or None when there is none.

    None too when the text lacks the day, month or year (`Oct 13`, `Monday`, `2 days ago`):
    dateutil would fill them in from today. A missing time of day is midnight.
    """
    if len(text) > MAX_HUMAN_DATE_CHARS:
        return None
    try:
        first, second = (dateparser.parse(text, fuzzy=True, tzinfos=TZ_ABBREVIATIONS, default=d)
                         for d in _DEFAULTS)
        first.utcoffset()  # dateutil builds offsets datetime refuses (`+99:00`) and raises here
    except Exception:  # dateutil raises assorted errors (ValueError, OverflowError, ...) on odd text
        return None
    return first if first.date() == second.date() else None


def labelled_dates(text: str) -> dict[str, str]:
    """`{'published': '...', 'updated': '...'}` from text like `Updated: October 13, 2025 ...`."""
    out: dict[str, str] = {}
    matches = list(_LABEL_RE.finditer(text))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        label = "updated" if "updated" in m["label"].lower() or m["label"].lower() == "modified" \
            else "published"
        value = text[m.end():end].strip(" |·•,")
        value = _ISO_RE.split(value, maxsplit=1)[0].strip(" |·•,")  # glued ISO forms follow
        if value:
            out.setdefault(label, value)
    return out


def read_date(value: object, now: datetime | None = None) -> tuple[datetime | None, str | None]:
    """(date, None), or (None, why) when `value` gives no believable date; (None, None) for none.

    The date is the first ISO 8601 timestamp in the text, else a human-written date; always
    aware. Why is one of DATE_PROBLEMS.
    """
    if value is None:
        return None, None
    if not isinstance(value, str):
        return None, "date-not-text"
    text = value.strip()
    if not text:
        return None, None
    isos = find_iso_datetimes(text[:MAX_DATE_SCAN_CHARS])
    dt = isos[0] if isos else parse_human_date(text)
    if dt is None:
        return None, "date-unparseable"
    if not date_in_range(dt, now):
        return None, "date-out-of-range"
    return as_aware(dt), None


def parse_date(text: object, now: datetime | None = None) -> datetime | None:
    """The date in `text` (see `read_date`), or None when it gives no believable one."""
    return read_date(text, now)[0]


def date_problem(value: object, now: datetime | None = None) -> str | None:
    """Why `value` gives no date (one of DATE_PROBLEMS), or None when it gives one or is empty."""
    return read_date(value, now)[1]


def date_in_range(dt: datetime, now: datetime | None = None) -> bool:
    """Whether `dt` (naive: UTC) lies in EARLIEST_DATE .. now + DATE_SKEW."""
    try:
        return EARLIEST_DATE <= as_aware(dt) <= (now or datetime.now(UTC)) + DATE_SKEW
    except (ValueError, OverflowError, TypeError):  # an offset datetime refuses, a naive `now`
        return False


def sane_date(dt: datetime | None, now: datetime | None = None) -> datetime | None:
    """`dt` made aware when it lies in the believable range (`date_in_range`), else None."""
    return as_aware(dt) if dt is not None and date_in_range(dt, now) else None


def as_aware(dt: datetime, default_tz: timezone = UTC) -> datetime:
    """`dt` with a time zone; a naive value is taken to be in `default_tz`."""
    return dt if dt.tzinfo else dt.replace(tzinfo=default_tz)
