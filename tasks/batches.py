"""Bounded batches over a stream: memory follows the batch size, never the input size."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

T = TypeVar("T")


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most `size` items, read lazily from `items`."""
    if size < 1:
        raise ValueError("batch size must be at least 1")
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch
