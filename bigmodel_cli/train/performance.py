"""Settings that change speed but not results, chosen per device type, and the throughput and
model-FLOPs-utilisation (MFU) report of a run.

What `auto` means on a CPU was measured on a 2-core x86-64 CPU (README "Performance";
`python benchmarks/sweep.py` reproduces it). GPU and TPU values follow Keras' and TensorFlow's
own guidance and were not measured here.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

from .. import atomic
from ..errors import ConfigError

CPU, GPU, TPU = "cpu", "gpu", "tpu"
# The most steps `steps_per_execution: auto` runs per call into TensorFlow. On the CPU, one
# Keras call costs ~1.5 ms of Python and dispatch whatever the model; 32 steps per call made
# the mlp 2.95x and the cnn 1.23x faster (8 steps: 2.42x, 1.23x), the rnn and the transformer,
# whose steps are long, 1.0-1.2x. TensorFlow advises more on TPUs, whose host waits longest.
MOST_STEPS_PER_EXECUTION = {CPU: 32, GPU: 32, TPU: 64}
# Layers (by class name) that ran slower under XLA than without it on the CPU.
XLA_SLOWER = ("Conv", "Attention")
PEAK_PROBE_SECONDS = 0.2  # per repetition of the matmul probe; the best of PEAK_PROBE_REPEATS
PEAK_PROBE_REPEATS = 5
PEAK_PROBE_SIZE = {CPU: 1024, GPU: 8192, TPU: 8192}  # square matrices


# --- compile options ----------------------------------------------------------------------

def device_kind(strategy) -> str:
    """cpu, gpu or tpu: the kind of device the strategy's replicas run on."""
    if type(strategy).__name__.startswith("TPU"):
        return TPU
    return GPU if "GPU" in replica_devices(strategy)[0].upper() else CPU


def replica_devices(strategy) -> list[str]:
    try:
        return list(strategy.extended.worker_devices)
    except RuntimeError:
        # The default strategy names no devices: TensorFlow places ops on the first GPU, if any.
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        return [gpus[0].name if gpus else "/device:CPU:0"]


def compile_options(config, model, strategy, steps_per_epoch: int, step_in_epoch: int = 0
                    ) -> dict:
    """`model.compile` keyword arguments that only affect speed, `auto` resolved.

    `step_in_epoch` is where a resumed run starts inside its epoch: an execution must not run
    past the end of an epoch, so its steps must divide every stretch `fit` is asked to run.
    """
    training, kind = config.training, device_kind(strategy)
    stretches = {"the steps of an epoch": steps_per_epoch}
    if step_in_epoch:
        stretches["the steps left in the resumed epoch"] = steps_per_epoch - step_in_epoch
    if config.checkpoint.backup_every_steps:
        stretches["checkpoint.backup_every_steps"] = config.checkpoint.backup_every_steps
    return {
        "jit_compile": choose_jit_compile(training.jit_compile, kind, model,
                                          training.deterministic, strategy.num_replicas_in_sync),
        "steps_per_execution": choose_steps_per_execution(training.steps_per_execution, kind,
                                                          stretches),
    }


def choose_jit_compile(setting, kind: str, model, deterministic: bool = False,
                       replicas: int = 1):
    """XLA on or off. Off a CPU, "auto" stays: Keras compiles when every layer supports XLA."""
    if setting != "auto":
        return setting
    if kind != CPU:
        return "auto"
    # Measured on the CPU (benchmarks/sweep.py jit_compile): XLA made the mlp 1.2x and the
    # masked LSTM 1.8x faster (it fuses their many small operations), but the classic CNN 2.7x
    # slower (its convolutions are slower than oneDNN's). XLA's random numbers are slow on a
    # CPU: with dropout, two LSTMs ran 2.6x and the tiny Transformer ~60x slower. Op
    # determinism, layers XLA cannot compile (text vectorization) and several replicas (their
    # variables live on other devices; Keras' own auto leaves XLA off there too) rule it out.
    # So does bfloat16: XLA's CPU dots do not use the bf16 matrix units that oneDNN uses (a
    # gpt of width 384 trained at 387 tokens/s with XLA, 707 without; README "Language models").
    layers = list(model._flatten_layers(include_self=False, recursive=True))
    return not (deterministic or replicas > 1 or model.dtype_policy.compute_dtype == "bfloat16"
                or any(word in type(layer).__name__ for layer in layers for word in XLA_SLOWER)
                or any(draws_random_numbers(layer) for layer in layers)
                or not all(getattr(layer, "supports_jit", True) for layer in layers))


