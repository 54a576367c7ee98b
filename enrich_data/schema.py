"""The schema of the enrichment reference data: actors.yaml (alias table) and taxonomy.yaml.

One description of both files, used by the loaders in tasks/enrich and by check_data.py:

* every load checks the structure: required keys and no others, the types, the allowed kinds,
  roles and languages, ISO 3166-1 alpha-2 countries (via pycountry), slug keys, names without
  stray whitespace, no value listed twice in one list, a role for persons only;
* unless ``partial=True``, also the rules for the published files: a YYYY.MM.N version, a
  role for every person, an explicit ``country`` key (null for none), exactly LANGUAGES and
  at least MIN_PATTERNS patterns per language in every pattern block. The enrichment loaders
  pass ``partial=True`` so that small hand-made tables (tests) load.

Rules across entries and about the wording of aliases and patterns (duplicate aliases,
scripts per language, conflict actors that exist) are in check_data.py.

A bad file raises ReferenceDataError, a ValueError whose message names the file, the entry
and the field. This module is the bottom layer: standard library, pydantic, yaml, pycountry.
"""

from __future__ import annotations

import re
import reprlib
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args

import pycountry
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

Kind = Literal["person", "organization", "group", "location"]
Role = Literal["head-of-state", "head-of-government", "minister", "envoy", "mediator", "military",
               "spokesperson", "official"]
Language = Literal["en", "fr", "de", "es", "ru", "uk", "ar"]
KINDS: tuple[str, ...] = get_args(Kind)
ROLES: tuple[str, ...] = get_args(Role)
LANGUAGES: tuple[str, ...] = get_args(Language)
MIN_PATTERNS = 3  # per language, for ceasefire_terms, every topic and every conflict
VERSION_RE = re.compile(r"\d{4}\.(0[1-9]|1[0-2])\.\d+")
SLUG_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")

T = TypeVar("T")


