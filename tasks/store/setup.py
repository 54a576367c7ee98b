"""Idempotent creation of templates, the versioned articles index and its aliases."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import BadRequestError, Elasticsearch

import index_mappings
from tasks.report import plural
from tasks.settings import Settings

LOGGER = logging.getLogger(__name__)


class SetupError(RuntimeError):
    """The cluster's indices are in a state setup must not change on its own."""


@dataclass(slots=True)
class SetupResult:
    """What `setup` found and changed."""

    index: str
    stemming: tuple[str, ...]  # languages with stemmed sub-fields (none without analysis-common)
    changes: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # what ops should act on (a run logs them)


def stemming_languages(es: Elasticsearch) -> tuple[str, ...]:
    """The languages whose analyzer the cluster has (analysis-common's `english`, `french`...):
    all six on a full cluster, none on a node without the module."""
    found = []
    for code, analyzer in index_mappings.stemmed_languages().items():
        try:
            es.indices.analyze(analyzer=analyzer, text="ceasefire")
        except BadRequestError:
            continue
        found.append(code)
    return tuple(found)


def _mapping(es: Elasticsearch, index: str) -> dict[str, Any]:
    """The mapping `index` has now."""
    return dict(es.indices.get_mapping(index=index)[index]["mappings"])


def _stemmed_in(mapping: dict[str, Any]) -> set[str]:
    """The stemmed sub-fields of a mapping (what a mapping update may add to)."""
    return set(mapping.get("properties", {}).get("body", {}).get("fields", {}))


def _alias_targets(es: Elasticsearch, alias: str) -> list[str]:
    if not es.indices.exists_alias(name=alias):
        return []
    return sorted(es.indices.get_alias(name=alias))


def setup_indices(es: Elasticsearch, settings: Settings) -> SetupResult:
    """Create or update templates, the articles index, aliases and the dead-letter index."""
    stemming = tuple(c for c in stemming_languages(es) if c in settings.stemmed_languages)
    index = settings.articles_index
    result = SetupResult(index=index, stemming=stemming)
    body = index_mappings.articles_template(stemming)
    es.indices.put_index_template(name=settings.articles_template,
                                  index_patterns=[settings.articles_pattern], **body)
    for name, index_name in (("deadletter", settings.deadletter_index),
                             ("state", settings.state_index)):
        es.indices.put_index_template(name=index_name, index_patterns=[index_name],
                                      **index_mappings.load(name))

    readers = _alias_targets(es, settings.read_alias)
    writers = _alias_targets(es, settings.write_alias)
    current: dict[str, Any] | None = None  # the write index's mapping, read once
    if writers:
        # After a reindex the write index is `<prefix>-articles-v<N>-<stamp>`: any index of
        # the current schema version will do; another version needs a reindex first.
        index = writers[0]
        current = _mapping(es, index)
        meta = current.get("_meta", {})
        if len(writers) != 1 or meta.get("version") != index_mappings.schema_version():
            raise SetupError(
                f"{settings.write_alias} points to {', '.join(writers)} (schema version "
                f"{meta.get('version')}) but this version writes schema "
                f"v{index_mappings.schema_version()}; run a reindex to move to it")
        result.index = index
    if not es.indices.exists(index=index):
        es.options(ignore_status=400).indices.create(index=index)  # 400: created concurrently
        result.changes.append(f"created index {index}")
    else:
        mappings = body["template"]["mappings"]
        had = _stemmed_in(current if current is not None else _mapping(es, index))
        try:
            es.indices.put_mapping(index=index, properties=mappings["properties"],
                                   dynamic=mappings["dynamic"], meta=mappings["_meta"])
        except BadRequestError as exc:
            raise SetupError(f"the mapping of {index} cannot take the current template "
                             f"({exc.message}); run a reindex") from exc
        if added := [code for code in stemming if code not in had]:
            count = es.count(index=index)["count"]
            result.notices.append(
                f"{index} gained stemmed sub-fields ({', '.join(added)})"
                + (f"; a reindex stems the {plural(count, 'document')} it holds" if count else ""))
    actions: list[dict[str, Any]] = []
    if not readers:  # during a reindex the read alias stays on the old index on purpose
        actions.append({"add": {"index": index, "alias": settings.read_alias}})
    if not writers:
        actions.append({"add": {"index": index, "alias": settings.write_alias,
                                "is_write_index": True}})
    if actions:
        es.indices.update_aliases(actions=actions)
        result.changes += [f"alias {a['add']['alias']} -> {index}" for a in actions]
    for name, extra in (("deadletter", settings.deadletter_index), ("state", settings.state_index)):
        if not es.indices.exists(index=extra):
            es.options(ignore_status=400).indices.create(index=extra)  # 400: created concurrently
            result.changes.append(f"created index {extra}")
        else:  # fields added to the template since the index was made (additive only)
            mappings = index_mappings.load(name)["template"]["mappings"]
            es.indices.put_mapping(index=extra, properties=mappings["properties"])
    es.cluster.health(index=index, wait_for_status="yellow", timeout="30s")
    return result


def delete_all(es: Elasticsearch, settings: Settings) -> list[str]:
    """Remove every index and template under the prefix (tests and `ceasefire reset`)."""
    removed = []
    for pattern in (settings.articles_pattern, settings.deadletter_index, settings.state_index):
        for name in es.indices.get(index=pattern, expand_wildcards="all",
                                   ignore_unavailable=True, allow_no_indices=True):
            es.indices.delete(index=name)
            removed.append(name)
    for name in (settings.articles_template, settings.deadletter_index, settings.state_index):
        es.options(ignore_status=404).indices.delete_index_template(name=name)
    return removed
