"""The Elasticsearch client, built from settings: a user's cluster or the local node."""

from __future__ import annotations

import logging

from elasticsearch import Elasticsearch

from ceasefire import local_es
from tasks.settings import Settings

LOGGER = logging.getLogger(__name__)


class NoElasticsearch(RuntimeError):
    """No cluster configured and no local node running."""


def connect(settings: Settings) -> Elasticsearch:
    """A client for ELASTICSEARCH_URL if set, else for the running local node."""
    if settings.es_url:
        auth = {}
        if settings.es_api_key:
            auth["api_key"] = settings.es_api_key
        elif settings.es_username:
            auth["basic_auth"] = (settings.es_username, settings.es_password or "")
        return Elasticsearch(
            settings.es_url,
            ca_certs=settings.es_ca_certs,
            request_timeout=settings.es_request_timeout,
            retry_on_timeout=True,
            max_retries=3,
            **auth,
        )
    # A busy node (cluster-state updates, GC) can take seconds to answer: do not call it gone.
    node = local_es.status(settings, timeout=15.0)
    if not node.running:
        raise NoElasticsearch(
            f"no Elasticsearch at {node.url}: start the local node with `ceasefire es start`, "
            "or set ELASTICSEARCH_URL (plus ELASTICSEARCH_API_KEY or ELASTICSEARCH_USERNAME/"
            "ELASTICSEARCH_PASSWORD, and ELASTICSEARCH_CA_CERTS) to use an existing cluster"
        )
    return Elasticsearch(node.url, request_timeout=settings.es_request_timeout,
                         retry_on_timeout=True, max_retries=3)
