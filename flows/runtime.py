"""Settings as a flow run sees them: the environment, plus secrets from Prefect Secret blocks.

On a worker, ops keep the Elasticsearch API key or password in a Secret block and name it in
CEASEFIRE_ES_API_KEY_BLOCK / CEASEFIRE_ES_PASSWORD_BLOCK; the value is read at run time and
never becomes a parameter or a log line (Settings hides it from repr).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from tasks.settings import Settings

SECRET_BLOCKS = {"es_api_key": "CEASEFIRE_ES_API_KEY_BLOCK",
                 "es_password": "CEASEFIRE_ES_PASSWORD_BLOCK"}


def runtime_settings() -> Settings:
    """Settings from the environment, with secrets loaded from the named Secret blocks."""
    settings = Settings.from_env()
    blocks = {name: os.environ[var] for name, var in SECRET_BLOCKS.items() if os.environ.get(var)}
    if not blocks:
        return settings
    from prefect.blocks.system import Secret

    return settings.replace(**{name: Secret.load(block).get()  # type: ignore[union-attr]
                               for name, block in blocks.items()})


INGEST_LIMIT = "ceasefire-ingest"
INGEST_LEASE_S = 60.0  # renewed while the run lives; a killed run's slot frees within this


def _ensure_ingest_limit() -> None:
    """Create the global concurrency limit (1 slot) on this Prefect server when missing; an
    existing one is left as ops set it."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(INGEST_LIMIT)
        except ObjectNotFound:
            with suppress(ObjectAlreadyExists):  # another run created it first
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=INGEST_LIMIT, limit=1))


@contextmanager
def one_ingest_at_a_time() -> Iterator[None]:
    """Hold the `ceasefire-ingest` slot while a run writes articles: hourly, file and backfill
    runs (deployments or CLI) on one Prefect server never overlap; a run waits for the slot."""
    from prefect.concurrency.sync import concurrency

    _ensure_ingest_limit()
    with concurrency(INGEST_LIMIT, occupy=1, strict=True, lease_duration=INGEST_LEASE_S,
                     raise_on_lease_renewal_failure=False):
        yield


def current_run_id() -> str:
    """The Prefect flow run's id (a fresh one outside a flow run), naming a run's records."""
    from prefect.runtime import flow_run

    return str(flow_run.id or uuid.uuid4())
