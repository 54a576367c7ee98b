"""Runs of several variants, interleaved and alternating in order round by round, so a busy
shared machine slows each variant alike; rates in articles per second."""

from __future__ import annotations

from collections.abc import Callable


def interleaved(variants: list[tuple[str, Callable[[], dict[str, float]]]], rounds: int,
                width: int = 42) -> dict[str, list[float]]:
    """Each variant's rates (`created / seconds` of what its run returns), one per round."""
    rates: dict[str, list[float]] = {label: [] for label, _ in variants}
    for round_ in range(rounds):
        for label, run in variants if round_ % 2 == 0 else variants[::-1]:
            r = run()
            rate = r["created"] / r["seconds"]
            rates[label].append(rate)
            print(f"round {round_ + 1}: {label:<{width}} {rate:7.2f} articles/s ({r['seconds']:.1f} s)",
                  flush=True)
    return rates
