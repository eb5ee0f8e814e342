"""The tf.distribute strategy named by the `distribute` config section, and each worker's role.

`configure_devices` and `make_strategy` must run before TensorFlow touches a device: logical CPU
devices and the collective ops of MultiWorkerMirroredStrategy can only be set up before the
runtime initializes. Everything else builds inside `strategy.scope()`.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from .. import atomic
from ..config.schema import DistributeConfig
from ..errors import ConfigError, UsageError, lookup
from ..runs import RunDir

TF_CONFIG_EXAMPLE = ('TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                     '"task": {"type": "worker", "index": 0}}\'')


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
    name = _auto_choice(tf, config) if config.strategy == "auto" else config.strategy
    return lookup(STRATEGIES, "distribute.strategy", name)(tf, config)


def _auto_choice(tf, config: DistributeConfig) -> str:
    """A cluster if one is described, else a TPU, else every GPU (or logical CPU), else one."""
    if config.workers or _cluster_size(_tf_config()) > 1:
        return "multi_worker"
    if _tpu_available():
        return "tpu"
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1 or (not gpus and len(tf.config.list_logical_devices("CPU")) > 1):
        return "mirrored"
    return "gpu" if gpus else "cpu"


def _cpu(tf, config: DistributeConfig):
    if not tf.config.list_logical_devices("GPU"):
        # The only device: TensorFlow's default strategy places everything here already, and
        # Keras then feeds the dataset as it is. OneDeviceStrategy would wrap it in a
        # distributed iterator, which re-seeds tf.data's reshuffling when a run is resumed.
        return tf.distribute.get_strategy()
    return tf.distribute.OneDeviceStrategy("/cpu:0")


def _gpu(tf, config: DistributeConfig):
    gpus = [device.name for device in tf.config.list_logical_devices("GPU")]
    if not gpus:
        raise UsageError("distribute.strategy is 'gpu' but TensorFlow sees no GPU; "
                         "use 'auto' or 'cpu', or install a CUDA build of TensorFlow")
    return tf.distribute.OneDeviceStrategy(gpus[0])


def _mirrored(tf, config: DistributeConfig):
    gpus = [device.name for device in tf.config.list_logical_devices("GPU")]
    cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
    try:
        return tf.distribute.MirroredStrategy(config.devices or gpus or cpus)
    except (ValueError, RuntimeError) as error:
        raise UsageError(f"distribute.devices {config.devices}: {error}; devices TensorFlow "
                         f"sees: {', '.join(gpus + cpus)}") from None


def _multi_worker(tf, config: DistributeConfig):
    if config.workers:
        resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
            tf.train.ClusterSpec({"worker": config.workers}), task_type="worker",
            task_id=config.worker_index, rpc_layer="grpc")
    else:
        _check_tf_config(_tf_config())
        resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)


def _tpu(tf, config: DistributeConfig):
    name = config.tpu or os.environ.get("TPU_NAME") or "local"
    if name == "local" and not _tpu_available():
        raise UsageError("distribute.strategy is 'tpu' but this machine has no TPU; set "
                         "distribute.tpu to a Cloud TPU's name, or use 'auto' or 'cpu'")
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu=name, zone=config.tpu_zone, project=config.tpu_project)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise UsageError(f"distribute.strategy tpu: cannot reach the TPU '{name}' ({first_line}); "
                         "set distribute.tpu to the TPU's name ('local' on a TPU VM) and "
                         "distribute.tpu_zone and tpu_project outside Google Cloud") from None
    return tf.distribute.TPUStrategy(resolver)


STRATEGIES = {"cpu": _cpu, "gpu": _gpu, "mirrored": _mirrored, "multi_worker": _multi_worker,
              "tpu": _tpu}


def _tf_config() -> dict | None:
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"TF_CONFIG is not valid JSON ({error}); expected e.g. "
                         f"{TF_CONFIG_EXAMPLE}") from None
    if not isinstance(value, dict):
        raise UsageError(f"TF_CONFIG must be a JSON object; expected e.g. {TF_CONFIG_EXAMPLE}")
    return value


def _cluster_size(tf_config: dict | None) -> int:
    cluster = (tf_config or {}).get("cluster") or {}
    return sum(len(cluster.get(kind) or []) for kind in ("chief", "worker"))


def _check_tf_config(tf_config: dict | None) -> None:
    """Fail with one clear line before TensorFlow fails with a long one."""
    if tf_config is None:
        raise UsageError("distribute.strategy multi_worker needs the cluster: set TF_CONFIG, "
                         f"e.g. {TF_CONFIG_EXAMPLE}, or distribute.workers and "
                         "distribute.worker_index (scripts/launch_multiworker.sh does it for "
                         "local workers)")
    task = tf_config.get("task") or {}
    if task.get("type") not in ("chief", "worker"):
        raise UsageError(f"TF_CONFIG: task type {task.get('type')!r} is not supported; bigmodel "
                         "runs 'chief' and 'worker' tasks (MultiWorkerMirroredStrategy)")
    tasks = (tf_config.get("cluster") or {}).get(task["type"]) or []
    index = task.get("index")
    if not isinstance(index, int) or not 0 <= index < len(tasks):
        raise UsageError(f"TF_CONFIG: task {task} is not in the cluster "
                         f"{tf_config.get('cluster')}; expected e.g. {TF_CONFIG_EXAMPLE}")


def _tpu_available() -> bool:
    # Cheap signs of a Cloud TPU or a TPU VM; probing the cluster resolver costs seconds.
    if os.environ.get("TPU_NAME") or glob.glob("/dev/accel[0-9]*"):
        return True
    # Newer TPU VMs expose their chips through VFIO and ship libtpu.
    return bool(glob.glob("/dev/vfio/[0-9]*")) and importlib.util.find_spec("libtpu") is not None


def check_batch_size(batch_size: int, replicas: int) -> None:
    if batch_size % replicas:
        suggestion = batch_size - batch_size % replicas or replicas
        raise ConfigError(
            f"data.batch_size: the global batch {batch_size} does not divide across {replicas} "
            f"replicas; use a multiple of {replicas}, e.g. {suggestion}")


# --- workers: who writes -------------------------------------------------------------------

def worker_role(config: DistributeConfig) -> tuple[int, int]:
    """(this process's worker index, number of workers); worker 0 is the chief, which writes.

    Read from the config or TF_CONFIG, as MultiWorkerMirroredStrategy reads them, without
    TensorFlow: a run must know whether it may delete or write the run directory before it
    starts the runtime. A "chief" task comes first, then the "worker" tasks.
    """
    if config.strategy not in ("auto", "multi_worker"):
        return 0, 1
    if config.workers:
        return config.worker_index, len(config.workers)
    tf_config = _tf_config()
    if _cluster_size(tf_config) <= (1 if config.strategy == "auto" else 0):
        return 0, 1
    _check_tf_config(tf_config)
    cluster, task = tf_config["cluster"], tf_config["task"]
    if task["type"] == "chief":
        return 0, _cluster_size(tf_config)
    return len(cluster.get("chief") or []) + task["index"], _cluster_size(tf_config)


def worker_run_dir(role: tuple[int, int], run: RunDir
                   ) -> tuple[RunDir, tempfile.TemporaryDirectory | None]:
    """The run directory this worker writes: the real one for the chief, else a scratch one.

    Every worker saves (the same code path everywhere), but only the chief's files are kept;
    the others write to a temporary directory. Call `cleanup()` on the returned scratch when
    done; it is also removed when the object is garbage collected. Resuming reads the chief's
    backup on every worker, so it needs the run directory on a filesystem all workers see.
    Its name holds the process id, so that the scratch of a killed worker is removed by the
    next one.
    """
    index, _ = role
    if index == 0:
        return run, None
    remove_abandoned_scratch()
    scratch = tempfile.TemporaryDirectory(prefix=f"bigmodel-worker{index}-{os.getpid()}-")
    return RunDir(Path(scratch.name)), scratch


_SCRATCH = re.compile(r"^bigmodel-worker\d+-(\d+)-[a-z0-9_]{8}$")


def remove_abandoned_scratch() -> list[Path]:
    """Delete this user's worker scratch directories whose process is gone (kill -9)."""
    removed = []
    for folder in Path(tempfile.gettempdir()).glob("bigmodel-worker*"):
        found = _SCRATCH.match(folder.name)
        try:
            mine = folder.is_dir() and folder.stat().st_uid == os.getuid()
        except OSError:
            continue
        if found and mine and not atomic.process_alive(int(found.group(1))):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def weights_fingerprint(model) -> str:
    """A short hash of every weight: equal on all workers when they trained in sync."""
    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(weight.numpy().tobytes())
    return digest.hexdigest()[:16]


# Class names users know: the classes behind the default strategy and
# tf.distribute.MultiWorkerMirroredStrategy have other names.
STRATEGY_NAMES = {"_DefaultDistributionStrategy": "DefaultStrategy",
                  "CollectiveAllReduceStrategy": "MultiWorkerMirroredStrategy"}


def describe(strategy, batch_size: int, precision: str = "float32",
             role: tuple[int, int] = (0, 1), precision_reason: str | None = None) -> dict:
    replicas = strategy.num_replicas_in_sync
    worker, workers = role
    return {
        "strategy": STRATEGY_NAMES.get(type(strategy).__name__, type(strategy).__name__),
        "replicas": replicas,
        "workers": workers,
        "worker": worker,
        "global_batch": batch_size,
        "per_replica_batch": batch_size // replicas,
        "precision": precision,
        "precision_reason": precision_reason,  # why `mixed_precision: auto` chose it
    }


def summary(placement: dict) -> str:
    """One line for the start of a run: strategy, replicas, workers, batch, precision."""
    workers = (f" on {placement['workers']} workers (this is worker {placement['worker']}"
               f"{', the chief' if placement['worker'] == 0 else ''})"
               if placement["workers"] > 1 else "")
    return (f"{placement['strategy']}, {placement['replicas']} replica(s){workers}, batch "
            f"{placement['global_batch']} ({placement['per_replica_batch']} per replica), "
            f"{placement['precision']}")
