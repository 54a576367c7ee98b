"""JSON records at the edge: one JSONL line parsed so that it cannot blow up, then validated.

`load_json` turns any failure (bad syntax, nesting deep enough to exhaust the stack, an integer
past Python's conversion limit) into an `ExtractionError` with a named reason. `validate_record`
checks the fields an article record may carry against their declared types, strictly (a list,
object or number is never turned into text) and with size limits; a bad field is named in the
reason: `record-invalid:<field>`. Other keys are ignored.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from tasks.extract.errors import ExtractionError

MAX_JSON_DEPTH = 64  # arrays and objects inside each other; an article record needs two
MAX_INT_DIGITS = 100  # longer integers are kept as an OversizedNumber, never converted
MAX_TITLE_CHARS = 2_000
MAX_BODY_CHARS = 5_000_000
MAX_HTML_CHARS = 10_000_000
MAX_URL_CHARS = 8_192
MAX_NAME_CHARS = 500  # a source or an author
MAX_AUTHORS = 200
MAX_DATE_CHARS = 200
MAX_DETAIL_CHARS = 300

# Every reason `load_json` and `validate_record` give; `record-invalid:` is followed by the field.
RECORD_REASONS = ("jsonl-invalid-json", "jsonl-too-deep", "jsonl-not-an-object",
                  "jsonl-missing-body", "jsonl-missing-title", "record-invalid:")


class OversizedNumber:
    """A JSON integer with more than MAX_INT_DIGITS digits, left unconverted (it is no text)."""

    __slots__ = ("digits",)

    def __init__(self, literal: str) -> None:
        self.digits = len(literal.lstrip("-"))

    def __repr__(self) -> str:
        return f"OversizedNumber({self.digits} digits)"


def _parse_int(literal: str) -> int | OversizedNumber:
    return int(literal) if len(literal) <= MAX_INT_DIGITS else OversizedNumber(literal)


# A JSON string (escapes included): what lies outside them is structure.
_STRING_RE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET_RE = re.compile(r"[\[\]{}]")


def nested_deeper_than(text: str, limit: int) -> bool:
    """Whether the JSON in `text` nests arrays and objects more than `limit` levels deep."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for bracket in _BRACKET_RE.findall(_STRING_RE.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > limit:
            return True
    return False


def load_json(text: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The JSON value in `text`; ExtractionError (`jsonl-too-deep`, `jsonl-invalid-json`) for
    anything else, never another error. Integers past MAX_INT_DIGITS become OversizedNumber."""
    if nested_deeper_than(text, max_depth):
        raise ExtractionError("jsonl-too-deep", f"arrays or objects nested over {max_depth} deep")
    try:
        return json.loads(text, parse_int=_parse_int)
    except RecursionError:
        raise ExtractionError("jsonl-too-deep", "nesting exhausted the stack") from None
    except ValueError as exc:
        raise ExtractionError("jsonl-invalid-json", str(exc)[:MAX_DETAIL_CHARS]) from None


def _valid_text(text: Any) -> Any:
    """Lone surrogates (JSON allows `"\\ud800"`, UTF-8 does not) become U+FFFD; what is not
    text is left for the strict check to refuse."""
    if not isinstance(text, str) or text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


Title = Annotated[str, Field(max_length=MAX_TITLE_CHARS), BeforeValidator(_valid_text)]
Body = Annotated[str, Field(max_length=MAX_BODY_CHARS), BeforeValidator(_valid_text)]
Html = Annotated[str, Field(max_length=MAX_HTML_CHARS), BeforeValidator(_valid_text)]
Url = Annotated[str, Field(max_length=MAX_URL_CHARS), BeforeValidator(_valid_text)]
Name = Annotated[str, Field(max_length=MAX_NAME_CHARS), BeforeValidator(_valid_text)]
Names = Annotated[list[Name], Field(max_length=MAX_AUTHORS)]
DateText = Annotated[str, Field(max_length=MAX_DATE_CHARS), BeforeValidator(_valid_text)]


class JsonRecord(BaseModel):
    """The fields of one article record (JSONL), each optional; null is the same as absent."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    title: Title | None = None
    body: Body | None = None
    text: Body | None = None  # another name for body
    html: Html | None = None  # the page, when the record carries no body
    url: Url | None = None
    source: Name | None = None
    feed: Url | None = None
    authors: Name | Names | None = None  # "A One, B Two" or ["A One", "B Two"]
    author: Name | Names | None = None
    published_at: DateText | None = None
    published: DateText | None = None
    date: DateText | None = None

    @property
    def body_text(self) -> str | None:
        """`body`, else `text`."""
        return self.body or self.text

    @property
    def html_only(self) -> bool:
        """The record carries a page and no body: the article is extracted from the page."""
        return bool(self.html) and not self.body_text

    @property
    def author_names(self) -> list[str]:
        """`authors` (else `author`) as a list; a string is split at commas and semicolons."""
        value = self.authors or self.author or []
        names = value.replace(",", ";").split(";") if isinstance(value, str) else value
        return [name.strip() for name in names if name.strip()]

    @property
    def published_text(self) -> str | None:
        """`published_at`, else `published`, else `date`."""
        return self.published_at or self.published or self.date


def _describe(value: Any) -> str:
    if isinstance(value, OversizedNumber):
        return f"a number of {value.digits} digits"
    if isinstance(value, str):
        return f"text of {len(value)} characters"
    if isinstance(value, list | dict):
        return f"{type(value).__name__} of {len(value)} items"
    return type(value).__name__


def validate_record(value: Any) -> JsonRecord:
    """`value` as a JsonRecord; ExtractionError naming the first problem (see RECORD_REASONS)."""
    if not isinstance(value, dict):
        raise ExtractionError("jsonl-not-an-object", f"got {type(value).__name__}")
    try:
        record = JsonRecord.model_validate(value)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        field = str(error["loc"][0]) if error["loc"] else "record"
        detail = f"{error['msg']}, got {_describe(error.get('input'))}"
        raise ExtractionError(f"record-invalid:{field}", detail[:MAX_DETAIL_CHARS]) from None
    if record.html_only:
        return record
    if not (record.body_text or "").strip():
        raise ExtractionError("jsonl-missing-body", "needs `body`, `text` or `html`")
    if not (record.title or "").strip():
        raise ExtractionError("jsonl-missing-title")
    return record
