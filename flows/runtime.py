"""Settings as a flow run sees them: the environment, plus secrets from Prefect Secret blocks.

On a worker, ops keep the Elasticsearch API key or password in a Secret block and name it in
CEASEFIRE_ES_API_KEY_BLOCK / CEASEFIRE_ES_PASSWORD_BLOCK; the value is read at run time and
never becomes a parameter or a log line (Settings hides it from repr).
"""

from __future__ import annotations

import os
import uuid

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


def current_run_id() -> str:
    """The Prefect flow run's id (a fresh one outside a flow run), naming a run's records."""
    from prefect.runtime import flow_run

    return str(flow_run.id or uuid.uuid4())
