"""The source list (`sources.yaml`): feeds, news sitemaps, URL lists and directories, validated."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

KINDS = ("feed", "sitemap", "urls", "directory")


class SourcesError(ValueError):
    """The source list is missing or invalid; the message names the file, entry and field."""


class Source(BaseModel):
    """One place articles come from, with its per-source options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,79}$")]
    kind: Literal["feed", "sitemap", "urls", "directory"]
    url: str | None = None  # feed and sitemap
    urls: list[str] = Field(default_factory=list)  # urls: inline list
    path: str | None = None  # urls: a file of URLs; directory: a folder
    outlet: str | None = None  # outlet name when the page does not say it
    language: Annotated[str | None, Field(pattern=r"^[a-z]{2}$")] = None  # ISO 639-1 hint
    enabled: bool = True
    min_interval: Annotated[float, Field(ge=0.0, le=600.0)] = 1.0  # seconds between requests to its host
    max_items: Annotated[int, Field(ge=1, le=100_000)] = 500  # new articles taken per run

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.lower().startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Source:
        if self.kind in ("feed", "sitemap") and not self.url:
            raise ValueError(f"a {self.kind} source needs `url`")
        if self.kind == "urls" and not (self.urls or self.path):
            raise ValueError("a urls source needs `urls` (a list) or `path` (a file, one URL per line)")
        if self.kind == "directory" and not self.path:
            raise ValueError("a directory source needs `path`")
        return self


class SourceList(BaseModel):
    """The whole file."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    sources: list[Source]

    @model_validator(mode="after")
    def _unique_names(self) -> SourceList:
        seen: set[str] = set()
        for source in self.sources:
            if source.name in seen:
                raise ValueError(f"source name {source.name!r} is used twice")
            seen.add(source.name)
        return self


def _format(error: ValidationError, path: Path, data: object) -> str:
    lines = [f"{path}: invalid source list"]
    for err in error.errors():
        loc = err["loc"]
        where = ".".join(str(p) for p in loc)
        if len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int):
            entry = data["sources"][loc[1]] if isinstance(data, dict) else None
            name = entry.get("name") if isinstance(entry, dict) else None
            where = f"sources[{loc[1]}]" + (f" ({name})" if name else "") + \
                "".join(f".{p}" for p in loc[2:] if not str(p).startswith(("function-", "literal")))
        lines.append(f"  {where}: {err['msg']}")
    return "\n".join(lines)


def parse_sources(text: str, path: Path = Path("sources.yaml")) -> list[Source]:
    """Validated sources from YAML text; relative paths are resolved against the file's folder."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SourcesError(f"{path}: not valid YAML: {exc}") from exc
    try:
        sources = SourceList.model_validate(data).sources
    except ValidationError as exc:
        raise SourcesError(_format(exc, path, data)) from None
    base = path.parent
    return [s.model_copy(update={"path": str((base / s.path).resolve())}) if s.path else s
            for s in sources]


def load_sources(path: str | Path) -> list[Source]:
    """Validated sources from a YAML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourcesError(f"cannot read source list {path}: {exc.strerror}") from exc
    return parse_sources(text, path)


def enabled_sources(sources_file: str | Path, only: list[str] | None = None) -> list[Source]:
    """The enabled sources of the file (or just those named in `only`, which must exist)."""
    sources = [s for s in load_sources(sources_file) if s.enabled and (not only or s.name in only)]
    if only and (missing := set(only) - {s.name for s in sources}):
        raise SourcesError(f"no enabled source named {', '.join(sorted(missing))} in {sources_file}")
    return sources
