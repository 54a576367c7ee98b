"""Dead-letter records as stored, read back (pure: no I/O).

A dead letter is whatever its index holds: our writer stores `article_id`, `origin`, `status`,
`error_type`, `reason`, `at` and the rejected `document` (`Article.to_document()`), but anyone
can write to that index, and Elasticsearch keeps `_source` as sent (an `at` in epoch millis,
an array for any field, a `document` that is a string). So `read_letter` never fails: it
shows what is there. `article_from_letter` is the strict half: it rebuilds the Article from the
stored document, or raises `UnreadableLetter` naming the field, never anything else.

The document keeps every Article field but `id` (the letter's `_id`) and `notes` (never
indexed), so nothing needs to be stored beyond what the writer already stores.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tasks.dedupe.identity import content_hash
from tasks.dedupe.near_dup import sign
from tasks.models import Article, Entities
from tasks.store.bulk import document_hash

MAX_TEXT = 2000  # metadata shown as text is cut here (a hostile record can hold megabytes)
ARTICLE_FIELDS = {f.name for f in dataclasses.fields(Article)} - {"id", "notes"}
ENTITY_KINDS = {f.name for f in dataclasses.fields(Entities)}
TEXT_FIELDS = ("title", "body")  # clustering and hashing read them: they must be text
DATE_FIELDS = ("published_at", "fetched_at")  # clustering ranks by them: real, zoned dates
# Recomputed on replay from the (maybe corrected) body and by clustering: never trusted.
DERIVED = ("content_hash", "near_dup_sig", "near_dup_shingles", "near_dup_bands",
           "cluster_id", "duplicate_of")


class UnreadableLetter(ValueError):
    """A stored dead letter that cannot become an Article; the message says which field."""


class CursorError(ValueError):
    """A paging cursor that is not one `list` printed."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One stored rejection: who, why, when, and the raw stored document."""

    id: str
    origin: str | None
    status: int | None
    error_type: str
    reason: str
    at: datetime | None  # when it was (last) rejected; None when the record does not say
    document: Any  # as stored: a dict when our writer stored it
    seq_no: int | None = None  # the record's version, for a delete that must not lose a newer one
    primary_term: int | None = None

    def summary(self) -> dict[str, Any]:
        """The record without its document (list output)."""
        return {"id": self.id, "origin": self.origin, "status": self.status,
                "error_type": self.error_type, "reason": self.reason,
                "at": self.at.isoformat() if self.at else None}

    def to_dict(self) -> dict[str, Any]:
        """The whole record (show output)."""
        return {**self.summary(), "document": self.document}


def _first(value: Any) -> Any:
    """Elasticsearch takes an array for any field: its first value stands for it."""
    while isinstance(value, list) and value:
        value = value[0]
    return None if isinstance(value, list) else value


def _text(value: Any) -> str | None:
    """A stored value as one line of text, cut to `MAX_TEXT`."""
    value = _first(value)
    if value is None:
        return None
    if isinstance(value, str):
        return value[:MAX_TEXT]
    try:
        return json.dumps(value, ensure_ascii=False, default=str)[:MAX_TEXT]
    except (ValueError, RecursionError):  # nested past what JSON encoding allows
        return f"<{type(value).__name__} too deep to show>"


def parse_when(value: Any) -> datetime | None:
    """A stored date as Elasticsearch's default format takes it (ISO date or time, or epoch
    milliseconds), zoned (naive = UTC); None when it is none of those."""
    value = _first(value)
    try:
        if isinstance(value, bool):
            return None
        if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().isdigit()):
            return datetime.fromtimestamp(int(value) / 1000, UTC)
        if isinstance(value, str):
            moment = datetime.fromisoformat(value.strip())
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    return None


