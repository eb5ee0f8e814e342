"""Cutting validation and test examples out of a training split, and capping its size.

Everything here is numpy: the cut is a seeded permutation, stratified by class when the
labels allow it, so that the same seed always gives the same three splits.

Each split keeps its examples in the source's order (often class after class), so that
evaluation and predictions line up with the files. Training never reads them in that order:
the pipeline permutes all training examples anew every epoch (pipeline.epoch_order).
"""

from __future__ import annotations

import numpy as np

from .. import tasks
from ..errors import DataError
from .spec import Split


def random_generator(seed: int, *stream: int) -> np.random.Generator:
    """A numpy generator for a config seed (any int, even negative) and an optional stream id."""
    return np.random.default_rng([seed % 2**32, *stream])


def take(split: Split, indices: np.ndarray) -> Split:
    return Split(x=split.x[indices], y=split.y[indices])


def cut_count(total: int, fraction: float) -> int:
    """Examples to hold out: at least one whenever the fraction asks for any."""
    if fraction <= 0:
        return 0
    return max(1, int(round(total * fraction)))


def shuffled_order(labels: np.ndarray, task: str, seed: int) -> np.ndarray:
    """A seeded permutation of example indices, with classes interleaved when classifying.

    Interleaving (each class's examples spread evenly along the order) means any prefix of the
    order is close to stratified, so held-out splits cut from its front keep the class balance.
    """
    rng = random_generator(seed)
    order = rng.permutation(len(labels))
    if not tasks.get(task).stratify:  # not one class per example (regression, multilabel)
        return order
    # Position of each example within its own class, as a fraction of the class size; sorting
    # by that fraction (ties broken by the random order) spreads every class evenly.
    shuffled_labels = labels[order]
    rank_in_class = np.zeros(len(labels), dtype=np.float64)
    for label in np.unique(shuffled_labels):
        members = np.flatnonzero(shuffled_labels == label)
        rank_in_class[members] = (np.arange(len(members)) + rng.random()) / len(members)
    return order[np.argsort(rank_in_class, kind="stable")]


def cut_splits(
    train: Split,
    validation: Split | None,
    test: Split | None,
    *,
    validation_fraction: float,
    test_fraction: float,
    task: str,
    seed: int,
) -> tuple[Split, Split | None, Split | None]:
    """Hold out the missing validation and test splits from train (fractions of its size)."""
    total = len(train)
    test_count = cut_count(total, test_fraction) if test is None else 0
    validation_count = cut_count(total, validation_fraction) if validation is None else 0
    if test_count == 0 and validation_count == 0:
        return train, validation, test
    if test_count + validation_count >= total:
        raise DataError(
            f"only {total} training examples: too few to hold out "
            f"validation_split={validation_fraction} and test_split={test_fraction}; "
            "lower them or use more examples")
    order = shuffled_order(np.asarray(train.y), task, seed)
    if test is None and test_count:
        test = take(train, np.sort(order[:test_count]))
    if validation is None and validation_count:
        validation = take(train, np.sort(order[test_count:test_count + validation_count]))
    # Sorted like the held-out splits: the training pipeline permutes them every epoch.
    remaining = np.sort(order[test_count + validation_count:])
    return take(train, remaining), validation, test


def cap_examples(train: Split, max_examples: int | None, seed: int) -> Split:
    """Keep a seeded random subset of `max_examples` training examples."""
    if max_examples is None or len(train) <= max_examples:
        return train
    # A different stream from the split cut, so capping does not favour the cut's order.
    rng = random_generator(seed, 1)
    return take(train, np.sort(rng.permutation(len(train))[:max_examples]))
