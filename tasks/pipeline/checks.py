"""What a run checks before any work: its batch size and its input paths. Light on purpose
(no client, no Prefect): the CLI checks paths with it before importing the pipeline."""

from __future__ import annotations

import os
from collections.abc import Iterable

from tasks.settings import ConfigError


class InputNotFound(ConfigError, ValueError):
    """A file or directory given to a run does not exist."""


class BadBatchSize(ConfigError, ValueError):
    """A batch size below 1."""


def check_batch_size(batch_size: int) -> None:
    if batch_size < 1:
        raise BadBatchSize(f"batch size must be at least 1, not {batch_size}")


def check_paths(paths: Iterable[str | os.PathLike[str]]) -> None:
    """Every given path exists: a typo fails at once, not as an empty run. (A dangling link
    exists: it is read, and skipped with its reason.)"""
    missing = [str(p) for p in paths if not os.path.lexists(p)]
    if missing:
        raise InputNotFound(f"input not found: {', '.join(missing)}")
