"""The Elasticsearch client, built once per run from settings and passed to every step."""

from __future__ import annotations

import logging
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError

from tasks.settings import ConfigError, Settings, secret

LOGGER = logging.getLogger(__name__)


class NoElasticsearch(ConfigError, RuntimeError):
    """The configured cluster does not answer."""


def connect(settings: Settings) -> Elasticsearch:
    """A client for the configured cluster, given every node (ELASTICSEARCH_URL's list, else
    the local nodes): a request that fails on one node (refused, reset, timed out) is retried
    on the next, so one node dying does not fail a run.

    No sniffing: the addresses nodes publish are often not reachable from the client (Docker,
    cloud proxies), so the configured list is the list. Opens no connection:
    `check_reachable` says whether anyone answers.
    """
    auth: dict[str, Any] = {}
    if settings.es_api_key is not None:
        auth["api_key"] = secret(settings.es_api_key)
    elif settings.es_username:
        auth["basic_auth"] = (settings.es_username, secret(settings.es_password) or "")
    if settings.es_ca_certs:
        auth["ca_certs"] = settings.es_ca_certs
    nodes = settings.elasticsearch_urls
    return Elasticsearch(nodes, request_timeout=settings.es_request_timeout, retry_on_timeout=True,
                         max_retries=max(3, len(nodes)), **auth)


def check_reachable(es: Elasticsearch, settings: Settings, timeout: float = 15.0) -> None:
    """Raise `NoElasticsearch` with what to do when the cluster does not answer.

    A busy node (cluster-state updates, GC) can take seconds to answer: do not call it gone.
    """
    nodes = settings.elasticsearch_urls
    try:  # `GET /` is not served by every distribution; cluster health is
        es.options(request_timeout=timeout, max_retries=max(1, len(nodes) - 1)).cluster.health()
    except (TransportError, ApiError) as exc:
        if settings.es_url:
            hint = "check ELASTICSEARCH_URL and the credentials"
        else:
            hint = ("start the local node with `ceasefire es start`, or set ELASTICSEARCH_URL "
                    "(plus ELASTICSEARCH_API_KEY or ELASTICSEARCH_USERNAME/ELASTICSEARCH_PASSWORD, "
                    "and ELASTICSEARCH_CA_CERTS) to use an existing cluster")
        status = getattr(exc, "status_code", None) or getattr(getattr(exc, "meta", None), "status", None)
        why = f"HTTP {status}" if isinstance(status, int) else type(exc).__name__
        raise NoElasticsearch(f"no Elasticsearch at {', '.join(map(_redacted, nodes))} "
                              f"({why}): {hint}") from None


def open_cluster(settings: Settings) -> Elasticsearch:
    """`connect`, then `check_reachable`: the client a run starts with."""
    es = connect(settings)
    check_reachable(es, settings)
    return es


def _redacted(url: str) -> str:
    """The URL without credentials."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
