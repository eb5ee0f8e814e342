"""Predict each next token of a sequence: the interface the language-model issue builds on.

Not yet reachable from `model.task` (names.CONFIG_CHOICES): no source yields token sequences
to continue and no family outputs a vector per position yet. What is here is what that work
needs: labels are the inputs shifted by one; the head gives logits over the vocabulary at
every position; the loss is the cross-entropy per real token (padding, id 0, masked out);
accuracy is of the next token; the report adds perplexity. `target.class_names` holds the
token of each id, so `num_classes` is the vocabulary size.
"""

from __future__ import annotations

import numpy as np

from ..data.spec import TargetSpec
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

    def report(self, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
        """Next-token accuracy, perplexity (e ** the mean cross-entropy per real token) and bits
        per token (the same cross-entropy in base 2; bits per character for a character
        vocabulary)."""
        labels = np.asarray(y_true, dtype=np.int64)
        logits = np.asarray(y_pred, dtype=np.float64)
        real = labels != PADDING_ID
        if not real.any():
            return {}
        shifted = logits - logits.max(axis=-1, keepdims=True)
        log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        cross_entropy = -np.take_along_axis(log_probabilities, labels[..., None], axis=-1)[..., 0]
        mean = float(cross_entropy[real].mean())
        return {"accuracy": float((logits.argmax(axis=-1) == labels)[real].mean()),
                "perplexity": float(np.exp(mean)),
                "bits_per_token": mean / float(np.log(2.0))}

    def format_row(self, label: str, output: np.ndarray, target: TargetSpec, top_k: int) -> dict:
        raise NotImplementedError("language_modeling predicts through `generate` (next issue)")