class ReferenceDataError(ValueError):
    """A reference data file that cannot be used; `problems` are "where: what" strings."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = Path(path)
        self.problems = problems
        super().__init__("\n".join(self.messages))

    @property
    def messages(self) -> list[str]:
        """One line per problem, each starting with the file."""
        return [f"{self.path}: {problem}" for problem in self.problems]


def _rule(message: str) -> PydanticCustomError:
    return PydanticCustomError("reference_rule", "{detail}", {"detail": message})


def _full(info: ValidationInfo) -> bool:
    """Whether the rules for published files apply (not a partial, hand-made table)."""
    return not (info.context or {}).get("partial", False)


def _clean_text(value: str) -> str:
    if not value.strip() or value != value.strip() or "  " in value or "\t" in value or "\n" in value:
        raise _rule("must be non-empty, without surrounding or doubled whitespace")
    return value


def _version(value: str, info: ValidationInfo) -> str:
    if _full(info) and not VERSION_RE.fullmatch(value):
        raise _rule("version must be a quoted string YYYY.MM.N")
    return value


def _slug(value: str) -> str:
    if not SLUG_RE.fullmatch(value):
        raise _rule("key must be a lower-case slug (a-z, 0-9, '-')")
    return value


def _country(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{2}", value) or pycountry.countries.get(alpha_2=value) is None:
        raise _rule("country is not an ISO 3166-1 alpha-2 code")
    return value


def _unique(values: list[T]) -> list[T]:
    repeated = [f"{value!r} listed {n} times" for value, n in Counter(values).items() if n > 1]
    if repeated:
        raise _rule(", ".join(repeated))
    return values


def _enough_patterns(patterns: list[str], info: ValidationInfo) -> list[str]:
    if _full(info) and len(patterns) < MIN_PATTERNS:
        raise _rule(f"only {len(patterns)} patterns (need >= {MIN_PATTERNS})")
    return patterns


def _every_language(block: dict[str, list[str]], info: ValidationInfo) -> dict[str, list[str]]:
    missing = [lang for lang in LANGUAGES if lang not in block]
    if _full(info) and missing:
        raise _rule(f"no patterns for language(s) {', '.join(missing)}")
    return block


def _all_languages(languages: list[str], info: ValidationInfo) -> list[str]:
    if _full(info) and sorted(languages) != sorted(LANGUAGES):
        raise _rule(f"languages must be exactly {list(LANGUAGES)}")
    return languages


Text = Annotated[str, AfterValidator(_clean_text)]
Version = Annotated[str, AfterValidator(_version)]
Slug = Annotated[str, AfterValidator(_slug)]
Country = Annotated[str, AfterValidator(_country)]
Names = Annotated[list[Text], AfterValidator(_unique)]
Patterns = Annotated[list[Text], AfterValidator(_unique), AfterValidator(_enough_patterns)]
PatternBlock = Annotated[dict[Language, Patterns], AfterValidator(_every_language)]


class _Record(BaseModel):
    """YAML as written: exact types (no coercion), no unknown keys, read-only."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class ActorEntry(_Record):
    """One entry of actors.yaml."""

    name: Text
    kind: Kind
    role: Role | None = Field(None, validate_default=True)
    country: Country | None  # None: international bodies, seas, disputed regions
    aliases: Names
    aliases_exact: Names = []  # matched with exactly this casing ("US", "WHO")

    @model_validator(mode="before")
    @classmethod
    def _country_optional_if_partial(cls, data: Any, info: ValidationInfo) -> Any:
        return {"country": None, **data} if isinstance(data, dict) and not _full(info) else data

    @field_validator("role")
    @classmethod
    def _role_for_persons(cls, role: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")  # absent when the kind itself is invalid
        if kind not in (None, "person") and role is not None:
            raise _rule("only persons have a role")
        if kind == "person" and role is None and _full(info):
            raise _rule(f"a person needs a role, one of {', '.join(ROLES)}")
        return role


class ActorsFile(_Record):
    """actors.yaml: the alias table."""

    version: Version
    entries: Annotated[list[ActorEntry], Field(min_length=1)]


class Topic(_Record):
    """A topic of taxonomy.yaml: a label and its patterns per language."""

    label: Text
    patterns: PatternBlock


class Conflict(Topic):
    """A conflict of taxonomy.yaml: also the canonical names (actors.yaml) pointing to it."""

    places: Names
    actors: Names


class TaxonomyFile(_Record):
    """taxonomy.yaml: ceasefire terms, topics and conflicts."""

    version: Version
    languages: Annotated[list[Language], AfterValidator(_unique), AfterValidator(_all_languages)]
    ceasefire_terms: PatternBlock
    topics: Annotated[dict[Slug, Topic], Field(min_length=1)]
    conflicts: Annotated[dict[Slug, Conflict], Field(min_length=1)]


# ----------------------------------------------------------------------------- loading

M = TypeVar("M", bound=BaseModel)
_short = reprlib.Repr()
_short.maxstring = _short.maxother = 60
_short.maxlevel = 2


def _where(loc: tuple[int | str, ...], data: Any) -> str:
    """'entries[12] name 'X': kind' for a pydantic error location, named from the raw data."""
    parts: list[str] = []
    current = ""
    node = data
    for step in loc:
        if step == "[key]":
            current += " (key)"
            continue
        node = node.get(step) if isinstance(node, dict) else \
            node[step] if isinstance(node, list) and isinstance(step, int) and step < len(node) else None
        current += f"[{step}]" if isinstance(step, int) else f".{step}" if current else str(step)
        if isinstance(step, int) and isinstance(node, dict) and isinstance(node.get("name"), str):
            parts.append(f"{current} name {node['name']!r}")
            current = ""
    return ": ".join([*parts, current] if current else parts) or "top level"


def _describe(error: Any, data: Any) -> str:
    kind = error["type"]
    if kind == "missing":
        what = "missing key"
    elif kind == "extra_forbidden":
        what = "unknown key"
    elif kind == "reference_rule" and isinstance(error["input"], list | dict | None):
        what = error["msg"]  # the value is named by the location, or too long to repeat
    else:
        what = f"{error['msg']}, got {_short.repr(error['input'])}"
    return f"{_where(tuple(error['loc']), data)}: {what}"


def _load(model: type[M], path: Path, partial: bool) -> M:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ReferenceDataError(path, [f"not UTF-8 text: {exc}"]) from exc
    except (yaml.YAMLError, ValueError, RecursionError) as exc:  # ValueError: a date like 2025-13-45
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise ReferenceDataError(path, [f"invalid YAML{at}: {problem}"]) from exc
    if not isinstance(data, dict):
        raise ReferenceDataError(path, [f"top level must be a mapping, got {type(data).__name__}"])
    try:
        return model.model_validate(data, context={"partial": partial})
    except ValidationError as exc:
        raise ReferenceDataError(path, [_describe(e, data) for e in exc.errors()]) from exc


def load_actors(path: Path, *, partial: bool = False) -> ActorsFile:
    """actors.yaml, validated; ReferenceDataError when it is not valid."""
    return _load(ActorsFile, path, partial)


def load_taxonomy_file(path: Path, *, partial: bool = False) -> TaxonomyFile:
    """taxonomy.yaml, validated; ReferenceDataError when it is not valid."""
    return _load(TaxonomyFile, path, partial)