def draws_random_numbers(layer) -> bool:
    """Whether the layer draws random numbers in training (dropout, noise, augmentation)."""
    import keras

    if hasattr(layer, "recurrent_dropout"):  # recurrent cells always hold a seed generator
        return bool(layer.dropout or layer.recurrent_dropout)
    return any(isinstance(value, keras.random.SeedGenerator) for value in vars(layer).values())


def choose_steps_per_execution(setting, kind: str, stretches: dict[str, int]) -> int:
    """Steps per call into TensorFlow: a divisor of every stretch of steps.

    Keras runs whole executions, so with 150 steps per epoch and 32 per execution an epoch
    would run 160 steps, and step-exact backups and resumes would drift.
    """
    common = math.gcd(*stretches.values())
    if setting == "auto":
        limit = MOST_STEPS_PER_EXECUTION[kind]
        return max(divisor for divisor in range(1, min(limit, common) + 1)
                   if common % divisor == 0)
    for name, steps in stretches.items():
        if steps % setting:
            divisors = [d for d in range(1, min(setting, common) + 1) if common % d == 0]
            raise ConfigError(
                f"training.steps_per_execution: {setting} does not divide {name} ({steps}), "
                f"so Keras would run past it; use auto or a divisor such as {divisors[-1]}")
    return setting


# --- throughput and MFU -------------------------------------------------------------------

def tokens_per_example(model) -> int:
    """Sequence length for token or text inputs (tokens/s is their usual unit), else 0."""
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if type(layer).__name__ == "TextVectorization":
            return int(layer.get_config().get("output_sequence_length") or 0)
    inputs = model.inputs[0] if len(model.inputs) == 1 else None
    if inputs is not None and len(inputs.shape) == 2 and "int" in str(inputs.dtype):
        return int(inputs.shape[1] or 0)
    return 0


def examples_in_steps(first: int, end: int, examples_per_pass: int, batch_size: int) -> int:
    """The examples in batches [first, end) of the training stream.

    The stream batches each pass over the training split on its own and repeats it, so a pass
    of 105 examples in batches of 16 is six batches of 16 and one of 9, and a batch larger
    than the split holds the whole split. Throughput counts these, not batch_size x steps.
    """
    if examples_per_pass <= 0:
        return 0
    batches_per_pass = math.ceil(examples_per_pass / batch_size)

    def before(step: int) -> int:  # the examples in batches [0, step)
        passes, batches = divmod(step, batches_per_pass)
        return passes * examples_per_pass + batches * batch_size  # `batches` are all full

    return before(end) - before(first)


def describe_speed(model) -> str:
    """The resolved speed settings, for the log."""
    return (f"{model.steps_per_execution} step(s) per execution, "
            f"XLA {'on' if model.jit_compile else 'off'}")


def run_report(tf, model, strategy, examples_per_second: float | None,
               configured_peak: float | None, tokens: int = 0) -> dict:
    """The throughput report of a finished run, with the speed settings it ran with."""
    from . import flops

    flops_per_example = float(flops.estimate(model).training_flops)
    peak = None
    if examples_per_second is not None:
        dtype = model.dtype_policy.compute_dtype
        peak = peak_flops(tf, strategy, dtype, configured_peak,
                          achieved=examples_per_second * flops_per_example)
    return {"device": device_kind(strategy), "steps_per_execution": model.steps_per_execution,
            "jit_compile": bool(model.jit_compile),
            **throughput_report(examples_per_second, flops_per_example, peak, tokens)}


def throughput_report(examples_per_second: float | None, flops_per_example: float,
                      peak: tuple[float, str] | None, tokens: int = 0) -> dict:
    """examples/s, tokens/s, FLOPs per example, achieved and peak FLOP/s, and their ratio."""
    report = {"examples_per_second": examples_per_second, "tokens_per_second": None,
              "training_flops_per_example": flops_per_example, "flops_per_second": None,
              "peak_flops_per_second": peak[0] if peak else None,
              "peak_source": peak[1] if peak else None, "mfu": None}
    if examples_per_second is None:
        return report
    if tokens:
        report["tokens_per_second"] = examples_per_second * tokens
    report["flops_per_second"] = examples_per_second * flops_per_example
    if peak:
        report["mfu"] = report["flops_per_second"] / peak[0]
    return report


