"""Explain a language model: how much each prompt token moved the probability of the next one.

The point attributed is the token embedding's output, as for other token models
(explain_points.py), but a gpt model calls its token embedding twice (ids -> vectors, and
in reverse for the tied output projection), so its layers are run here one after another on
the embedded prompt instead of swapping the layer's call. f is the softmax probability of the
explained token after the prompt's last position, padding excluded as `predict` excludes it;
the "pad" baseline is every prompt position embedded as the padding id, at the same positions.
Causal attention lets the last position see the whole prompt, so every prompt token can score.
"""

from __future__ import annotations

import numpy as np

from ..data import tokenizers
from ..data.spec import InputSpec, TargetSpec
from ..data.wordpiece import WORDPIECE
from ..errors import UsageError
from ..tasks.language_modeling import PADDING_ID
from .attribution import attribute
from .explanation import Explanation

PREDICTED = "predicted"


def target_id(target: str, spec: InputSpec) -> int | None:
    """The token explained: None for the predicted one, else the one id `target` encodes to."""
    if target == PREDICTED:
        return None
    tokenizer = tokenizers.from_dict(spec.tokenizer)
    ids = [int(i) for i in tokenizer.encode(target)]
    if len(ids) == 1 and ids[0] not in (PADDING_ID, tokenizers.UNKNOWN):
        return ids[0]
    why = f"it is {len(ids)} tokens" if len(ids) != 1 else "it is not in the vocabulary"
    raise UsageError(f"--target {target!r}: not one token of this run's {tokenizer.kind} "
                     f"tokenizer ({why}); use predicted or one character the corpus had")


class Forward:
    """A trained gpt model's layers, run from the token embedding's output to probabilities."""

    def __init__(self, model):
        from ..models import gpt

        self.parts = gpt.Parts.of(model)
        self.embedding = self.parts.embedding

    def embed(self, ids: np.ndarray) -> np.ndarray:
        return np.asarray(self.embedding(np.asarray(ids, np.int32)[None]), np.float32)[0]

    def __call__(self, points):
        """points (rows, length, width) -> float32 probabilities (rows, vocabulary) of the
        token after the last position (dropout is off in inference: not run)."""
        import tensorflow as tf

        hidden = self.parts.place(tf.cast(points, self.embedding.compute_dtype))
        for block in self.parts.blocks:
            hidden = block(hidden, training=False)
        logits = tf.cast(self.parts.logits(hidden[:, -1:])[:, 0], tf.float32)
        padding = tf.one_hot(PADDING_ID, tf.shape(logits)[-1], on_value=-np.inf, off_value=0.0)
        return tf.nn.softmax(logits + padding)


def explain_prompts(model, spec: InputSpec, target_spec: TargetSpec, prompts: list[str],
                    method: str, steps: int, baseline: str, token: int | None):
    """One Explanation per prompt (its last context_length tokens, as `predict` reads it)."""
    tokenizer = tokenizers.from_dict(spec.tokenizer)
    forward = Forward(model)
    names = target_spec.class_names
    explanations = []
    for prompt in prompts:
        ids = tokenizer.encode(prompt or "\n")[-spec.shape[0]:]
        point = forward.embed(ids)
        padded = forward.embed(np.full_like(ids, PADDING_ID))
        probabilities = np.asarray(forward(point[None]))[0]
        predicted = int(np.argmax(probabilities))
        chosen = predicted if token is None else token
        found = attribute(method, forward, lambda outputs, c=chosen: outputs[:, c], point,
                          padded, steps)
        per_token = found.scores.sum(axis=-1)
        explanations.append(Explanation(
            input=prompt, kind=spec.kind, method=method, steps=steps, baseline=baseline,
            predicted={"class": names[predicted],
                       "probability": float(probabilities[predicted])},
            target=names[chosen], attribution=found,
            parts=_parts(tokenizer, prompt or "\n", ids, per_token),
            separator=" " if tokenizer.kind == WORDPIECE else ""))
    return explanations


def _parts(tokenizer, prompt: str, ids: np.ndarray, scores: np.ndarray):
    """(text, ids, score) per part of the prompt's kept end: a char tokenizer's tokens are the
    characters as written (an unknown one too); a byte tokenizer's bytes are joined into their
    UTF-8 characters, the scores added; a subword tokenizer's tokens are parts of their own,
    each as it decodes alone (a BPE token keeps its leading space, so they join with nothing;
    wordpiece words join with a space, shown by the separator)."""
    if tokenizer.kind not in (tokenizers.CHAR, tokenizers.BYTE):
        return [(tokenizer.decode([int(token)]), str(int(token)), float(score))
                for token, score in zip(ids, scores, strict=True)]
    if tokenizer.kind == tokenizers.CHAR:
        written = prompt[-len(ids):]
        return [(character, str(int(token)), float(score))
                for character, token, score in zip(written, ids, scores, strict=True)]
    groups: list[list[int]] = []
    for position, token in enumerate(ids):
        continuation = (int(token) - 1) & 0xC0 == 0x80
        if continuation and groups:
            groups[-1].append(position)
        else:
            groups.append([position])
    return [(tokenizer.decode(ids[group]), " ".join(str(int(ids[p])) for p in group),
             float(scores[group].sum())) for group in groups]
