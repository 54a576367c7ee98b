"""Waiting between retries: one backoff formula for the fetcher and for bulk indexing."""

from __future__ import annotations

import random


def full_jitter(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Seconds before a retry: uniform in [0, min(cap, base * 2**attempt)] ("full jitter").

    `attempt` is the exponent, so 0 waits at most `base`. Jitter spreads retries from many
    clients instead of bunching them; the cap keeps late retries from waiting for minutes.
    """
    return rng.uniform(0, min(cap, base * 2 ** attempt))
