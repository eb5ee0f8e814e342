"""The tf.distribute strategy named by the `distribute` config section.

`configure_devices` must run before TensorFlow touches a device: logical CPU devices can only
be declared before the runtime initializes. Everything else builds inside `strategy.scope()`.
"""

from __future__ import annotations

import os

from .errors import ConfigError, UsageError
from .schema import DistributeConfig


def configure_devices(tf, config: DistributeConfig) -> None:
    """Split the CPU into `cpu_devices` logical devices (mirrored training without a GPU)."""
    if config.cpu_devices <= 1:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * config.cpu_devices)
    except RuntimeError:
        # Already initialized in this process (a second run in the same Python session).
        if len(tf.config.list_logical_devices("CPU")) != config.cpu_devices:
            raise


def make_strategy(tf, config: DistributeConfig):
    gpus = [device.name for device in tf.config.list_logical_devices("GPU")]
    cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
    name = config.strategy
    if name == "auto":
        if _tpu_available():
            name = "tpu"
        elif len(gpus) > 1 or (not gpus and len(cpus) > 1):
            name = "mirrored"
        else:
            name = "gpu" if gpus else "cpu"
    if name == "cpu":
        return tf.distribute.OneDeviceStrategy("/cpu:0")
    if name == "gpu":
        if not gpus:
            raise UsageError("distribute.strategy is 'gpu' but TensorFlow sees no GPU; "
                             "use 'auto' or 'cpu', or install a CUDA build of TensorFlow")
        return tf.distribute.OneDeviceStrategy(gpus[0])
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(config.devices or gpus or cpus)
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise UsageError(f"distribute.strategy '{name}' is not supported yet; "
                     "use auto, cpu, gpu, mirrored or tpu")


def check_batch_size(batch_size: int, replicas: int) -> None:
    if batch_size % replicas:
        suggestion = batch_size - batch_size % replicas or replicas
        raise ConfigError(
            f"data.batch_size: the global batch {batch_size} does not divide across {replicas} "
            f"replicas; use a multiple of {replicas}, e.g. {suggestion}")


def _tpu_available() -> bool:
    # Cheap signs of a TPU VM or a Cloud TPU; probing the cluster resolver costs seconds.
    return bool(os.environ.get("TPU_NAME")) or os.path.exists("/dev/accel0")


def describe(strategy, batch_size: int) -> dict:
    replicas = strategy.num_replicas_in_sync
    return {
        "strategy": type(strategy).__name__,
        "replicas": replicas,
        "global_batch": batch_size,
        "per_replica_batch": batch_size // replicas,
    }
