"""Cutting validation and test examples out of a training split, and capping its size.

The cut is scikit-learn's seeded `train_test_split`, stratified by class when the labels
allow it, on example indices (file names for folders, never decoded arrays): the same seed
always gives the same three splits. `SPLIT_CUT` names this cut in spec.json, so that a run
whose splits were cut another way (an earlier bigmodel) is told apart.

Each split keeps its examples in the source's order (often class after class), so that
evaluation and predictions line up with the files. Training never reads them in that order:
the pipeline permutes all training examples anew every epoch (pipeline.epoch_order).
"""

from __future__ import annotations

import numpy as np

from .. import tasks
from ..errors import DataError
from .spec import Split

# Version of the cut written to spec.json: 2 is scikit-learn's stratified train_test_split (1,
# before it and not written, interleaved classes along a seeded permutation).
SPLIT_CUT = 2


def other_cut_note(trained_spec: dict, split_cut: int | None) -> str | None:
    """A warning when a run's held-out splits were cut another way than they are now."""
    if split_cut is None or trained_spec.get("split_cut", 1) == split_cut:
        return None
    return ("this run's validation and test examples were cut from its training data by an "
            "earlier bigmodel, another way: the splits read now may hold examples it trained on; "
            "train a new run for clean figures")


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


def hold_out(labels: np.ndarray, pool: np.ndarray, count: int, stratify: bool,
             seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split the example indices `pool` into (kept, held out `count`), both sorted: a seeded
    random cut, stratified by class when asked and when the classes allow it."""
    from sklearn.model_selection import train_test_split

    try:
        kept, held = train_test_split(pool, test_size=count, random_state=seed % 2**32,
                                      stratify=labels[pool] if stratify else None)
    except ValueError:
        # scikit-learn stratifies only when every class has two examples and `count` can hold
        # one of each class; a smaller split is cut at random instead.
        kept, held = train_test_split(pool, test_size=count, random_state=seed % 2**32)
    return np.sort(kept), np.sort(held)


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
    # Stratified when classifying (tasks.Task.stratify: one class per example); each split
    # sorted: the training pipeline permutes its examples every epoch.
    stratify = tasks.get(task).stratify
    labels = np.asarray(train.y)
    remaining = np.arange(total)
    if test is None and test_count:
        remaining, held = hold_out(labels, remaining, test_count, stratify, seed)
        test = take(train, held)
    if validation is None and validation_count:
        remaining, held = hold_out(labels, remaining, validation_count, stratify, seed + 1)
        validation = take(train, held)
    return take(train, remaining), validation, test


def cap_examples(train: Split, max_examples: int | None, seed: int) -> Split:
    """Keep a seeded random subset of `max_examples` training examples."""
    if max_examples is None or len(train) <= max_examples:
        return train
    # A different stream from the split cut, so capping does not favour the cut's order.
    rng = random_generator(seed, 1)
    return take(train, np.sort(rng.permutation(len(train))[:max_examples]))
