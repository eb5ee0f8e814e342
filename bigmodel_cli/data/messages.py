"""Helpers for the one-line error messages the data sources raise."""

from __future__ import annotations


def one_line(error: BaseException, limit: int = 300) -> str:
    """An exception's message on one line (library errors often span several), shortened."""
    text = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    text = text or type(error).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."
