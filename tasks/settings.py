"""Settings read once from the environment and passed down."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ES_VERSION = "8.19.21"


def _default_home() -> Path:
    """Where the local Elasticsearch and its data live.

    Root's home is not readable by the dedicated Elasticsearch user, so root gets a system path.
    """
    if os.geteuid() == 0:
        return Path("/var/lib/ceasefire-etl")
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "ceasefire-etl"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable, with the environment variable that sets it."""

    es_url: str | None = None  # ELASTICSEARCH_URL: use this cluster, start nothing
    # Secrets never show in repr (logs, tracebacks): ELASTICSEARCH_API_KEY, or a Prefect Secret
    # block named by CEASEFIRE_ES_API_KEY_BLOCK (resolved by the flows; see flows/runtime.py).
    es_api_key: str | None = field(default=None, repr=False)
    es_username: str | None = None  # ELASTICSEARCH_USERNAME
    es_password: str | None = field(default=None, repr=False)  # ELASTICSEARCH_PASSWORD, or ..._BLOCK
    es_ca_certs: str | None = None  # ELASTICSEARCH_CA_CERTS
    es_request_timeout: float = 30.0  # ELASTICSEARCH_TIMEOUT (seconds)
    index_prefix: str = "ceasefire"  # CEASEFIRE_INDEX_PREFIX
    home: Path = Path()  # CEASEFIRE_HOME: local node distribution, config, data and logs
    local_port: int = 9200  # CEASEFIRE_ES_PORT
    local_heap: str = "512m"  # CEASEFIRE_ES_HEAP (at most 1g)
    local_es_version: str = ES_VERSION  # CEASEFIRE_ES_VERSION
    local_es_zip: str | None = None  # CEASEFIRE_ES_ZIP: a pre-downloaded distribution zip
    local_user: str = "ceasefire-es"  # CEASEFIRE_ES_USER: who runs the node when we are root
    spacy_model: str | None = None  # CEASEFIRE_SPACY_MODEL: model name or directory
    spacy_n_process: int = 1  # CEASEFIRE_SPACY_PROCESSES: nlp.pipe worker processes

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Build settings from environment variables (or the given mapping)."""
        e = os.environ if env is None else env
        return cls(
            es_url=e.get("ELASTICSEARCH_URL") or None,
            es_api_key=e.get("ELASTICSEARCH_API_KEY") or None,
            es_username=e.get("ELASTICSEARCH_USERNAME") or None,
            es_password=e.get("ELASTICSEARCH_PASSWORD") or None,
            es_ca_certs=e.get("ELASTICSEARCH_CA_CERTS") or None,
            es_request_timeout=float(e.get("ELASTICSEARCH_TIMEOUT", "30")),
            index_prefix=e.get("CEASEFIRE_INDEX_PREFIX", "ceasefire"),
            home=Path(e["CEASEFIRE_HOME"]) if e.get("CEASEFIRE_HOME") else _default_home(),
            local_port=int(e.get("CEASEFIRE_ES_PORT", "9200")),
            local_heap=e.get("CEASEFIRE_ES_HEAP", "512m"),
            local_es_version=e.get("CEASEFIRE_ES_VERSION", ES_VERSION),
            local_es_zip=e.get("CEASEFIRE_ES_ZIP") or None,
            local_user=e.get("CEASEFIRE_ES_USER", "ceasefire-es"),
            spacy_model=e.get("CEASEFIRE_SPACY_MODEL") or None,
            spacy_n_process=int(e.get("CEASEFIRE_SPACY_PROCESSES", "1")),
        )

    @property
    def read_alias(self) -> str:
        """Alias every search goes through."""
        return f"{self.index_prefix}-articles"

    @property
    def write_alias(self) -> str:
        """Alias every write goes through."""
        return f"{self.index_prefix}-articles-write"

    @property
    def state_index(self) -> str:
        """Index holding crawl state shared by workers (feed validators, seen URLs, robots)."""
        return f"{self.index_prefix}-state"

    @property
    def deadletter_index(self) -> str:
        """Index holding documents Elasticsearch rejected, with the reason."""
        return f"{self.index_prefix}-deadletter"
