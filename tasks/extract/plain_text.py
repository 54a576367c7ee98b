"""Parser for plain-text article dumps: title line, byline, dateline, body, and page cruft.

The shape, as users paste or save articles from news sites::

    Zelenskyy says he had 'positive...' call with Trump
    by Jacob Paul · LBCBy Jacob Paul
    Ukrainian President Volodymyr Zelenskyy said ...
    Listen to this article
    ...

or with an agency byline carrying machine-readable dates::

    By IANS | Updated: October 13, 2025 06:35 IST2025-10-13T06:32:54+5:302025-10-13T06:35:08+5:30
    Kyiv, Oct 13 Ukrainian President Volodymyr Zelensky said ...
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime

from tasks.clean import is_cruft_line, is_title_repeat, normalize_line, normalize_text, text_key
from tasks.extract.dates import find_iso_datetimes, labelled_dates, parse_human_date, sane_date
from tasks.models import Article

LOGGER = logging.getLogger(__name__)

MAX_TITLE_CHARS = 400
HEADER_LINES = 6  # non-empty lines after the title in which a byline or date line may appear

# News agencies whose name in a byline is the outlet, not a person.
WIRE_AGENCIES = {
    "afp", "agence france-presse", "ani", "ansa", "ap", "associated press", "anadolu",
    "anadolu agency", "dpa", "efe", "ians", "interfax", "kyodo", "pti", "reuters", "ria novosti",
    "tass", "ukrinform", "uni", "wam", "xinhua", "yonhap", "bernama", "pap", "unian", "apa",
}
# Bylines that name a desk rather than a person.
NOT_PERSONS = {"agencies", "staff", "web desk", "news desk", "online desk", "staff reporter",
               "our correspondent", "editorial board", "reuters staff", "rédaction", "la rédaction",
               "redaktion", "redacción", "agences", "agencias", "agenturen"}

# "By", and its equivalents in the languages we ingest most.
_BYLINE_RE = re.compile(r"^(?:by|par|von|por|от)\s+(?P<rest>\S.*)$", re.IGNORECASE)
_NAME_SPLIT_RE = re.compile(r"\s*(?:,|;|\band\b|&)\s*", re.IGNORECASE)
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
# "Kyiv, Oct 13 Ukrainian President ..." / "KYIV, March 12 (Reuters) - ..." /
# "Gaza City, 14 January: ..." — a place, a day and month, then the sentence.
_DATELINE_RE = re.compile(
    rf"^(?P<dateline>(?P<place>[A-Z][\w'’.\- ]{{1,40}}?),\s+"
    rf"(?:{_MONTH}\s+\d{{1,2}}|\d{{1,2}}\s+{_MONTH})(?:,?\s+\d{{4}})?"
    r"(?:\s*\([^)]{1,40}\))?)\s*[:\-–—]?\s+(?=[\"“‘'A-Z])"
)
# "KYIV (Reuters) - ..."
_AGENCY_DATELINE_RE = re.compile(
    r"^(?P<dateline>(?P<place>[A-Z][A-Z'’.\- ]{1,40}?)\s*\([^)]{1,40}\))\s*[-–—:]\s+"
)


class PlainTextError(ValueError):
    """The text is not an article in the plain-text form; the message says why."""


@dataclass(slots=True)
class Byline:
    """What a byline line says."""

    authors: list[str] = field(default_factory=list)
    outlet: str | None = None
    published: datetime | None = None
    updated: datetime | None = None


def _split_names(text: str) -> list[str]:
    names = [normalize_line(n).strip(" .·•|-") for n in _NAME_SPLIT_RE.split(text)]
    return [n for n in names if n]


def parse_byline(line: str) -> Byline:
    """Authors, outlet and dates from `by Jacob Paul · LBC` or `By IANS | Updated: ...`."""
    m = _BYLINE_RE.match(line.strip())
    if not m:
        raise PlainTextError(f"not a byline: {line[:80]!r}")
    rest = m["rest"]
    who, _, dates_part = rest.partition("|")
    byline = Byline()
    isos = find_iso_datetimes(rest)
    aware = [d for d in isos if d.tzinfo]
    labels = labelled_dates(dates_part or rest)
    if aware:
        # CMS metadata prints published then modified.
        byline.published = aware[0]
        byline.updated = aware[1] if len(aware) > 1 else None
    else:
        byline.published = _parse_label(labels.get("published")) or (isos[0] if isos else None)
        byline.updated = _parse_label(labels.get("updated"))
    who = who.split("Updated:")[0].split("Published:")[0]
    parts = re.split(r"\s*[·•]\s*", who, maxsplit=1)
    names = _split_names(parts[0])
    if len(parts) == 2:
        # Pages often glue a second "By <name>" line onto the outlet: "LBCBy Jacob Paul".
        byline.outlet = normalize_line(re.sub(r"By\s+.*$", "", parts[1])) or None
    for name in names:
        lowered = name.lower()
        if lowered in WIRE_AGENCIES:
            byline.outlet = byline.outlet or name
        elif lowered not in NOT_PERSONS:
            byline.authors.append(name)
    if not byline.published and byline.updated:
        byline.published = byline.updated  # a page that only shows "Updated" still dates it
    return byline


def _parse_label(value: str | None) -> datetime | None:
    return parse_human_date(value) if value else None


def _drop_teasers(paragraphs: list[str]) -> list[str]:
    """Drop truncated summaries (`... said that he had ...`) repeated in full further down."""
    keep = []
    for i, para in enumerate(paragraphs):
        stem = para.rstrip()
        if stem.endswith(("...", "…")):
            prefix = text_key(stem.rstrip(".…"))
            if prefix and any(text_key(later).startswith(prefix) for later in paragraphs[i + 1:]):
                continue
        keep.append(para)
    return keep


def split_dateline(paragraph: str) -> tuple[str | None, str]:
    """(`Kyiv, Oct 13`, rest of the paragraph) when the paragraph opens with a dateline."""
    for pattern in (_DATELINE_RE, _AGENCY_DATELINE_RE):
        m = pattern.match(paragraph)
        if m and len(paragraph) > m.end():
            return m["dateline"].strip(), paragraph[m.end():].lstrip()
    return None, paragraph


def _is_date_line(line: str) -> bool:
    """A header line that only carries a date (`Published: 13 October 2025`)."""
    if len(line) > 120:
        return False
    if find_iso_datetimes(line) and len(text_key(_strip_iso(line))) < 40:
        return True
    return bool(labelled_dates(line)) and len(line.split()) <= 12


def _strip_iso(line: str) -> str:
    return re.sub(r"\d{4}-\d{2}-\d{2}T[\d:.+\-Z]+", " ", line)


def parse_plain_text(text: str, path: str | None = None) -> Article:
    """Parse one plain-text article; raise PlainTextError with the reason when it is not one."""
    lines = [line for line in normalize_text(text).split("\n") if line.strip()]
    where = f" in {path}" if path else ""
    if not lines:
        raise PlainTextError(f"empty text{where}")
    title = lines[0]
    if len(title) > MAX_TITLE_CHARS:
        raise PlainTextError(
            f"first line is {len(title)} characters{where}: expected a title line first")
    title_key = text_key(title)
    byline = Byline()
    header_done = False
    body: list[str] = []
    for i, line in enumerate(lines[1:]):
        if is_cruft_line(line) or is_title_repeat(line, title_key):
            continue
        if not header_done and i < HEADER_LINES:
            if _BYLINE_RE.match(line) and len(line) < 300:
                byline = parse_byline(line)
                continue
            if _is_date_line(line):
                byline.published = byline.published or _date_from_line(line)
                continue
        header_done = True
        body.append(line)
    body = _drop_teasers(body)
    if not body:
        raise PlainTextError(f"no body text after the title and byline{where}")
    dateline, body[0] = split_dateline(body[0])
    published = sane_date(byline.published)
    if byline.published and published is None:
        # The article is still worth keeping; the impossible date is reported, not kept.
        LOGGER.warning("%s: out-of-range published date %s, left empty", path or "text",
                       byline.published.isoformat())
    return Article(
        title=title,
        body="\n\n".join(body),
        authors=byline.authors,
        source=byline.outlet,
        published_at=published,
        dateline=dateline,
        lead=body[0],
        origin=path,
        extractor="plain-text",
    )


def _date_from_line(line: str) -> datetime | None:
    aware = [d for d in find_iso_datetimes(line) if d.tzinfo]
    if aware:
        return aware[0]
    labels = labelled_dates(line)
    return _parse_label(labels.get("published") or labels.get("updated")) or parse_human_date(line)
