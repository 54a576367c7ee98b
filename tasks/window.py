"""Date windows for backfills: which links and articles fall inside [since, until)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from tasks.models import Article, Link, Skip
from tasks.settings import ConfigError


class BadWindow(ConfigError, ValueError):
    """A backfill's `since`/`until` is not a date or time, or the window is empty."""


def parse_bound(text: str, name: str) -> date | datetime:
    """`2025-10-01` (a day) or an ISO time (`2025-10-01T06:30:00+02:00`; naive = UTC)."""
    value = text.strip()
    try:
        return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    except ValueError:
        raise BadWindow(f"{name} {text!r} is not a date: use YYYY-MM-DD or an ISO time such as "
                        "2025-10-13T06:30:00+05:30") from None


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@dataclass(frozen=True, slots=True)
class DateWindow:
    """Published on or after `since` and before `until` (either end may be open)."""

    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def of(cls, since: date | datetime | None, until: date | datetime | None) -> DateWindow:
        """A window from user input: a bare date as `until` includes that whole day; naive
        times are UTC."""
        start = end = None
        if since is not None:
            start = _as_utc(since if isinstance(since, datetime) else datetime.combine(since, time()))
        if until is not None:
            end = (_as_utc(until) if isinstance(until, datetime)
                   else datetime.combine(until + timedelta(days=1), time(), UTC))
        if start and end and start >= end:
            raise BadWindow(f"empty date window: since {start.isoformat()} is not before "
                             f"until {end.isoformat()}")
        return cls(start, end)

    @property
    def open(self) -> bool:
        """No bounds: everything is inside."""
        return self.since is None and self.until is None

    def contains(self, moment: datetime) -> bool:
        moment = _as_utc(moment)
        return ((self.since is None or moment >= self.since)
                and (self.until is None or moment < self.until))

    def __str__(self) -> str:
        since = self.since.isoformat() if self.since else "the beginning"
        until = self.until.isoformat() if self.until else "now"
        return f"[{since}, {until})"


def links_in_window(links: list[Link], window: DateWindow) -> tuple[list[Link], int]:
    """Keep links listed inside the window, and undated ones (their page may carry a date);
    return them and how many were dropped."""
    kept = [link for link in links
            if link.published_at is None or window.contains(link.published_at)]
    return kept, len(links) - len(kept)


def articles_in_window(articles: list[Article],
                       window: DateWindow) -> tuple[list[Article], list[Skip]]:
    """Split articles into those published inside the window and named skips for the rest."""
    if window.open:
        return articles, []
    kept: list[Article] = []
    skips: list[Skip] = []
    for article in articles:
        origin = article.url or article.origin or article.title
        if article.published_at is None:
            skips.append(Skip(origin, "undated", f"no publication date to place in {window}"))
        elif not window.contains(article.published_at):
            skips.append(Skip(origin, "outside-date-window",
                              f"published {article.published_at.isoformat()}, window {window}"))
        else:
            kept.append(article)
    return kept, skips
