"""The one settings object: read once from the environment, validated, passed down.

Every field names the environment variable that sets it. A bad value fails at start with an
error naming the variable (`SettingsError`); secrets are `SecretStr`, so no repr, log line or
traceback shows them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Self, TypeVar

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

import index_mappings
from tasks.fetch.addresses import IPNetwork, parse_networks

ES_VERSION = "8.19.21"
S = TypeVar("S", bound=BaseSettings)
DEFAULT_USER_AGENT = "ceasefire-etl/0.1 (news research crawler; +https://example.invalid/ceasefire-etl)"
# Written under the home by `ceasefire es start --nodes N` (N > 1), removed by `ceasefire es stop`.
LOCAL_CLUSTER_RECORD = "cluster/nodes.json"


class ConfigError(Exception):
    """Something a run needs is missing or wrong before any work: a setting, the cluster, an
    input path, the spaCy model. The CLI says so in one line and exits 2."""


class SettingsError(ConfigError, ValueError):
    """A setting from the environment is invalid; the message names the variable."""


def _default_home() -> Path:
    """Where the local Elasticsearch and its data live.

    Root's home is not readable by the dedicated Elasticsearch user, so root gets a system path.
    """
    if os.geteuid() == 0:
        return Path("/var/lib/ceasefire-etl")
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "ceasefire-etl"


def _recorded_nodes(fields: dict[str, Any]) -> int:
    """How many local nodes `ceasefire es start --nodes N` left running under the home (else
    1), so every command and flow gives the client all of them without being told."""
    try:
        record = json.loads((Path(fields["home"]) / LOCAL_CLUSTER_RECORD).read_text())
        return max(1, int(record["nodes"]))
    except (KeyError, OSError, TypeError, ValueError):
        return 1


def _env_name(model: type[BaseSettings], field: str) -> str:
    """The environment variable behind a field (its alias, or prefix + name)."""
    info = model.model_fields.get(field)
    alias = info.validation_alias if info else None
    if isinstance(alias, str):
        return alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return (str(model.model_config.get("env_prefix") or "") + field).upper()


# scheme://user:password@ (to the last "@" before a space): the password is shown as ***.
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)(?P<password>\S*)@")


def _explain(model: type[BaseSettings], error: ValidationError) -> SettingsError:
    """One line per bad variable: `CEASEFIRE_ES_PORT='abc': Input should be a valid integer`."""
    lines = []
    for item in error.errors():
        if item["type"] == "default_factory_not_called":
            continue  # a consequence of another bad variable, not a problem of its own
        field = str(item["loc"][0]) if item["loc"] else "?"
        value = "" if item["type"] == "missing" else f"={item.get('input')!r}"
        name = _env_name(model, field)
        if "secret" in field or "password" in field or "api_key" in field:
            value = ""  # never echo a secret, even a malformed one
        value = _URL_PASSWORD.sub(r"\g<head>***@", value)  # nor a URL's password
        lines.append(f"{name}{value}: {item['msg']}")
    return SettingsError("invalid settings: " + "; ".join(lines))


# The environment a settings object is read from: the process's, or a mapping given to
# `from_env` (tests, tools), never a mix of the two.
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("_ENVIRON", default=None)


class _Environment(EnvSettingsSource):
    """Environment variables from `_ENVIRON` when set, else from the process."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        given = _ENVIRON.get()
        if given is None:
            return super()._load_env_vars()
        return parse_env_vars(given, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


class _Base(BaseSettings):
    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed (validated like the originals)."""
        return _build(type(self), {}, **{**dict(self), **changes})

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: Any,
                                   env_settings: Any, dotenv_settings: Any,
                                   file_secret_settings: Any) -> tuple[Any, ...]:
        return init_settings, _Environment(settings_cls)


def _build(model: type[S], env: Mapping[str, str] | None, **overrides: Any) -> S:
    """The model from the process environment (or `env`), with `overrides` by field name."""
    kwargs = {}
    for name, value in overrides.items():
        alias = model.model_fields[name].validation_alias
        kwargs[_env_name(model, name) if alias else name] = value
    token = _ENVIRON.set(env)
    try:
        return model(**kwargs)
    except ValidationError as exc:
        raise _explain(model, exc) from None
    finally:
        _ENVIRON.reset(token)


class FetchSettings(_Base):
    """How fast, how far and how much the fetcher may go (seconds and bytes);
    `CEASEFIRE_FETCH_<FIELD>` sets each."""

    model_config = SettingsConfigDict(env_prefix="CEASEFIRE_FETCH_", frozen=True, extra="ignore",
                                      env_ignore_empty=True)

    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: float = Field(5.0, gt=0)
    read_timeout: float = Field(15.0, gt=0)  # between two reads
    deadline: float = Field(30.0, gt=0)  # one whole attempt: connect, headers and body
    max_bytes: int = Field(5_000_000, gt=0)  # decoded body
    max_redirects: int = Field(5, ge=0)
    max_retries: int = Field(3, ge=0)  # retries after the first attempt
    backoff_base: float = Field(0.5, ge=0)
    backoff_cap: float = Field(30.0, ge=0)
    retry_after_cap: float = Field(120.0, ge=0)  # a longer Retry-After ends the retries instead
    per_host_concurrency: int = Field(2, ge=1)
    min_interval: float = Field(1.0, ge=0)  # between request starts on one host
    # Per-host min_interval, from the source list (not the environment).
    host_intervals: Annotated[dict[str, float], NoDecode] = Field(default_factory=dict)
    crawl_delay_cap: float = Field(60.0, ge=0)
    respect_robots: bool = True
    robots_ttl: float = Field(24 * 3600.0, ge=0)
    robots_error_ttl: float = Field(600.0, ge=0)  # an unreachable robots.txt is asked again after this
    max_connections: int = Field(100, ge=1)  # in flight across all hosts
    # The SSRF guard's allow-list: comma-separated CIDRs ("127.0.0.0/8, ::1/128").
    allow_networks: Annotated[tuple[IPNetwork, ...], NoDecode] = ()

    @field_validator("allow_networks", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        return parse_networks(value) if isinstance(value, str) else value

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> FetchSettings:
        """From the process environment (or `env`), with `overrides` by field name."""
        return _build(cls, env, **overrides)

    def with_host_intervals(self, intervals: Mapping[str, float]) -> FetchSettings:
        """These settings with per-host intervals (from the source list)."""
        return self.model_copy(update={"host_intervals": dict(intervals)})


def _available_cores() -> int:
    """The CPUs this process may run on (its affinity: taskset, a container's cpuset), else
    all the machine's: the default for spaCy processes and Dask workers."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no sched_getaffinity (macOS, Windows)
        return os.cpu_count() or 1


class Settings(_Base):
    """Everything configurable, with the environment variable that sets it."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", env_ignore_empty=True)

    # Elasticsearch: one URL or several, comma-separated (every node the client may use).
    # Without ELASTICSEARCH_URL the local node or nodes (`ceasefire es start`) are used.
    es_url: str | None = Field(None, validation_alias=AliasChoices("ELASTICSEARCH_URL"))
    es_api_key: SecretStr | None = Field(None, validation_alias=AliasChoices("ELASTICSEARCH_API_KEY"))
    es_username: str | None = Field(None, validation_alias=AliasChoices("ELASTICSEARCH_USERNAME"))
    es_password: SecretStr | None = Field(None, validation_alias=AliasChoices("ELASTICSEARCH_PASSWORD"))
    es_ca_certs: str | None = Field(None, validation_alias=AliasChoices("ELASTICSEARCH_CA_CERTS"))
    es_request_timeout: float = Field(30.0, gt=0, validation_alias=AliasChoices("ELASTICSEARCH_TIMEOUT"))
    # Index names: all derive from the prefix (see the properties below).
    index_prefix: str = Field("ceasefire", pattern=r"^[a-z0-9][a-z0-9_-]*$",
                              validation_alias=AliasChoices("CEASEFIRE_INDEX_PREFIX"))
    # The local development node: distribution, config, data and logs under `home`.
    home: Path = Field(default_factory=_default_home, validation_alias=AliasChoices("CEASEFIRE_HOME"))
    local_port: int = Field(9200, ge=1, le=65435, validation_alias=AliasChoices("CEASEFIRE_ES_PORT"))
    local_nodes: int = Field(default_factory=_recorded_nodes, ge=1, le=9,
                             validation_alias=AliasChoices("CEASEFIRE_ES_NODES"))
    local_heap: str = Field("512m", pattern=r"^\d+[mg]$", validation_alias=AliasChoices("CEASEFIRE_ES_HEAP"))
    local_es_version: str = Field(ES_VERSION, validation_alias=AliasChoices("CEASEFIRE_ES_VERSION"))
    local_es_zip: str | None = Field(None, validation_alias=AliasChoices("CEASEFIRE_ES_ZIP"))
    local_user: str = Field("ceasefire-es", validation_alias=AliasChoices("CEASEFIRE_ES_USER"))
    # The local node's language analyzers plugin (stemmed sub-fields); 0: a minimal node.
    local_language_analyzers: bool = Field(
        True, validation_alias=AliasChoices("CEASEFIRE_ES_LANGUAGE_ANALYZERS"))
    # The languages new indices get stemmed sub-fields in, of those the cluster has analyzers
    # for: comma-separated codes, or "none". Each adds to the index size (README: Stemming).
    stemmed_languages: Annotated[tuple[str, ...], NoDecode] = Field(
        default_factory=lambda: tuple(index_mappings.stemmed_languages()),
        validation_alias=AliasChoices("CEASEFIRE_STEMMED_LANGUAGES"))
    # Enrichment: a spaCy model name or directory for English and for French articles, and
    # nlp.pipe worker processes (default: the cores this process may use; the enricher uses 1
    # where more cannot or would not pay).
    spacy_model: str | None = Field(None, validation_alias=AliasChoices("CEASEFIRE_SPACY_MODEL"))
    spacy_model_fr: str | None = Field(None, validation_alias=AliasChoices("CEASEFIRE_SPACY_MODEL_FR"))
    spacy_n_process: int = Field(default_factory=_available_cores, ge=1,
                                 validation_alias=AliasChoices("CEASEFIRE_SPACY_PROCESSES"))
    # Fan-out of large runs (`--dask`): an existing Dask scheduler (tcp://host:8786), else a
    # LocalCluster of `dask_workers` single-threaded worker processes on this machine.
    dask_address: str | None = Field(None, validation_alias=AliasChoices("CEASEFIRE_DASK_ADDRESS"))
    dask_workers: int = Field(default_factory=_available_cores, ge=1, le=1024,
                              validation_alias=AliasChoices("CEASEFIRE_DASK_WORKERS"))
    # `ceasefire serve`: the key every HTTP API request must carry in `X-API-Key` (unset: none).
    api_key: SecretStr | None = Field(None, validation_alias=AliasChoices("CEASEFIRE_API_KEY"))
    # Fetching politeness and safety (CEASEFIRE_FETCH_*).
    fetch: FetchSettings = Field(default_factory=FetchSettings)

    @field_validator("stemmed_languages", mode="before")
    @classmethod
    def _stemmed(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        known = index_mappings.stemmed_languages()
        codes = [c.strip().lower() for c in value.split(",") if c.strip()]
        if codes == ["none"]:
            return ()
        unknown = [c for c in codes if c not in known]
        if unknown or not codes:
            raise ValueError(f"{', '.join(unknown) or value!r} is not a stemmed language: "
                             f"comma-separated codes among {', '.join(known)}, or none")
        return tuple(c for c in known if c in codes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """From the process environment (or `env`), with `overrides` by field name."""
        if "fetch" not in overrides:
            overrides["fetch"] = FetchSettings.from_env(env)
        return _build(cls, env, **overrides)

    # --- Elasticsearch endpoint ----------------------------------------------------------

    @property
    def local_url(self) -> str:
        """Where the (first) local development node listens."""
        return f"http://127.0.0.1:{self.local_port}"

    @property
    def local_urls(self) -> list[str]:
        """Every local node: consecutive HTTP ports from `local_port`."""
        return [f"http://127.0.0.1:{self.local_port + i}" for i in range(self.local_nodes)]

    @property
    def elasticsearch_urls(self) -> list[str]:
        """The nodes every client is given: ELASTICSEARCH_URL's list, else the local nodes."""
        given = [url.strip() for url in (self.es_url or "").split(",") if url.strip()]
        return given or self.local_urls

    @property
    def elasticsearch_url(self) -> str:
        """The first of `elasticsearch_urls`, for tools that take one URL."""
        return self.elasticsearch_urls[0]

    # --- index names: their one home -----------------------------------------------------

    @property
    def read_alias(self) -> str:
        """Alias every search goes through."""
        return f"{self.index_prefix}-articles"

    @property
    def write_alias(self) -> str:
        """Alias every write goes through."""
        return f"{self.index_prefix}-articles-write"

    @property
    def articles_template(self) -> str:
        """Index template that gives every versioned articles index its mapping."""
        return f"{self.index_prefix}-articles"

    @property
    def articles_pattern(self) -> str:
        """Every versioned articles index (the template's pattern)."""
        return f"{self.index_prefix}-articles-v*"

    @property
    def articles_index(self) -> str:
        """The first concrete articles index for the current mapping version."""
        return f"{self.index_prefix}-articles-v{index_mappings.schema_version()}"

    def new_articles_index(self, now: datetime | None = None) -> str:
        """A reindex target: `<prefix>-articles-v<schema>-<UTC timestamp>` (sorts by time)."""
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
        return f"{self.articles_index}-{stamp}"

    @property
    def state_index(self) -> str:
        """Index holding crawl state shared by workers (feed validators, seen URLs, robots)."""
        return f"{self.index_prefix}-state"

    @property
    def deadletter_index(self) -> str:
        """Index holding documents Elasticsearch rejected, with the reason."""
        return f"{self.index_prefix}-deadletter"

    def fetch_for(self, host_intervals: Iterable[tuple[str, float]]) -> FetchSettings:
        """Fetch settings with per-host intervals; several on one host: the most cautious."""
        intervals: dict[str, float] = {}
        for host, seconds in host_intervals:
            intervals[host.lower()] = max(seconds, intervals.get(host.lower(), 0.0))
        return self.fetch.with_host_intervals(intervals)


def secret(value: SecretStr | None) -> str | None:
    """The plain value of a secret setting, for the one place that needs it (a client)."""
    return value.get_secret_value() if value is not None else None
