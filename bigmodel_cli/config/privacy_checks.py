"""What training.privacy cannot be combined with, refused when the config is loaded.

Each refusal says why: DP-SGD's guarantee rests on each example's gradient being its own,
clipped, and noised once per step; these settings would break that or give it no meaning.
"""

from __future__ import annotations

from collections.abc import Iterator

from .schema import Config

Problem = tuple[tuple, str]
# Several machines, or a TPU: not built (mirrored replicas on one machine are, privacy.py).
REFUSED_STRATEGIES = ("multi_worker", "tpu")
PRIVATE_FAMILIES = ("mlp", "cnn")  # per-example gradients vectorized and tested
# Families whose per-example gradients TensorFlow 2.21 could not vectorize here (measured).
UNSUPPORTED_FAMILIES = {
    "rnn": "per-example gradients cannot be vectorized through a recurrent layer's loop "
           "(TensorFlow's pfor fails on its TensorList state)",
    "transformer": "vectorizing the attention's per-example gradients crashed TensorFlow "
                   "2.21 (a segmentation fault in the first step); not supported yet",
}


def problems(config: Config) -> Iterator[Problem]:
    training = config.training
    if training.privacy is None:
        return
    if getattr(config.model, "batch_norm", False):
        yield ("model", "batch_norm"), (
            "training.privacy refuses BatchNorm: it normalizes each example by statistics of "
            "the whole batch, so one example's gradient depends on the others and clipping it "
            "bounds nothing; set model.batch_norm: false")
    family = config.model.family
    if family not in PRIVATE_FAMILIES:
        reason = UNSUPPORTED_FAMILIES.get(
            family, f"DP-SGD is built and tested for the {' and '.join(PRIVATE_FAMILIES)} "
                    f"families only, not {family}")
        yield ("model", "family"), (f"training.privacy: {reason}; use the "
                                    f"{' or '.join(PRIVATE_FAMILIES)} family")
    if training.gradient_accumulation_steps > 1:
        yield ("training", "gradient_accumulation_steps"), (
            "training.privacy adds noise once per optimizer step; accumulating noised batches "
            "has no defined privacy meaning here; set it to 1 and raise data.batch_size instead")
    if training.mixed_precision != "off":
        yield ("training", "mixed_precision"), (
            "training.privacy computes per-example gradients in float32 only (loss scaling "
            "would scale the clipping bound); set training.mixed_precision: off")
    distribute = config.distribute
    if distribute.strategy in REFUSED_STRATEGIES:
        yield ("distribute", "strategy"), (
            f"training.privacy runs on one machine: {distribute.strategy} is not built or "
            "tested with DP-SGD's once-per-step noise; use mirrored, cpu or gpu")
    elif distribute.strategy == "mirrored" or distribute.cpu_devices > 1:
        for key in ("clipnorm", "global_clipnorm"):
            if getattr(config.optimizer, key) is not None:
                yield ("optimizer", key), clipnorm_with_replicas(key)


def clipnorm_with_replicas(key: str) -> str:
    """Why optimizer.clipnorm breaks DP-SGD over mirrored replicas (also checked when `auto`
    finds several devices, train/privacy.py)."""
    return (f"training.privacy with mirrored replicas refuses optimizer.{key}: Keras clips "
            "each replica's partial sum before the all-reduce, and the replicas' sums other "
            "than the first carry no noise; drop it (DP-SGD clips each example to "
            "training.privacy.l2_norm_clip already)")
