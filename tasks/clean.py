"""Text cleaning as pure functions: Unicode, whitespace, and page cruft that is not the article."""

from __future__ import annotations

import logging
import re
import unicodedata

from tasks.models import Article

LOGGER = logging.getLogger(__name__)

# Whole lines that page furniture leaves in copied or extracted article text. Matched against
# the full stripped line, case-insensitively, so a sentence that merely mentions them survives.
CRUFT_LINES = [
    r"listen to (this|the) (article|story)( now)?\W*",
    r"loading audio\W*",
    r"open in (the )?app\W*",
    r"(advertisement|advert|sponsored( content)?|story continues below( advertisement)?)",
    r"(share|share this (article|story)|copy link|print)",
    r"(read more|read next|related( stories| articles)?|most read)\W*",
    # Link lines to other stories: "Read more: ...", "Related: ...", "Lire aussi : ...".
    r"\[?(read more|read next|read also|also read|related( story| stories| articles?)?|see also|"
    r"lire aussi|à lire aussi|leer más|lea también|lesen sie auch|mehr zum thema|"
    r"читайте также|اقرأ أيضا)\s*:.*",
    r"(sign up|subscribe) (to|for) (our|the) .*newsletter.*",
    r"(we use cookies|this (site|website) uses cookies).*",
    r"download (the|our) (.* )?app\b.*",
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
# A bare byline left in the body: "By Jacob Paul", "By IANS".
_BARE_BYLINE_RE = re.compile(r"(?:by|par|von|por)\s+(?:[A-Z][\w.'’-]*\s*){1,4}", re.IGNORECASE)
# Sentence end glued to the next sentence: `peace."Ending`, `strength"."We`, `end.Next`.
_GLUED_RE = re.compile(r"(?<=[a-z0-9)\"”][.!?])(?P<quote>[\"”“]?)(?=[\"“]?[A-Z][a-z])")

MAX_BODY_CHARS = 200_000  # far above any article; keeps highlighting and bulk requests bounded


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


def is_bare_byline(line: str) -> bool:
    """`By Jacob Paul` alone on a line: a repeated byline, not article text."""
    return len(line) <= 60 and bool(_BARE_BYLINE_RE.fullmatch(line.strip()))


def _split_glued(paragraph: str) -> list[str]:
    """Split sentences that lost the newline between them, keeping quotes with their side.

    A straight quote after the full stop closes a quotation when the quotes before it are
    unbalanced, and opens the next paragraph's quotation otherwise.
    """
    parts: list[str] = []
    start = 0
    for m in _GLUED_RE.finditer(paragraph):
        quote = m["quote"]
        cut = m.end()
        if quote == "“" or (quote == '"' and paragraph[start:m.start()].count('"') % 2 == 0):
            cut = m.start()  # the quote opens the next sentence
        parts.append(paragraph[start:cut])
        start = cut
    parts.append(paragraph[start:])
    return [p.strip() for p in parts if p.strip()]


def repair_paragraphs(paragraphs: list[str]) -> list[str]:
    """Split glued sentences into paragraphs; re-attach a closing quote that opened a line."""
    out: list[str] = []
    for para in paragraphs:
        if para[:1] == "”" and out:  # `...with us.` / `”The leader added` -> quote back up
            out[-1] += "”"
            para = para[1:].lstrip()
        out.extend(_split_glued(para))
    return out


def cap_length(paragraphs: list[str], limit: int = MAX_BODY_CHARS) -> tuple[list[str], bool]:
    """Paragraphs up to `limit` characters (cut at a paragraph, or a word for a giant one)."""
    kept: list[str] = []
    total = 0
    for para in paragraphs:
        if total + len(para) > limit:
            room = limit - total
            if room > 0 and not kept:
                kept.append(para[:room].rsplit(" ", 1)[0])
            return kept, True
        kept.append(para)
        total += len(para) + 2
    return kept, False


def clean_article(article: Article) -> Article:
    """Normalise the article's text fields in place and return it."""
    article.title = normalize_line(article.title)
    title_key = text_key(article.title)
    paragraphs = [p for p in normalize_text(article.body).replace("\n\n", "\n").split("\n")
                  if p and not is_cruft_line(p) and not is_bare_byline(p)
                  and not is_title_repeat(p, title_key)]
    paragraphs, truncated = cap_length(repair_paragraphs(paragraphs))
    if truncated:
        LOGGER.warning("%s: body cut to %d characters", article.origin or article.id, MAX_BODY_CHARS)
    article.body = "\n\n".join(paragraphs)
    if article.lead:
        article.lead = normalize_line(article.lead)
    article.authors = [a for a in (normalize_line(a) for a in article.authors) if a]
    if article.source:
        article.source = normalize_line(article.source) or None
    return article
