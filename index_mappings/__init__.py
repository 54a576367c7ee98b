"""Index templates as JSON: the single source of truth for fields, loaded by code and tests."""

from __future__ import annotations

import copy
import json
from collections.abc import Collection
from functools import cache
from importlib import resources
from typing import Any


@cache
def _load(name: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath(f"{name}.json").read_text(encoding="utf-8")
    body = json.loads(text)
    body.pop("_comment", None)
    return body


def load(name: str) -> dict[str, Any]:
    """A fresh copy of the template body `index_mappings/<name>.json`."""
    return copy.deepcopy(_load(name))


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """`base` with `overlay` merged in, recursively for nested objects (a new dict)."""
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def stemmed_languages() -> dict[str, str]:
    """Language code -> the analyzer of its stemmed sub-fields (`title.fr`: `french`), in the
    order of `articles.stemmed.json`."""
    fields = _load("articles.stemmed")["template"]["mappings"]["properties"]["body"]["fields"]
    return {code: sub["analyzer"] for code, sub in fields.items()}


def stemmed_fields() -> tuple[str, ...]:
    """The text fields that carry stemmed sub-fields."""
    return tuple(_load("articles.stemmed")["template"]["mappings"]["properties"])


def articles_template(languages: Collection[str] = ()) -> dict[str, Any]:
    """The articles template body, with the stemmed sub-fields of `languages` (those whose
    analyzer the cluster has; none on a node without analysis-common)."""
    base = load("articles")
    overlay = load("articles.stemmed")
    props = overlay["template"]["mappings"]["properties"]
    for spec in props.values():
        spec["fields"] = {code: sub for code, sub in spec["fields"].items() if code in languages}
    return deep_merge(base, overlay) if languages else base


def schema_version(name: str = "articles") -> int:
    """The mapping version that names the concrete index (`<prefix>-articles-v<N>`)."""
    return int(_load(name)["template"]["mappings"]["_meta"]["version"])
