"""`bigmodel generate`: continue a prompt with a trained language model, token by token.

The prompt runs through the model once (`prefill`), filling a key/value cache per block;
each new token then costs one position (`step`, gpt_layers.CausalBlock.step), not the whole
context. When the cache is full (the model's context length), the last half of the text is
run through again and generation goes on from there, as a sliding window would.
Sampling is numpy on float64 logits from one seeded generator: the same seed, run and prompt
give the same text on every machine (temperature 0 is greedy decoding).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import tokenizers
from ..errors import UsageError
from ..tasks.language_modeling import PADDING_ID


@dataclass
class Sampling:
    temperature: float = 0.8
    top_k: int | None = 200
    top_p: float | None = None

    def check(self) -> None:
        if self.temperature < 0:
            raise UsageError(f"--temperature {self.temperature}: use 0 (greedy) or more")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise UsageError(f"--top-p {self.top_p}: use a probability in (0, 1]")
        if self.top_k is not None and self.top_k < 1:
            raise UsageError(f"--top-k {self.top_k}: use 1 or more")


def choose(logits: np.ndarray, sampling: Sampling, rng: np.random.Generator) -> int:
    """One token id from the logits of the next position."""
    logits = np.asarray(logits, dtype=np.float64).copy()
    logits[PADDING_ID] = -np.inf  # padding is never text
    if sampling.temperature == 0:
        return int(np.argmax(logits))
    logits /= sampling.temperature
    if sampling.top_k is not None and sampling.top_k < len(logits):
        cutoff = np.partition(logits, -sampling.top_k)[-sampling.top_k]
        logits[logits < cutoff] = -np.inf
    probabilities = np.exp(logits - logits.max())
    probabilities /= probabilities.sum()
    if sampling.top_p is not None and sampling.top_p < 1:
        order = np.argsort(-probabilities, kind="stable")
        cumulative = np.cumsum(probabilities[order])
        keep = order[: int(np.searchsorted(cumulative, sampling.top_p)) + 1]
        kept = np.zeros_like(probabilities)
        kept[keep] = probabilities[keep]
        probabilities = kept / kept.sum()
    return int(rng.choice(len(probabilities), p=probabilities))


class Decoder:
    """The trained model's layers driven with a key/value cache (batch 1)."""

    def __init__(self, model, context_length: int):
        import tensorflow as tf

        from ..models import gpt

        self.context = context_length
        self.parts = gpt.Parts.of(model)
        self.blocks = self.parts.blocks
        block = self.blocks[0]
        self.cache_shape = (1, context_length, block.num_heads, block.head_dim)
        # XLA: one fused program per step. Measured on 2 CPU cores (small, context 64):
        # ~700 tokens/s against ~60 without it, where per-op dispatch dominates.
        # The prompt pass always takes a full context (padded), so each compiles once; both
        # are compiled here, so that tokens/s measures generation, not compilation.
        self.prefill = tf.function(self._prefill, jit_compile=True)
        self.step = tf.function(self._step, jit_compile=True)
        _, caches = self.prefill(tf.zeros((1, context_length), tf.int32), tf.constant(1))
        self.step(tf.zeros((1, 1), tf.int32), caches, tf.constant(1))

    def _logits(self, hidden):
        """The float32 logits of the one position in `hidden` (1, 1, width)."""
        import tensorflow as tf

        return tf.cast(self.parts.logits(hidden)[:, -1], tf.float32)

    def _prefill(self, ids, length):
        """ids (1, context), real up to `length` -> logits of the token after them, and the
        caches. Causal attention keeps the padding after `length` out of every real position;
        its keys and values in the cache are overwritten one by one before they are seen."""
        import tensorflow as tf

        hidden = self.parts.place(self.parts.embedding(ids))
        caches = []
        for block in self.blocks:
            hidden, key, value = block.prefill(hidden)
            caches += [key, value]
        last = tf.gather(hidden, [length - 1], axis=1)  # a gather: one compilation for all
        return self._logits(last), caches

    def _step(self, token, caches, index):
        """token (1, 1) at position `index` -> logits of the next token, updated caches."""
        hidden = self.parts.place(self.parts.embedding(token), start=index)
        updated = []
        for number, block in enumerate(self.blocks):
            hidden, key, value = block.step(hidden, caches[2 * number], caches[2 * number + 1],
                                            index)
            updated += [key, value]
        return self._logits(hidden), updated

    def tokens(self, prompt: list[int], count: int, sampling: Sampling,
               rng: np.random.Generator) -> Iterator[int]:
        """`count` new token ids after `prompt`, one at a time."""
        import tensorflow as tf

        keep = max(1, self.context // 2)  # what a full cache starts again from
        text = list(prompt)

        def prefill(window):
            padded = tf.constant([window + [PADDING_ID] * (self.context - len(window))], tf.int32)
            return self.prefill(padded, tf.constant(len(window), tf.int32))

        window = text if len(text) <= self.context else text[-keep:]
        logits, caches = prefill(window)
        index = len(window)
        for _ in range(count):
            token = choose(logits.numpy()[0], sampling, rng)
            yield token
            text.append(token)
            # Full: start again from the last half of the text, at positions 0, 1, ... as in
            # training. Learned positions know no others; rotary ones only see differences,
            # and angles past the context were never trained on.
            if index == self.context:
                logits, caches = prefill(text[-keep:])
                index = keep
            else:
                logits, caches = self.step(tf.constant([[token]], tf.int32), caches,
                                           tf.constant(index, tf.int32))
                index += 1


@dataclass
class Sample:
    prompt: str
    text: str
    tokens: int
    seconds: float  # from the first token to the last: the first comes from the prompt's pass
    seed: int

    @property
    def tokens_per_second(self) -> float:
        return (self.tokens - 1) / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self, number: int) -> dict:
        return {"sample": number, "seed": self.seed, "prompt": self.prompt, "text": self.text,
                "tokens": self.tokens, "tokens_per_second": round(self.tokens_per_second, 1)}


def load(run_dir: Path, verbose: bool = False, unsafe: bool = False):
    """(Decoder, tokenizer) of a trained language-model run."""
    from .inference import load_model, load_run

    run, _, spec, target = load_run(run_dir)
    if not spec.tokenizer:
        raise UsageError(f"{run.path} is not a language model (it was trained on "
                         f"{spec.kind} data for {target.task}); generate continues text with a "
                         "run of model.family: gpt on data.source: text_corpus")
    model = load_model(run, verbose, unsafe)
    return Decoder(model, spec.shape[0]), tokenizers.from_dict(spec.tokenizer)


def generate(decoder: Decoder, tokenizer, prompt: str, max_tokens: int, sampling: Sampling,
             seed: int, write=None) -> Sample:
    """One sample; `write(text)` is called with each piece of text as soon as it is made."""
    ids = [int(i) for i in tokenizer.encode(prompt or "\n")]  # an empty prompt: a new line
    decode = tokenizer.decoder(start=not prompt)  # no space before the first word of none
    rng = np.random.default_rng(seed)
    pieces, made = [], 0
    started = None
    for token in decoder.tokens(ids, max_tokens, sampling, rng):
        if started is None:  # the prompt's pass and tracing are not generation speed
            started = time.perf_counter()
        made += 1
        piece = decode(token)
        pieces.append(piece)
        if write is not None and piece:
            write(piece)
    seconds = time.perf_counter() - started if started is not None else 0.0
    return Sample(prompt, "".join(pieces), made, seconds, seed)
