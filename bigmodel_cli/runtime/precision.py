"""Mixed precision: which Keras dtype policy a run uses, in force only while the model is built.

The layers keep the policy they were built with (and save it), and the output layer is always
float32 (a task's head, tasks/base.py), so predictions and the loss stay float32. With
mixed_float16, Keras' `compile` wraps the optimizer in a LossScaleOptimizer by itself.

On a CPU, `auto` picks bfloat16 only for the families measured faster with it (README
"Performance"), and only where a bf16 matmul probe, measured once per machine and cached
(train/performance.py), runs well above float32: CPUs with bf16 matrix units (AMX) run it
several times faster, CPUs without them several times slower. The probe decides, never the
CPU's name or flags, and the other families keep float32 on every CPU, so their numbers do
not depend on the machine.
"""

from __future__ import annotations

import contextlib

POLICIES = {"off": "float32", "mixed_float16": "mixed_float16",
            "mixed_bfloat16": "mixed_bfloat16"}

# float16 pays off on GPUs with tensor cores: compute capability 7.0 (Volta) and newer.
FLOAT16_COMPUTE_CAPABILITY = (7, 0)
# Models that auto runs in bfloat16 on a CPU whose probe passes, measured on an AMX CPU
# (README "Language models"): a gpt of width 384 trained 1.8x faster in bf16 (without XLA,
# whose CPU bf16 dots gain nothing; performance.choose_jit_compile), but nanoGPT's width 128
# no faster, at the same validation loss. Kept narrow on purpose: every model added here
# trains with other numerics on AMX machines than on the others.
CPU_BFLOAT16_FAMILIES = ("gpt",)
CPU_BFLOAT16_MIN_WIDTH = 384  # embed_dim
# The bf16/float32 matmul speed ratio auto asks of a CPU: a step holds more than matmuls
# (casts, norms, the float32 optimizer), so a small matmul gain is no step gain.
CPU_BFLOAT16_MIN_SPEEDUP = 2.0


def resolve(tf, setting: str, strategy, model=None) -> str:
    """The dtype policy for `training.mixed_precision`; see `choose`."""
    return choose(tf, setting, strategy, model)[0]


def choose(tf, setting: str, strategy, model=None) -> tuple[str, str | None]:
    """(dtype policy, why `auto` chose it; None for an explicit setting).

    `model` is the config's model section. auto: bfloat16 on a TPU, float16 on GPUs that run
    it fast; on a CPU, bfloat16 for the CPU_BFLOAT16_FAMILIES of CPU_BFLOAT16_MIN_WIDTH or
    wider where the cached matmul probe measures bf16 fast, else float32. An explicit setting
    never probes.
    """
    if setting != "auto":
        return POLICIES[setting], None
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return "mixed_bfloat16", "a TPU"
    try:
        devices = strategy.extended.worker_devices
    except RuntimeError:  # the default strategy: TensorFlow places on a GPU if there is one
        devices = [device.name for device in tf.config.list_logical_devices("GPU")]
    if any("GPU" in device.upper() for device in devices):
        if _gpus_have_tensor_cores(tf):
            return "mixed_float16", "GPUs with tensor cores"
        return "float32", "GPUs without tensor cores"
    family, width = getattr(model, "family", None), getattr(model, "embed_dim", 0) or 0
    if family not in CPU_BFLOAT16_FAMILIES or width < CPU_BFLOAT16_MIN_WIDTH:
        return "float32", (f"on a CPU, auto tries bfloat16 only for model.family "
                           f"{', '.join(CPU_BFLOAT16_FAMILIES)} of embed_dim >= "
                           f"{CPU_BFLOAT16_MIN_WIDTH}: measured no faster below")
    return _cpu_bfloat16(tf, strategy)


def _cpu_bfloat16(tf, strategy) -> tuple[str, str]:
    """bfloat16 where the cached matmul probe (measured on first use) runs it fast enough."""
    from ..train import performance

    bf16 = performance.peak_flops(tf, strategy, "bfloat16")[0]
    fp32 = performance.peak_flops(tf, strategy, "float32")[0]
    speedup = bf16 / fp32
    measured = (f"bf16 matmul measured {speedup:.2g}x float32 on this CPU "
                f"({performance.with_prefix(bf16)}FLOP/s against "
                f"{performance.with_prefix(fp32)}FLOP/s)")
    if speedup >= CPU_BFLOAT16_MIN_SPEEDUP:
        return "mixed_bfloat16", measured
    return "float32", f"{measured}; auto asks {CPU_BFLOAT16_MIN_SPEEDUP:g}x"


def _gpus_have_tensor_cores(tf) -> bool:
    gpus = tf.config.list_physical_devices("GPU")
    capabilities = [tf.config.experimental.get_device_details(gpu).get("compute_capability")
                    for gpu in gpus]
    return bool(gpus) and all(capability is not None and
                              tuple(capability) >= FLOAT16_COMPUTE_CAPABILITY
                              for capability in capabilities)


@contextlib.contextmanager
def dtype_policy(name: str):
    """Set Keras' global dtype policy for the layers built inside, then put the old one back."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
