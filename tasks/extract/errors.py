"""The error extraction raises for an input that holds no usable article (html, records)."""

from __future__ import annotations


class ExtractionError(ValueError):
    """An input held no usable article; `reason` names why, for run summaries."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
