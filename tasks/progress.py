"""Progress events from the pipeline for whoever listens: the CLI draws bars from them.

Steps call `advance(stage, done, total)`; nothing listens inside a worker, so it costs a
lookup. Listeners must be quick and thread-safe (tasks run in worker threads).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

Listener = Callable[[str, int, int], None]  # stage, done, total (0 when not known: a stream)
_listeners: list[Listener] = []


def advance(stage: str, done: int, total: int) -> None:
    """Tell every listener that `done` of `total` items of `stage` are finished."""
    for listener in tuple(_listeners):
        listener(stage, done, total)


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Send progress events to `listener` while the block runs."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)
