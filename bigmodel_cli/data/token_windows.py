"""Windows of `context_length + 1` tokens read from a memory-mapped token file.

Training reads `batch_size` windows at random offsets per step, as nanoGPT does: the offsets
of step s come from a stateless generator seeded with (seed, s), so the stream entered at any
step is the stream an uninterrupted run reads from that step on (exact resume costs no
skipping), and the corpus may be far larger than memory (only the windows read are paged in).
Evaluation reads the split's disjoint windows in order. Each window becomes the pair
(inputs = tokens[:-1], labels = tokens[1:]). `predict` reads the last window of each text.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import tokenizers

SEED_MODULUS = 2**31 - 1


class TokenWindows:
    """The tokens [start, end) of a token file, as windows of `context_length + 1`."""

    random_access = True

    def __init__(self, path: Path, dtype: str, start: int, end: int, context_length: int,
                 batch_size: int, *, training: bool = False, eval_batches: int | None = None):
        self.path, self.dtype = Path(path), dtype
        self.training = training
        self.start, self.end, self.context_length = start, end, context_length
        self.batch_size, self.eval_batches = batch_size, eval_batches
        self._tokens = None
        self.labels = None  # next-token labels are read with their windows

    @property
    def tokens(self) -> np.ndarray:
        if self._tokens is None:  # opened on first read: the pipeline may run in a thread
            self._tokens = np.memmap(self.path, dtype=self.dtype, mode="r")
        return self._tokens

    @property
    def token_count(self) -> int:
        return self.end - self.start

    @property
    def windows(self) -> int:
        """Disjoint windows in the split (the last token of one is the first of the next)."""
        return max(0, (self.token_count - 1) // self.context_length)

    def __len__(self) -> int:
        """Training: the windows of one pass, in whole batches (an epoch reads about every
        token once); evaluation: the windows read (all, or eval_batches of them)."""
        if self.training:
            return max(1, self.windows // self.batch_size) * self.batch_size
        if self.eval_batches:
            return min(self.windows, self.eval_batches * self.batch_size)
        return self.windows

    def read(self, offsets: np.ndarray) -> np.ndarray:
        """The windows starting at these offsets (relative to the split), as int32."""
        span = np.arange(self.context_length + 1)
        return np.asarray(self.tokens[self.start + offsets[:, None] + span], dtype=np.int32)

    def training_offsets(self, seed: int, step: int) -> np.ndarray:
        """The offsets of one training step (numpy, for tests and benchmarks)."""
        import tensorflow as tf

        return self._offsets(tf, tf.constant(seed, tf.int64), tf.constant(step, tf.int64)).numpy()

    def _offsets(self, tf, seed, step):
        highest = self.token_count - self.context_length - 1  # the last offset with a label
        pair = tf.stack([tf.math.floormod(seed, SEED_MODULUS), step])
        return tf.random.stateless_uniform((self.batch_size,), pair, minval=0,
                                           maxval=highest + 1, dtype=tf.int64)

    def dataset(self, seed: int, training: bool, first_step: int | None):
        """The batched pipeline of (inputs, labels): training from `first_step` (None: one
        pass, for a validation run of the training split), else in order."""
        import tensorflow as tf

        length = self.context_length
        if training:
            steps = tf.data.Dataset.range(first_step or 0, np.iinfo(np.int64).max)
            if first_step is None:
                steps = steps.take(max(1, len(self) // self.batch_size))
            seed_tensor = tf.constant(seed, tf.int64)
            offsets = steps.map(lambda step: self._offsets(tf, seed_tensor, step))
        else:
            offsets = tf.data.Dataset.range(len(self)).batch(self.batch_size).map(
                lambda index: index * length)

        def pairs(batch_offsets):
            windows = tf.numpy_function(self.read, [batch_offsets], tf.int32, stateful=False)
            windows.set_shape((None, length + 1))
            return windows[:, :-1], windows[:, 1:]

        options = tf.data.Options()
        options.deterministic = True
        return offsets.map(pairs, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
            tf.data.AUTOTUNE).with_options(options)


def last_positions(texts: list[str], spec) -> tuple[list[str], np.ndarray, list[int]]:
    """`predict` on a language model: each text as ids (its last context_length, padded at
    the end) and the position of its last token, whose logits give the next token."""
    tokenizer = tokenizers.from_dict(spec.tokenizer)
    length = spec.shape[0]
    batch = np.zeros((len(texts), length), np.int32)
    last = []
    for row, text in enumerate(texts):
        ids = tokenizer.encode(text or "\n")[-length:]
        batch[row, :len(ids)] = ids
        last.append(len(ids) - 1)
    return list(texts), batch, last
