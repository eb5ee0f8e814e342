"""Mixed precision: which Keras dtype policy a run uses, in force only while the model is built.

The layers keep the policy they were built with (and save it), and the output layer is always
float32 (a task's head, tasks/base.py), so predictions and the loss stay float32. With
mixed_float16, Keras' `compile` wraps the optimizer in a LossScaleOptimizer by itself.
"""

from __future__ import annotations

import contextlib

POLICIES = {"off": "float32", "mixed_float16": "mixed_float16",
            "mixed_bfloat16": "mixed_bfloat16"}

# float16 pays off on GPUs with tensor cores: compute capability 7.0 (Volta) and newer.
FLOAT16_COMPUTE_CAPABILITY = (7, 0)


def resolve(tf, setting: str, strategy) -> str:
    """The dtype policy for `training.mixed_precision`; `auto` looks at the strategy's devices.

    auto: bfloat16 on a TPU, float16 on GPUs that run it fast, float32 elsewhere (on a CPU,
    half precision only adds casts).
    """
    if setting != "auto":
        return POLICIES[setting]
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return "mixed_bfloat16"
    try:
        devices = strategy.extended.worker_devices
    except RuntimeError:  # the default strategy: TensorFlow places on a GPU if there is one
        devices = [device.name for device in tf.config.list_logical_devices("GPU")]
    on_gpu = any("GPU" in device.upper() for device in devices)
    if on_gpu and _gpus_have_tensor_cores(tf):
        return "mixed_float16"
    return "float32"


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
