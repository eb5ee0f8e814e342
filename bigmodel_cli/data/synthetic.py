"""Synthetic data of every input kind: small, deterministic for a seed, and learnable.

Each class leaves a clear mark on its examples (a mean vector, an image template, favourite
tokens or words), so a tiny model beats chance within a few epochs. With num_classes 1 the
task is regression and a hidden score in [0, 1] (or a linear function for vectors) is the target.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..tasks.names import classification_task
from .spec import IMAGE, REGRESSION, TEXT, TOKENS, VECTOR, RawData, Split
from .splits import random_generator

DEFAULT_SHAPES = {VECTOR: (16,), IMAGE: (8, 8, 1), TOKENS: (32,)}
DEFAULT_TOKEN_VOCABULARY = 100
TEXT_WORDS = 200  # distinct words in the generated language
TEXT_LENGTHS = (8, 16)  # words per sentence, inclusive
FAVOURITES_PER_CLASS = 8  # tokens or words a class uses far more often than chance
FAVOURITE_SHARE = 0.5  # share of a class's tokens drawn from its favourites
CONSONANTS, VOWELS = "bdfgklmnprstvz", "aeiou"


def load(data_config, seed: int) -> RawData:
    rng = random_generator(seed, 7)  # stream 7: independent of the split cut's stream
    num_classes, count = data_config.num_classes, data_config.num_examples
    task = REGRESSION if num_classes == 1 else classification_task(num_classes)
    if task == REGRESSION:
        targets = rng.random(count)  # the hidden score each example is made from
    else:
        targets = rng.permutation(np.arange(count) % num_classes)  # balanced classes
    kind = data_config.kind
    shape = example_shape(data_config)
    vocab_size = None
    if kind == VECTOR:
        x, targets = vectors(rng, shape, targets, task, num_classes)
    elif kind == IMAGE:
        x = images(rng, shape, targets, task, num_classes)
    elif kind == TOKENS:
        vocab_size = data_config.vocab_size or DEFAULT_TOKEN_VOCABULARY
        if vocab_size < 2:
            raise ConfigError("data.vocab_size must be at least 2 for tokens (0 is padding)")
        ids = token_ids(rng, targets, task, num_classes, range(1, vocab_size), shape[0])
        x = ids.astype(np.int32)
    else:
        words = invent_words(rng, TEXT_WORDS)
        ids = token_ids(rng, targets, task, num_classes, range(1, TEXT_WORDS + 1),
                        TEXT_LENGTHS[1], shortest=TEXT_LENGTHS[0])
        x = np.asarray([" ".join(words[i - 1] for i in row if i) for row in ids], dtype=object)
    class_names = [] if task == REGRESSION else [f"class_{i}" for i in range(num_classes)]
    y = targets.astype(np.float32 if task == REGRESSION else np.int32)
    return RawData(train=Split(x=x, y=y), input_kind=kind, task=task,
                   class_names=class_names, vocab_size=vocab_size)


def example_shape(data_config) -> tuple[int, ...]:
    kind, shape = data_config.kind, data_config.input_shape
    if kind == TEXT:
        if shape is not None:
            raise ConfigError("data.input_shape does not apply to text (use data.sequence_length)")
        return ()
    if shape is None:
        return DEFAULT_SHAPES[kind]
    if kind in (VECTOR, TOKENS) and len(shape) != 1:
        raise ConfigError(f"data.input_shape for {kind} needs one number, got {shape}")
    if kind == IMAGE and len(shape) not in (2, 3):
        raise ConfigError(
            f"data.input_shape for image needs [height, width, channels], got {shape}")
    return tuple(shape) + ((1,) if kind == IMAGE and len(shape) == 2 else ())


def vectors(rng, shape, targets, task, num_classes):
    """Gaussian clouds around class means; features get their own scale and offset so that
    normalization matters. Regression: the target is a noisy linear function of the features."""
    features = shape[0]
    if task == REGRESSION:
        x = rng.normal(size=(len(targets), features))
        weights = rng.normal(size=features) / np.sqrt(features)
        targets = x @ weights + rng.normal(0, 0.1, len(targets))
    else:
        centers = rng.normal(size=(num_classes, features))
        x = centers[targets] + rng.normal(size=(len(targets), features))
    scales = np.exp(rng.uniform(np.log(0.5), np.log(4.0), features))
    offsets = rng.normal(0, 3.0, features)
    return (x * scales + offsets).astype(np.float32), targets


def images(rng, shape, targets, task, num_classes):
    """Uint8 pixels: a noisy copy of the class's template (or a template dimmed by the score)."""
    noise = rng.normal(0, 40.0, (len(targets), *shape))
    if task == REGRESSION:
        template = rng.uniform(0.5, 1.0, shape)
        pixels = targets.reshape(-1, *([1] * len(shape))) * 255 * template + noise / 2
    else:
        templates = rng.uniform(0, 255, (num_classes, *shape))
        pixels = templates[targets] + noise
    return np.clip(np.round(pixels), 0, 255).astype(np.uint8)


def token_ids(rng, targets, task, num_classes, vocabulary, longest, shortest=None):
    """(examples, longest) ids with trailing 0 padding; each class favours a few ids.

    Regression: one favourite set, used more often the higher the example's score.
    """
    vocabulary = np.asarray(vocabulary)
    groups = 1 if task == REGRESSION else num_classes
    set_size = max(1, min(FAVOURITES_PER_CLASS, len(vocabulary) // groups))
    # Disjoint favourites while the vocabulary allows; np.resize repeats ids when it is small.
    favourites = np.resize(rng.permutation(vocabulary), (groups, set_size))
    count = len(targets)
    group = np.zeros(count, dtype=int) if task == REGRESSION else targets
    share = 0.8 * targets if task == REGRESSION else np.full(count, FAVOURITE_SHARE)
    from_favourites = rng.random((count, longest)) < share[:, None]
    favourite_ids = favourites[group[:, None], rng.integers(0, set_size, (count, longest))]
    ids = np.where(from_favourites, favourite_ids, rng.choice(vocabulary, (count, longest)))
    shortest = shortest or max(1, longest // 2)
    lengths = rng.integers(shortest, longest + 1, count)
    ids[np.arange(longest)[None, :] >= lengths[:, None]] = 0
    return ids


def invent_words(rng, count: int) -> list[str]:
    """Distinct pronounceable words of two or three syllables."""
    syllables = [consonant + vowel for consonant in CONSONANTS for vowel in VOWELS]
    words: dict[str, None] = {}  # a dict keeps insertion order, so the result is deterministic
    while len(words) < count:
        parts = rng.choice(syllables, rng.integers(2, 4))
        words["".join(parts)] = None
    return list(words)
