"""Index templates as JSON: the single source of truth for fields, loaded by code and tests."""

from __future__ import annotations

import copy
import json
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


def articles_template(stemming: bool) -> dict[str, Any]:
    """The articles template body, with English sub-fields when the cluster supports them."""
    base = load("articles")
    return deep_merge(base, load("articles.stemmed")) if stemming else base


def schema_version(name: str = "articles") -> int:
    """The mapping version that names the concrete index (`<prefix>-articles-v<N>`)."""
    return int(_load(name)["template"]["mappings"]["_meta"]["version"])
