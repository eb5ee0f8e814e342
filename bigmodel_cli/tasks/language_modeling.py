"""Predict each next token of a sequence (data.source: text_corpus, model.family: gpt).

Labels are the inputs shifted by one; the model gives logits over the vocabulary at every
position; the loss is the cross-entropy per real token (padding, id 0, masked out); accuracy
is of the next token; evaluate adds perplexity and, for one-character tokens (char, byte),
bits per character. `target.class_names` holds the token of each id, so `num_classes` is the
vocabulary size. `predict` on a text gives the likeliest next tokens; `generate` continues it.
"""

from __future__ import annotations

import math

import numpy as np

from ..data.spec import TargetSpec
from ..names import TEXT_SPECIAL_TOKENS
from .base import Task
from .names import LANGUAGE_MODELING

PADDING_ID = 0  # as TokenAndPositionEmbedding and TextVectorization pad


class LanguageModeling(Task):
    name = LANGUAGE_MODELING
    needs = "token sequences to continue"
    accepts = (LANGUAGE_MODELING,)
    min_classes = 2
    activation = None  # logits: the loss and a sampler take them as they are

    def loss(self, target: TargetSpec):
        import keras

        # ignore_class masks the padding targets; the mean is over the real tokens only.
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                          ignore_class=PADDING_ID)

    def metrics(self, target: TargetSpec) -> list:
        from .layers import MaskedAccuracy

        return [MaskedAccuracy(padding_id=PADDING_ID, name="accuracy")]

    def pairs(self, token_ids):
        """(inputs, labels) of a batch of sequences (..., length): each position's label is
        the token after it. Slicing only, so numpy arrays and tf.data tensors alike."""
        return token_ids[..., :-1], token_ids[..., 1:]

    def convert_labels(self, labels) -> np.ndarray:
        return np.asarray(labels, dtype=np.int32)

    def synthetic_labels(self, rng: np.random.Generator, target: TargetSpec, count: int,
                         length: int = 1):
        return rng.integers(1, max(self.units(target), 2), (count, length)).astype(np.int32)

    def label_text(self, label, target: TargetSpec) -> str:
        """A window's next-token labels as the text they spell (data inspect)."""
        return "".join(target.class_names[int(token)] for token in np.ravel(label))

    # --- evaluate --------------------------------------------------------------------------

    def score_batches(self, target: TargetSpec, batches) -> dict:
        """Loss, accuracy, perplexity (and bits per character) summed batch by batch: the
        logits of a whole split would not fit in memory."""
        totals = Totals()
        for labels, logits in batches:
            totals.add(labels, logits)
        return totals.numbers(one_character_tokens(target))

    def score(self, target: TargetSpec, y_true: np.ndarray, y_pred: np.ndarray) -> dict:
        return self.score_batches(target, [(y_true, y_pred)])

    def report(self, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
        """Next-token accuracy, perplexity (e ** the mean cross-entropy per real token) and bits
        per token (the same cross-entropy in base 2)."""
        totals = Totals()
        totals.add(y_true, y_pred)
        numbers = totals.numbers(False)
        if not numbers:
            return {}
        return {"accuracy": numbers["accuracy"], "perplexity": numbers["perplexity"],
                "bits_per_token": numbers["loss"] / math.log(2)}

    # --- predict -----------------------------------------------------------------------------

    def format_row(self, label: str, output: np.ndarray, target: TargetSpec, top_k: int) -> dict:
        """The likeliest next tokens after the input text: `output` is the logits of its last
        position."""
        logits = np.asarray(output, dtype=np.float64)
        logits[PADDING_ID] = -np.inf
        probabilities = np.exp(logits - logits.max())
        probabilities /= probabilities.sum()
        order = np.argsort(-probabilities, kind="stable")[:top_k]
        return {"input": label, "top": [{"class": target.class_names[index],
                                         "probability": float(probabilities[index])}
                                        for index in order]}


class Totals:
    """Running sums of cross-entropy, right guesses and real tokens."""

    def __init__(self):
        self.cross_entropy, self.right, self.tokens = 0.0, 0, 0

    def add(self, labels, logits) -> None:
        labels = np.asarray(labels, dtype=np.int64)
        logits = np.asarray(logits, dtype=np.float64)
        real = labels != PADDING_ID
        shifted = logits - logits.max(axis=-1, keepdims=True)
        log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        entropy = -np.take_along_axis(log_probabilities, labels[..., None], axis=-1)[..., 0]
        self.cross_entropy += float(entropy[real].sum())
        self.right += int((logits.argmax(axis=-1) == labels)[real].sum())
        self.tokens += int(real.sum())

    def numbers(self, per_character: bool) -> dict[str, float]:
        if not self.tokens:
            return {}
        mean = self.cross_entropy / self.tokens
        numbers = {"loss": mean, "accuracy": self.right / self.tokens,
                   "perplexity": math.exp(mean)}
        if per_character:
            numbers["bits_per_character"] = mean / math.log(2)
        return numbers


def one_character_tokens(target: TargetSpec) -> bool:
    """char and byte vocabularies: then bits per token are bits per character (or byte)."""
    return all(len(token) <= 1 for token in target.class_names
               if token not in TEXT_SPECIAL_TOKENS)
