"""One fetcher for a whole run, usable from synchronous steps.

The fetcher is async (httpx) and keeps per-host politeness state (request times, Retry-After,
parsed robots.txt), so a run opens exactly one and keeps it on one event loop in a background
thread (anyio's blocking portal); each step hands it a coroutine and waits for the result.
Discovery and page fetching then share one connection pool and one politeness schedule.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

from tasks.fetch.client import PoliteFetcher
from tasks.models import RobotsEntry
from tasks.settings import FetchSettings

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FetchSession:
    """The run's fetcher and the event loop it lives on."""

    fetcher: PoliteFetcher
    portal: BlockingPortal

    def call(self, step: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any) -> T:
        """Run `step(fetcher, *args, **kwargs)` on the fetcher's loop; wait for its result."""
        return self.portal.call(partial(step, self.fetcher, *args, **kwargs))

    @property
    def robots(self) -> MutableMapping[str, RobotsEntry]:
        """robots.txt entries by origin, as fetched or loaded (for saving between steps)."""
        return self.fetcher.robots_store

    @property
    def requests_sent(self) -> int:
        return self.fetcher.requests_sent


@contextmanager
def open_fetch_session(settings: FetchSettings,
                       robots: MutableMapping[str, RobotsEntry] | None = None) -> Iterator[FetchSession]:
    """A fetcher opened once, closed (connections and loop) when the block ends."""
    with start_blocking_portal() as portal:
        fetcher = PoliteFetcher(settings, robots_store=robots)
        with portal.wrap_async_context_manager(fetcher):
            yield FetchSession(fetcher, portal)
