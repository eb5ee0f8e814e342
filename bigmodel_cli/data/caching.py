"""Each split's examples, kept as data.cache says: where (stores.choose), filled how, logged.

Arrays from a source are already in memory. Files (image and text folders) and streams
(tfds) are decoded into a store in one parallel pass before the first step, or, with no store,
read again every epoch. One line per split in the log says where it went and why.
"""

from __future__ import annotations

import contextlib
import os
import time

import numpy as np

from ..errors import DataError
from . import images, stores
from .examples import FromFiles, InMemory, InOrder, Pending, Stored
from .folders import short_name
from .spec import IMAGE, TEXT, Split, StreamedSplit

TEXT_OVERHEAD = 32  # bytes a string tensor keeps per example besides its text


class Caching:
    """The choices of one data set: its memory budget is shared by its splits."""

    def __init__(self, data_config, raw, bad_files, run_dir=None, console=None,
                 budget: stores.Budget | None = None):
        # Not `raw` itself: a bundle keeps this object, and must not keep a source's arrays.
        self.config, self.bad_files = data_config, bad_files
        self.files, self.arrays = raw.files, raw.files is None
        self.listing = raw.train.x if raw.files is not None else None  # for messages
        self.run_dir, self.console = run_dir, console
        self.budget = budget or stores.Budget()
        # on_bad_file: fail: files found bad while filling, refused once all splits are filled
        self.refused: list[str] = []
        self.damaged: dict[str, str] = {}
        self.deferring = False

    def examples(self, name: str, split):
        if split is None:
            return None
        if isinstance(split, StreamedSplit):
            return self.streamed(name, split)
        if self.arrays:
            return InMemory(split.x, split.y)
        return self.from_files(name, split)

    def log(self, line: str) -> None:
        if self.console is not None:
            self.console.print(line, highlight=False, markup=False)

    def choose(self, name: str, size: int, disk: bool) -> stores.Choice:
        return stores.choose(self.config.cache, name, size, self.budget, self.run_dir, disk)

    # --- image and text folders -------------------------------------------------------------

    def from_files(self, name: str, split: Split):
        files = self.files
        image = files.kind == IMAGE
        shape, dtype = (files.shape, "uint8") if image else ((), "string")
        read = reader(files)
        if image:
            size = len(split) * int(np.prod(shape))
        else:  # the texts' bytes on disk, and what a string tensor adds per text
            size = sum(file_size(path) for path in split.x) + TEXT_OVERHEAD * len(split)
        choice = self.choose(name, size, disk=image)
        if choice.where == "none":
            self.log(f"data cache: {name} not cached ({choice.why}): its {len(split):,} files "
                     "are read and decoded every epoch")
            return FromFiles(np.asarray(split.x), split.y, read, files, self.bad_files, shape,
                             dtype)
        return Pending(len(split), lambda: self.fill_files(name, split, choice, read, size))

    def fill_files(self, name: str, split: Split, choice: stores.Choice, read, size: int):
        files, paths, started = self.files, split.x, time.perf_counter()
        with stores.progress(self.console, f"caching {name}", len(split)) as advance:
            if files.kind == TEXT:  # in memory, in file order (a deterministic pass)
                parts = []
                unreadable = stores.read_all(paths, read, lambda _, texts: parts.append(texts),
                                             advance, deterministic=True)
                store, damaged = texts_tensor(parts), {}
            elif choice.where == "memory":
                scanned = images.scan(paths, files.shape, keep_pixels=True,
                                      deterministic=False, advance=advance)
                # A tensor, for tf.gather (on 2 cores about 1.5x the examples/s of a numpy
                # gather); the numpy pixels go as soon as it holds its copy of them.
                store, unreadable, damaged = as_tensor(scanned.pixels), scanned.bad, \
                    scanned.damaged
                del scanned
            else:
                def fill(array) -> dict:
                    scanned = images.scan(paths, files.shape, keep_pixels=True, into=array,
                                          deterministic=False, advance=advance)
                    return {"unreadable": scanned.bad,
                            "damaged": {str(index): text for index, text in
                                        scanned.damaged.items()}}

                key = stores.files_key(paths, files.shape)
                store, description = stores.disk_store(choice.path, key, len(split),
                                                       files.shape, fill)
                unreadable = description["unreadable"]
                damaged = {int(index): text for index, text in description["damaged"].items()}
        if unreadable:
            self.leave_out([paths[index] for index in unreadable],
                           {paths[index]: text for index, text in damaged.items()})
        kept = np.setdiff1d(np.arange(len(split)), unreadable)
        if not len(kept):
            self.refuse()  # with on_bad_file: fail, the unreadable files are the cause: named
            raise DataError(f"no readable {files.kind} files for the {name} split in "
                            f"{files.root}")
        self.log_filled(name, len(kept), choice, size, started)
        if files.kind == TEXT:
            return InMemory(store, split.y[kept])
        kind = InMemory if choice.where == "memory" else Stored
        return kind(store, split.y[kept], kept if unreadable else None)

    def leave_out(self, paths: list[str], damaged: dict[str, str]) -> None:
        """Files a filling pass could not read: left out (skip), or refused (fail). While the
        whole data set is filled (`refusing_after`), the refusal waits for every split: the
        error then names the first bad file of them all and counts the others."""
        files = self.files
        if files.on_bad_file == "skip":
            self.bad_files.skip([short_name(path, files.root) for path in paths])
            return
        self.refused += paths
        self.damaged.update(damaged)
        if not self.deferring:
            self.refuse()

    def refuse(self) -> None:
        if self.refused:
            listed = {path: index for index, path in enumerate(self.listing)}
            paths = sorted(self.refused, key=lambda path: listed.get(path, len(listed)))
            self.files.refuse(paths, self.damaged)

    @contextlib.contextmanager
    def refusing_after(self):
        """Fill every split inside this; a bad file stops the run at its end."""
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = False
        self.refuse()

    def log_filled(self, name: str, count: int, choice: stores.Choice, size: int,
                   started: float) -> None:
        where = "in memory" if choice.where == "memory" else f"on disk in {choice.path.parent}"
        self.log(f"data cache: {name} {count:,} examples ({stores.human_bytes(size)}) {where} "
                 f"({choice.why}); ready in {time.perf_counter() - started:.1f} s")

    # --- streams (tfds) ---------------------------------------------------------------------

    def streamed(self, name: str, split: StreamedSplit):
        text = split.dtype == "object"
        example_bytes = TEXT_OVERHEAD + 256 if text else \
            int(np.prod(split.shape)) * np.dtype(split.dtype).itemsize
        size = len(split) * example_bytes  # text: a guess of 256 bytes a text
        choice = self.choose(name, size, disk=not text and split.dtype == "uint8")
        if choice.where == "none":
            self.log(f"data cache: {name} not cached ({choice.why}): it is read in order "
                     f"every epoch, mixed by a buffer of {self.config.shuffle_buffer:,}")
            return InOrder(split, self.config.shuffle_buffer)
        return Pending(len(split), lambda: self.fill_stream(name, split, choice, size))

    def fill_stream(self, name: str, split: StreamedSplit, choice: stores.Choice, size: int):
        started, count, shape = time.perf_counter(), len(split), split.shape

        def copy(write, advance) -> dict:
            """Read the stream once: write(position, batch) each batch; the labels."""
            position, labels = 0, []
            for x, y in split.read().batch(stores.FILL_BATCH):
                write(position, x)
                labels.append(y.numpy())
                position += len(y)
                advance(len(y))
            if position != count:
                raise DataError(f"{split.key}: the stream gave {position:,} examples where "
                                f"{count:,} were announced; prepare the dataset again")
            return {"labels": np.concatenate(labels).tolist()}

        def into(array):
            return lambda at, x: array.__setitem__(slice(at, at + len(x)), x.numpy())

        with stores.progress(self.console, f"caching {name}", count) as advance:
            if split.dtype == "object":
                parts = []
                labels = copy(lambda _, texts: parts.append(texts), advance)["labels"]
                store = texts_tensor(parts)
            elif choice.where == "memory":
                store = np.empty((count, *shape), split.dtype)
                labels = copy(into(store), advance)["labels"]
            else:
                key = stores.files_key([], split.key, count, shape)
                store, description = stores.disk_store(
                    choice.path, key, count, shape, lambda array: copy(into(array), advance))
                labels = description["labels"]
        labels = np.asarray(labels, split.label_dtype)
        self.log_filled(name, count, choice, size, started)
        if split.dtype == "object" or choice.where == "memory":
            return InMemory(as_tensor(store) if choice.where == "memory" else store, labels)
        return Stored(store, labels)


def reader(files):
    """The function from a path (a string tensor) to a decoded example."""
    from . import images, text_folder

    if files.kind == IMAGE:
        return lambda path: images.read_image_file(path, *files.shape)
    return text_folder.read_in_pipeline


def writer(array):
    def write(indices, decoded):
        array[indices] = decoded.numpy()
    return write


def as_tensor(array):
    import tensorflow as tf

    from .examples import on_cpu

    return on_cpu(tf, array)


def texts_tensor(parts):
    import tensorflow as tf

    with tf.device("/cpu:0"):
        return tf.concat(parts, axis=0) if parts else tf.constant([], tf.string)


def file_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