def describe_throughput(report: dict) -> str:
    """One line for the end of a run."""
    rate = report["examples_per_second"]
    if rate is None:
        return "throughput: too few steps to time (the first step traces the model)"
    tokens = (f" ({report['tokens_per_second']:,.0f} tokens/s)"
              if report["tokens_per_second"] else "")
    line = (f"throughput: {rate:,.0f} examples/s{tokens}, "
            f"{with_prefix(report['training_flops_per_example'])}FLOP per example, "
            f"{with_prefix(report['flops_per_second'])}FLOP/s")
    if report["mfu"] is not None:
        line += (f", MFU {report['mfu'] * 100:.3g}% of "
                 f"{with_prefix(report['peak_flops_per_second'])}FLOP/s peak "
                 f"({report['peak_source']})")
    return line


def with_prefix(value: float) -> str:
    """3 significant digits and an SI prefix: 304896 -> '305 k'."""
    for prefix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}"
    return f"{value:.3g} "


# --- peak FLOP/s ----------------------------------------------------------------------------

def peak_flops(tf, strategy, dtype: str, configured: float | None = None,
               cache: Path | None = None, achieved: float = 0.0) -> tuple[float, str]:
    """(FLOP/s of all the run's devices together, where the number came from).

    From `training.peak_flops` if set; else a matmul probe, measured once per device
    description and dtype and kept in the cache file. A probe taken while other work shared
    the device reads low; a run that `achieved` more than it proves that, so the probe is
    taken again and the higher figure kept.
    """
    if configured:
        return float(configured), "training.peak_flops"
    kind = device_kind(strategy)
    key = f"{device_description(tf, kind)} {dtype}"
    cache = cache or cache_file()
    known = read_cache(cache)
    devices = 1 if kind == CPU else strategy.num_replicas_in_sync
    if key not in known or known[key] * devices < achieved:
        device = replica_devices(strategy)[0]
        measured = measure_matmul_flops(tf, device, PEAK_PROBE_SIZE[kind], dtype)
        known = read_cache(cache)  # keep what others wrote meanwhile
        known[key] = max(measured, known.get(key, 0.0))
        atomic.write_text(cache, json.dumps(known, indent=2, sort_keys=True) + "\n")
        source = f"measured, cached in {cache}"
    else:
        source = f"cached in {cache}"
    # Logical CPU devices share one processor; accelerators add up.
    return known[key] * devices, source


def cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bigmodel" / "peak_flops.json"


def read_cache(path: Path) -> dict:
    try:
        known = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # no cache yet, or a damaged one: measure again
    return known if isinstance(known, dict) else {}


def device_description(tf, kind: str) -> str:
    """A key that names the hardware: the CPU model and core count, or the accelerator name."""
    if kind == GPU:
        gpus = tf.config.list_physical_devices("GPU")
        details = tf.config.experimental.get_device_details(gpus[0]) if gpus else {}
        return f"gpu: {details.get('device_name', 'unknown')}"
    if kind == TPU:
        return f"tpu: {tf.config.list_logical_devices('TPU')[0].name}"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"cpu: {cpu_model_name()}, {cores} cores"


def cpu_model_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def measure_matmul_flops(tf, device: str, size: int, dtype: str) -> float:
    """The best FLOP/s of back-to-back square matmuls over a few short repetitions."""
    with tf.device(device):
        matrix = tf.random.uniform((size, size), dtype=dtype)

        @tf.function
        def multiply(count):
            product = matrix
            for _ in tf.range(count):
                product = tf.matmul(matrix, product)
                product = product / tf.cast(size, product.dtype)  # keeps values finite
            return tf.reduce_sum(product)

        float(multiply(tf.constant(2)))  # trace and warm up
        count, best = 2, 0.0
        for _ in range(PEAK_PROBE_REPEATS):
            started = time.perf_counter()
            float(multiply(tf.constant(count)))
            seconds = time.perf_counter() - started
            best = max(best, 2 * size**3 * count / seconds)
            # Aim each repetition at PEAK_PROBE_SECONDS, so fast devices are timed long enough.
            count = max(1, round(count * PEAK_PROBE_SECONDS / max(seconds, 1e-6)))
    return best