def read_letter(hit: Mapping[str, Any]) -> DeadLetter:
    """The record of a search hit or a `get`/`mget` doc, whatever its `_source` holds."""
    src = hit.get("_source")
    src = src if isinstance(src, Mapping) else {}
    status = _first(src.get("status"))
    if isinstance(status, str) and status.strip().isdigit():
        status = int(status)
    seq_no, term = hit.get("_seq_no"), hit.get("_primary_term")
    return DeadLetter(
        id=str(hit.get("_id", "")),
        origin=_text(src.get("origin")),
        status=status if isinstance(status, int) and not isinstance(status, bool) else None,
        error_type=_text(src.get("error_type")) or "unknown",
        reason=_text(src.get("reason")) or "",
        at=parse_when(src.get("at")),
        document=src.get("document"),
        seq_no=seq_no if isinstance(seq_no, int) else None,
        primary_term=term if isinstance(term, int) else None)


def _zoned(name: str, value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise UnreadableLetter(f"document field {name!r} is not an ISO date string: "
                               f"{_text(value)!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UnreadableLetter(f"document field {name!r} is not an ISO date: {value[:100]!r}") \
            from None
    if moment.tzinfo is None:
        raise UnreadableLetter(f"document field {name!r} has no time zone: {value[:100]!r}")
    return moment


def _entities(value: Any) -> Entities:
    if value is None:
        return Entities()
    if not isinstance(value, dict):
        raise UnreadableLetter(f"document field 'entities' is not an object: {_text(value)!r}")
    unknown = sorted(set(value) - ENTITY_KINDS)
    if unknown:
        raise UnreadableLetter(f"document field 'entities' has unknown kinds {unknown[:5]} "
                               f"(known: {sorted(ENTITY_KINDS)})")
    return Entities(**value)


def article_from_letter(letter: DeadLetter) -> Article:
    """The Article a dead letter holds, ready to cluster and write again.

    What replay computes with is checked (title and body text, zoned dates, entity kinds);
    other fields go to Elasticsearch as stored, which judges them against the mapping, as it
    did the first time. The content hash and near-duplicate signature are computed again from
    the body (it may have been corrected) and the cluster is left to clustering. Fields an
    Article does not have (`word_count`) are dropped, as `Article.from_document` does."""
    doc = letter.document
    if not isinstance(doc, dict):
        raise UnreadableLetter(f"dead letter {letter.id!r} holds no document object "
                               f"(found {type(doc).__name__})")
    values = {k: v for k, v in doc.items() if k in ARTICLE_FIELDS and k not in DERIVED}
    for name in TEXT_FIELDS:
        if not isinstance(values.get(name), str) or not values[name].strip():
            raise UnreadableLetter(f"document field {name!r} is missing or not text: "
                                   f"{_text(values.get(name))!r}")
    for name in DATE_FIELDS:
        values[name] = _zoned(name, values.get(name))
    values["entities"] = _entities(values.get("entities"))
    article = Article(id=letter.id, **values)
    try:  # what the write path will do with it: encode every value as JSON text
        document_hash(article.to_document())
        article.content_hash = content_hash(article.body)
        sign(article)
    except (TypeError, ValueError, RecursionError) as exc:  # UnicodeError is a ValueError
        raise UnreadableLetter(f"the stored document cannot be sent again: "
                               f"{type(exc).__name__}: {str(exc)[:200]}") from None
    return article


# --- paging cursors: the sort values of a page's last record, as one opaque token ------------


def encode_cursor(sort: list[Any]) -> str:
    """The token `list --after` takes to show the next page."""
    return base64.urlsafe_b64encode(json.dumps(sort).encode()).decode().rstrip("=")


def parse_cursor(token: str) -> list[Any]:
    """The sort values of `encode_cursor`'s token: [epoch millis, article id or null]."""
    try:
        raw = base64.urlsafe_b64decode(token.strip() + "=" * (-len(token.strip()) % 4))
        sort = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):
        raise CursorError(f"not a cursor printed by `deadletter list`: {token[:80]!r}") from None
    if (not isinstance(sort, list) or len(sort) != 2 or isinstance(sort[0], bool)
            or not isinstance(sort[0], int) or not (sort[1] is None or isinstance(sort[1], str))):
        raise CursorError(f"not a cursor printed by `deadletter list`: {token[:80]!r}")
    return sort
