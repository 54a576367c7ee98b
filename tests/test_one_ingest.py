"""Ingesting runs never overlap: every ingest flow holds the `ceasefire-ingest` global
concurrency slot (created with limit 1 when missing) while it writes (real Prefect API)."""

from __future__ import annotations

import threading
import time

from flows.ingest import ingest_files
from flows.runtime import INGEST_LIMIT, one_ingest_at_a_time
from tests.conftest import EXAMPLES


def test_a_run_waits_while_another_holds_the_ingest_slot(prefect_api, settings, es):
    from prefect.client.orchestration import get_client

    results = []
    with one_ingest_at_a_time():  # another run is writing
        with get_client(sync_client=True) as client:
            limit = client.read_global_concurrency_limit_by_name(INGEST_LIMIT)
        assert limit.limit == 1 and limit.active
        worker = threading.Thread(target=lambda: results.append(ingest_files(paths=[str(EXAMPLES)])))
        worker.start()
        time.sleep(8)
        assert worker.is_alive() and not results  # still waiting for the slot
        assert not es.indices.exists_alias(name=settings.read_alias)  # not even set up
    worker.join(300)
    assert results and results[0].created == 2
