"""Text cleaning as pure functions: Unicode, whitespace, and page cruft that is not the article."""

from __future__ import annotations

import re
import unicodedata

from tasks.models import Article

# Whole lines that page furniture leaves in copied or extracted article text. Matched against
# the full stripped line, case-insensitively, so a sentence that merely mentions them survives.
CRUFT_LINES = [
    r"listen to (this|the) (article|story)( now)?\W*",
    r"loading audio\W*",
    r"open in (the )?app\W*",
    r"(advertisement|advert|sponsored( content)?|story continues below( advertisement)?)",
    r"(share|share this (article|story)|copy link|print)",
    r"(read more|read next|related( stories| articles)?|most read)\W*",
    r"(sign up|subscribe) (to|for) (our|the) .*newsletter.*",
    r"(we use cookies|this (site|website) uses cookies).*",
    r"download (the|our) .* app.*",
    r"follow us on .*",
    # Agency auto-publish and syndication disclaimers.
    r"disclaimer:? this (post|story|article|report|news) (has been|is|was) auto[- ]?"
    r"(matically )?(published|generated) .*",
    r"\(?this (story|article|report) has not been edited by .*",
    r"\(?(only the headline of this report|except for the headline, this story) .*",
]
_CRUFT_RE = re.compile("|".join(f"(?:{p})" for p in CRUFT_LINES), re.IGNORECASE)

# C0/C1 control characters other than tab and newline; zero-width and BOM characters.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff]")
_SPACES_RE = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BLANK_LINES_RE = re.compile(r"\n{3,}")


def is_cruft_line(line: str) -> bool:
    """True when the whole line is page furniture rather than article text."""
    return bool(_CRUFT_RE.fullmatch(line.strip()))


def normalize_text(text: str) -> str:
    """NFC, no control characters, single spaces, trimmed lines, at most one blank line."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL_RE.sub("", text)
    lines = (_SPACES_RE.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES_RE.sub("\n\n", "\n".join(lines)).strip()


def normalize_line(text: str) -> str:
    """A single-line field (title, author, outlet) normalised."""
    return normalize_text(text).replace("\n", " ")


def text_key(text: str) -> str:
    """Case- and punctuation-insensitive key for comparing short texts."""
    return re.sub(r"\W+", " ", text).strip().casefold()


def is_title_repeat(line: str, title_key: str) -> bool:
    """`Title` or `Title | Title` repeated in the page (`title_key` from `text_key`)."""
    return all(text_key(part) == title_key for part in re.split(r"\s+[|]\s+", line))


def drop_cruft(paragraphs: list[str]) -> list[str]:
    """Paragraphs without page furniture lines."""
    return [p for p in paragraphs if p and not is_cruft_line(p)]


def clean_article(article: Article) -> Article:
    """Normalise the article's text fields in place and return it."""
    article.title = normalize_line(article.title)
    paragraphs = drop_cruft(normalize_text(article.body).split("\n\n"))
    article.body = "\n\n".join(paragraphs)
    if article.lead:
        article.lead = normalize_line(article.lead)
    article.authors = [a for a in (normalize_line(a) for a in article.authors) if a]
    if article.source:
        article.source = normalize_line(article.source) or None
    return article
