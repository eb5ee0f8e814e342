"""Unreadable files (and rows) of a data set: the ones left out, and the one that stops a run.

Files are read in the pipeline, so a bad one may turn up while a cache is filled or in the
middle of an epoch. With data.on_bad_file: skip it is left out of its batch, and its name is
kept here for the log and results.json. With fail, the one-line error naming it is kept here
too: TensorFlow can only pass it on as its own error, which `reading()` turns back into it.
"""

from __future__ import annotations

import contextlib
import threading

from ..errors import DataError
from .folders import short_name

NAMES_IN_LOG = 5  # skipped names shown in the log line; all are counted
NAMES_IN_RESULTS = 100  # skipped names written to results.json


class BadFiles:
    def __init__(self, skipped: list[str] | None = None):
        self.names: list[str] = list(dict.fromkeys(skipped or []))
        self.fatal: DataError | None = None
        self._lock = threading.Lock()  # tf.data may report from several threads

    def skip(self, names: list[str]) -> None:
        with self._lock:
            self.names += [name for name in names if name not in self.names]

    def found(self, paths: list[str], files) -> None:
        """Files the pipeline could not read: refused (fail) or left out (skip).

        `files` is the source's `FileExamples`: its `refuse` raises the error that names them."""
        if files.on_bad_file != "skip":
            try:
                files.refuse(paths, {})
                raise DataError(f"{paths[0]}: cannot read the file; replace or remove it, or set "
                                "data.on_bad_file: skip to leave unreadable files out")
            except DataError as error:
                self.fatal = error
                raise
        self.skip([short_name(path, files.root) for path in paths])

    @contextlib.contextmanager
    def reading(self):
        """Training and evaluation run inside this: a refused file comes out as its DataError."""
        try:
            yield
        except Exception:
            if self.fatal is not None:
                raise self.fatal from None
            raise

    @property
    def count(self) -> int:
        return len(self.names)

    def note(self) -> str:
        """One line for the log; empty when nothing was skipped."""
        if not self.names:
            return ""
        shown = self.names[:NAMES_IN_LOG]
        more = len(self.names) - len(shown)
        return (f"skipped {len(self.names)} unreadable file(s) or row(s) (data.on_bad_file: skip):"
                f" {', '.join(shown)}" + (f" and {more} more" if more > 0 else ""))

