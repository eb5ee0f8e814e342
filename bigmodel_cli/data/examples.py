"""A split's examples, wherever they are, and how a batch of indices becomes a batch of them.

All kinds but `InOrder` are random access: the pipeline hands them batches of example indices
(in training a new permutation of all of them every epoch, pipeline.epoch_order) and they
gather the examples of each batch:
  InMemory   tensors in RAM, gathered by tf.gather: the arrays a source loads, and caches
             that fit the memory budget
  Stored     decoded examples in a np.memmap file on disk: one numpy fancy-index per batch
  FromFiles  files read and decoded every pass, in parallel; an unreadable one is left out of
             its batch (data.on_bad_file: skip) or stops the run with its name (fail)
  InOrder    a stream without random access (tfds without a cache), mixed by a shuffle buffer
`Pending` stands for a cache not filled yet: the bundle fills it when the split is first used.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

# Batches of files decoded at the same time, each file by file: on 2 cores this read 3,000
# PNGs a little faster than 4 batches at a time each decoded in parallel (a thread pool per
# batch), and as fast as decoding one stream of files (which cannot skip a file in its batch).
DECODING_BATCHES = max(16, 2 * (os.cpu_count() or 1))


def on_cpu(tf, values):
    """Tensors made once, on the CPU (tf.data runs there), captured by reference in maps."""
    with tf.device("/cpu:0"):
        return tf.nest.map_structure(tf.convert_to_tensor, values)


class InMemory:
    random_access = True

    def __init__(self, x, labels: np.ndarray, rows: np.ndarray | None = None):
        # x: arrays (a dict of them for tables) or tensors (caches); rows: the row of x of
        # each example, when x also holds rows of files that turned out unreadable.
        self.x, self.labels, self.rows = x, labels, rows
        self._tensors = None

    def __len__(self) -> int:
        return len(self.labels)

    def fetch(self, index_batches, parallel):
        import tensorflow as tf

        if self._tensors is None:  # once per split, however many pipelines read it
            rows = None if self.rows is None else self.rows.astype(np.int64)
            self._tensors = on_cpu(tf, (self.x, self.labels)) + (
                None if rows is None else on_cpu(tf, rows),)
            self.x = None  # the tensors hold a copy: no second one kept
        x, labels, rows = self._tensors

        def gather(indices):
            at = indices if rows is None else tf.gather(rows, indices)
            return (tf.nest.map_structure(lambda array: tf.gather(array, at), x),
                    tf.gather(labels, indices))

        return index_batches.map(gather, **parallel)


class Stored:
    random_access = True

    def __init__(self, array: np.ndarray, labels: np.ndarray, rows: np.ndarray | None = None):
        # rows: the row of `array` of each example, when it also holds unreadable files' rows
        self.array, self.labels = array, labels
        self.rows = np.arange(len(labels)) if rows is None else rows

    def __len__(self) -> int:
        return len(self.labels)

    def fetch(self, index_batches, parallel):
        import tensorflow as tf

        array, rows, shape = self.array, self.rows, self.array.shape[1:]
        labels = on_cpu(tf, self.labels)

        def read(indices):  # one fancy-index: the batch's examples, copied out
            return array[rows[indices]]

        def gather(indices):
            x = tf.numpy_function(read, [indices], tf.as_dtype(array.dtype), stateful=False)
            x.set_shape((None, *shape))
            return x, tf.gather(labels, indices)

        return index_batches.map(gather, **parallel)


class FromFiles:
    random_access = True

    def __init__(self, paths: np.ndarray, labels: np.ndarray, read: Callable, files,
                 bad_files, example_shape: tuple[int, ...], dtype: str):
        self.paths, self.labels, self.read = paths, labels, read
        self.files, self.bad_files = files, bad_files
        self.example_shape, self.dtype = example_shape, dtype

    def __len__(self) -> int:
        return len(self.labels)

    def fetch(self, index_batches, parallel):
        """Each batch of indices is decoded as a small dataset of its own, so that an
        unreadable file (tf.data's ignore_errors drops it) shortens its batch only: batches
        and epochs stay where they were, and a resumed run still meets the same batches."""
        import tensorflow as tf

        paths, labels = on_cpu(tf, (self.paths, self.labels))
        read, dtype = self.read, tf.as_dtype(self.dtype)
        empty = tf.reshape(tf.constant([], dtype), (0, *self.example_shape))

        def decode_batch(indices):
            decoded = tf.data.Dataset.from_tensor_slices(indices).map(
                lambda index: (index, read(tf.gather(paths, index))))
            decoded = decoded.ignore_errors().batch(tf.size(indices, out_type=tf.int64))
            none_read = tf.data.Dataset.from_tensors((tf.zeros([0], tf.int64), empty))
            return decoded.concatenate(none_read).take(1).map(
                lambda kept, x: (indices, kept, x))

        def note_unreadable(indices, kept, x):
            noted = tf.cond(tf.size(kept) < tf.size(indices),
                            lambda: tf.numpy_function(self._unreadable, [indices, kept],
                                                      tf.int64),
                            lambda: tf.constant(0, tf.int64))
            with tf.control_dependencies([noted]):
                return tf.identity(x), tf.gather(labels, kept)

        batches = index_batches.interleave(
            decode_batch, cycle_length=DECODING_BATCHES, block_length=1,
            num_parallel_calls=parallel["num_parallel_calls"],
            deterministic=parallel["deterministic"])
        return batches.map(note_unreadable).filter(lambda x, y: tf.size(y) > 0)

    def _unreadable(self, indices: np.ndarray, kept: np.ndarray) -> np.int64:
        missing = np.setdiff1d(indices, kept)
        self.bad_files.found([self.paths[index] for index in missing], self.files)
        return np.int64(len(missing))


class InOrder:
    random_access = False
    labels = None  # known only by reading the stream

    def __init__(self, split, shuffle_buffer: int):
        self.split, self.shuffle_buffer = split, shuffle_buffer

    def __len__(self) -> int:
        return len(self.split)

    def batches(self, batch_size: int, seed: int, training: bool):
        dataset = self.split.read()
        if training:
            dataset = dataset.shuffle(min(self.shuffle_buffer, len(self)), seed=seed,
                                      reshuffle_each_iteration=True)
        return dataset.batch(batch_size)


class Pending:
    """A split whose cache is filled on first use; `fill()` returns its examples."""

    def __init__(self, count: int, fill: Callable):
        self.count, self.fill = count, fill

    def __len__(self) -> int:
        return self.count
