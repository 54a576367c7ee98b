"""Finding and parsing publication dates in the messy forms news pages print them.

One rule decides whether a date is believable (`date_in_range`: 1990-01-01 to a day after now);
a value that is not a date string, has an impossible offset, lacks its day, month or year, or
falls outside that range is no date (`read_date` says which; `parse_date` gives None): the
article is kept undated rather than given an invented date.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from urllib.parse import urlsplit

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


# --- Declared publication dates: page metadata, checked against the URL path ------------------

# A date or timestamp as page metadata declares it: ISO 8601 with `T` or a space before the time,
# an offset (`Z`, `+05:30`, `-0800`, `+5:30`) or a time-zone abbreviation glued on (`EET`), or none.
_DECLARED_RE = re.compile(
    r"(?P<d>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<t>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)"
    r"\s?(?P<tz>Z|[+-]\d{1,2}:\d{2}|[+-]\d{4}|[A-Z]{3,4}\b)?)?"
)
MAX_DECLARED_CHARS = 120  # a metadata value longer than this is no date
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug",
                                       "sep", "oct", "nov", "dec"), start=1)}
# Dates in URL paths: /2023/12/22/, /2024/mar/02/, /story/2024-03-02/, ...-2024-03-04/, /2023-11/17/
_URL_DAY_RES = (
    re.compile(r"/(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})(?=/|$|\.)"),
    re.compile(r"/(?P<y>\d{4})/(?P<m>[a-z]{3})[a-z]*/(?P<d>\d{1,2})(?=/|$)", re.IGNORECASE),
    re.compile(r"(?<![\d])(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?=/|$|[._-])"),
    re.compile(r"/(?P<y>\d{4})-(?P<m>\d{1,2})/(?P<d>\d{1,2})(?=/|$)"),
)
_URL_MONTH_RE = re.compile(r"/(?P<y>\d{4})/(?P<m>\d{1,2})(?=/)")
URL_DATE_SLACK = timedelta(days=1)  # time zones: a URL path date and a timestamp a day apart agree


@dataclass(frozen=True, slots=True)
class DeclaredDate:
    """A publication date read from page metadata (or a URL path), with what it said."""

    when: datetime  # aware; a value without an offset is read as UTC (see `zoned`)
    zoned: bool = False  # the value carried its offset (kept in `when`)
    timed: bool = False  # the value carried a time of day (else midnight)
    source: str = ""  # where it was read: "json-ld", "meta:article:published_time", "url", ...


def read_declared(value: object, source: str = "") -> DeclaredDate | None:
    """The date or timestamp a metadata value declares, or None: never raises.

    ISO 8601 forms (`2024-03-01T10:00:00-05:00`, `2017-11-03 03:01:00.000000`, `2024-03-01`) keep
    their offset; other short values are read as human dates (`Fri Mar 13 21:30:09 EST 2015`).
    Dates outside the believable range (`date_in_range`) are none.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > MAX_DECLARED_CHARS:
        return None
    found = _declared_iso(text)
    if found is None and re.search(r"\d{4}", text):
        human = parse_human_date(text)
        if human is not None:
            found = DeclaredDate(as_aware(human), human.tzinfo is not None,
                                 bool(re.search(r"\d:\d\d", text)), source)
    if found is None or not date_in_range(found.when):
        return None
    return DeclaredDate(found.when, found.zoned, found.timed, source)


def _declared_iso(text: str) -> DeclaredDate | None:
    m = _DECLARED_RE.search(text)
    if m is None:
        return None
    try:
        if m["t"] is None:
            day = datetime.fromisoformat(m["d"])
            return DeclaredDate(day.replace(tzinfo=UTC))
        when = datetime.fromisoformat(f"{m['d']}T{m['t']}")
        tz_text = m["tz"]
        tz: timezone | None
        if tz_text and tz_text.isalpha() and tz_text != "Z":
            seconds = TZ_ABBREVIATIONS.get(tz_text)
            tz = timezone(timedelta(seconds=seconds)) if seconds is not None else None
        else:
            tz = _offset(tz_text)
        aware = when.replace(tzinfo=tz or UTC)
        aware.utcoffset()
        return DeclaredDate(aware, tz is not None, True)
    except (ValueError, OverflowError):
        return None


def url_date_span(url: str | None) -> tuple[date, date] | None:
    """The first and last day a date in the URL path allows: (d, d) for `/2023/12/22/`, the
    month for `/2024/02/slug`; None when the path has no believable date."""
    if not url:
        return None
    try:
        path = urlsplit(url).path
    except ValueError:
        return None
    for regex in _URL_DAY_RES:
        for m in regex.finditer(path):
            month = _MONTHS.get(m["m"][:3].lower()) if m["m"].isalpha() else int(m["m"])
            try:
                day = date(int(m["y"]), month or 0, int(m["d"]))
            except ValueError:
                continue
            if _plausible_day(day):
                return day, day
    for m in _URL_MONTH_RE.finditer(path):
        year, month = int(m["y"]), int(m["m"])
        if 1 <= month <= 12 and _plausible_day(date(year, month, 1)):
            first = date(year, month, 1)
            last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
            return first, last
    return None


def _plausible_day(day: date) -> bool:
    return date_in_range(datetime(day.year, day.month, day.day, tzinfo=UTC))


def url_contradicts(when: datetime, span: tuple[date, date] | None) -> bool:
    """Whether `when` (its date where it was declared: its own offset) lies over a day outside
    the URL path's `span`."""
    if span is None:
        return False
    day = when.date()
    return not span[0] - URL_DATE_SLACK <= day <= span[1] + URL_DATE_SLACK


def choose_published(candidates: Iterable[DeclaredDate | None], url: str | None = None
                     ) -> DeclaredDate | None:
    """The publication date among `candidates` (best source first): the first zoned timestamp,
    else the first timestamp, else the first date.

    The URL path's date checks them: a candidate it contradicts by more than a day
    (`url_contradicts`) is passed over, unless a source of another kind (`source` before its
    `:`) declares the same day too (magazine URLs carry the issue's date, days after the
    article went online); none left and the path names a day: that day. When the chosen
    instant is declared elsewhere with the publisher's own (non-UTC) offset, that form is kept,
    so its date is the one the publisher printed."""
    found = [c for c in candidates if c is not None]
    span = url_date_span(url)

    def corroborated(c: DeclaredDate) -> bool:
        kind = c.source.split(":")[0]
        return any(o.source.split(":")[0] != kind and abs(o.when.date() - c.when.date())
                   <= URL_DATE_SLACK for o in found)

    fit = [c for c in found if not url_contradicts(c.when, span) or corroborated(c)]
    best = next((c for c in fit if c.zoned and c.timed), None) \
        or next((c for c in fit if c.timed), None) or next(iter(fit), None)
    if best is None:
        if span is not None and span[0] == span[1]:
            day = span[0]
            return DeclaredDate(datetime(day.year, day.month, day.day, tzinfo=UTC), source="url")
        return None
    if best.zoned and best.when.utcoffset() == timedelta(0):
        local = next((c for c in fit if c.zoned and c.timed and c.when == best.when
                      and c.when.utcoffset() != timedelta(0)), None)
        best = local or best
    return best
