"""Finding and parsing publication dates in the messy forms news pages print them."""

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

_LABEL_RE = re.compile(
    r"\b(?P<label>published|updated|posted|last updated|modified)\s*(?:on|at)?\s*:?\s*",
    re.IGNORECASE,
)


def _offset(tz: str | None) -> timezone | None:
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
        except ValueError:
            continue
        tz = _offset(m["tz"])
        found.append(dt.replace(tzinfo=tz) if tz else dt)
    return found


def parse_human_date(text: str) -> datetime | None:
    """A date such as `October 13, 2025 06:35 IST`, or None when there is none."""
    try:
        dt = dateparser.parse(text, fuzzy=True, tzinfos=TZ_ABBREVIATIONS)
    except (ValueError, OverflowError):
        return None
    return dt


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


def parse_date(text: str | None) -> datetime | None:
    """The first ISO 8601 timestamp in `text`, else a human-written date; always aware."""
    text = (text or "").strip()
    if not text:
        return None
    isos = find_iso_datetimes(text)
    dt = isos[0] if isos else parse_human_date(text)
    return as_aware(dt) if dt else None


def as_aware(dt: datetime, default_tz: timezone = UTC) -> datetime:
    """`dt` with a time zone; a naive value is taken to be in `default_tz`."""
    return dt if dt.tzinfo else dt.replace(tzinfo=default_tz)
