"""Errors that reach the user as one line and an exit code.

Anything raised as a `BigModelError` is printed by the CLI as a single red line; the traceback
is shown only with `--debug`. Usage and config mistakes exit with 2, runtime failures with 1.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

USAGE_EXIT_CODE = 2
RUNTIME_EXIT_CODE = 1


class BigModelError(Exception):
    """A failure we can explain in one line."""

    exit_code = RUNTIME_EXIT_CODE


class ConfigError(BigModelError):
    """A config file, an override or a command-line argument is wrong."""

    exit_code = USAGE_EXIT_CODE


class UsageError(BigModelError):
    """The command was called in a way that cannot work (a missing run directory, bad input)."""

    exit_code = USAGE_EXIT_CODE


class DataError(BigModelError):
    """A dataset could not be loaded or read."""


class RunError(BigModelError):
    """Training, evaluation or prediction failed while running."""


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """Return "; did you mean 'x'?" for a close match, or an empty string."""
    matches = difflib.get_close_matches(str(name), list(known), n=1, cutoff=0.6)
    return f"; did you mean '{matches[0]}'?" if matches else ""


def unknown_name(kind: str, name: str, known: Iterable[str]) -> str:
    """The message for a registry miss: what was asked, the closest name, and all known names."""
    known = sorted(known)
    hint = did_you_mean(name, known) or ";"
    return f"unknown {kind} '{name}'{hint} known: {', '.join(known)}"


def lookup(registry: dict, kind: str, name: str, error: type[BigModelError] = ConfigError):
    """Get `registry[name]`, or raise an error that lists what exists."""
    try:
        return registry[name]
    except KeyError:
        raise error(unknown_name(kind, name, registry)) from None
