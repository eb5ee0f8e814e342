"""What training gets from the data: pipelines per split, the input and target specs, and the
files left out. Pipelines are made (and caches filled) when a split is first used."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from .bad_files import NAMES_IN_LOG, NAMES_IN_RESULTS, BadFiles
from .examples import Pending
from .spec import InputSpec, TargetSpec

SPLITS = ("train", "validation", "test")


class DataBundle:
    """Ready-to-train pipelines (batched, prefetched; train in a new order every epoch)."""

    def __init__(self, examples: dict[str, Any], input_spec: InputSpec, target: TargetSpec,
                 build: Callable, bad_files: BadFiles, filling: Callable = contextlib.nullcontext):
        self._examples = examples  # split -> examples (data.examples), Pending, or None
        self.input_spec, self.target = input_spec, target
        self._build = build  # (examples, training, first_step[, index_batches]) -> a Dataset
        self.bad_files = bad_files
        self._filling = filling  # the context to fill every split in (caching.Caching)
        self._pipelines: dict[str, Any] = {}
        # splits.SPLIT_CUT when validation or test was cut from train here, else None
        self.split_cut: int | None = None

    def examples(self, name: str):
        """A split's examples, its cache filled first if it has one still to fill."""
        found = self._examples[name]
        if isinstance(found, Pending):
            found = self._examples[name] = found.fill()
        return found

    def fill(self) -> DataBundle:
        """Fill every split's cache now (a bad file is met here, not at the first step)."""
        with self._filling():
            for name in SPLITS:
                self.examples(name)
        return self

    def _pipeline(self, name: str, training: bool = False):
        if name not in self._pipelines:
            examples = self.examples(name)
            self._pipelines[name] = None if examples is None else \
                self._build(examples, training, None)
        return self._pipelines[name]

    @property
    def train(self):
        return self._pipeline("train", training=True)

    @property
    def validation(self):
        return self._pipeline("validation")

    @property
    def test(self):
        return self._pipeline("test")

    def split(self, name: str):
        return self._pipeline(name, training=name == "train")

    def train_stream(self, first_step: int, index_batches=None):
        """Every training batch of the run, epoch after epoch, from `first_step` on; the same
        sequence in every process, so a resumed run sees the batches an uninterrupted one would.
        A new pipeline per call: tf.data's reshuffle state lives in the dataset object.
        `index_batches`: the batches' indices when the run samples its own (poisson.py)."""
        if index_batches is None:
            return self._build(self.examples("train"), True, first_step)
        return self._build(self.examples("train"), True, first_step, index_batches)

    @property
    def sizes(self) -> dict[str, int]:
        """Examples per split (0: no such split), after any unreadable files are left out."""
        return {name: 0 if self.examples(name) is None else len(self.examples(name))
                for name in SPLITS}

    @property
    def labels(self) -> dict[str, Any]:
        """Numpy labels per split (None where they are known only by reading a stream)."""
        return {name: getattr(self.examples(name), "labels", None) for name in SPLITS}

    # --- files left out, and the one that stops the run ------------------------------------

    @property
    def skipped(self) -> int:
        return self.bad_files.count

    @property
    def skipped_names(self) -> list[str]:
        return self.bad_files.names[:NAMES_IN_LOG]

    @property
    def skipped_files(self) -> list[str]:
        return self.bad_files.names[:NAMES_IN_RESULTS]

    @property
    def skipped_note(self) -> str:
        return self.bad_files.note()

    def reading(self):
        """Wrap fit/evaluate in this: a file refused mid-stream comes out as its DataError."""
        return self.bad_files.reading()
