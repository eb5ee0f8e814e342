"""Training, start to finish: config -> data -> model -> fit -> checkpoints and results.

One linear function with banner comments, in the order things happen. Evaluation and
prediction from a saved run live in `inference.py`.
"""

from __future__ import annotations

import math
import platform
import time
from pathlib import Path

from rich.console import Console

from . import __version__, atomic, distribute, performance
from . import config as config_module
from .errors import RunError
from .runs import RunDir, read_json, write_json
from .schema import Config
from .tfenv import import_tensorflow


def train(config: Config, run_dir: Path, console: Console, verbose: bool = False) -> dict:
    run = RunDir(Path(run_dir))
    if run.finished:
        console.print(f"{run.path} holds a finished run; its results are in {run.results}. "
                      "Pass another --run-dir to train again.")
        return read_json(run.results)
    started = time.perf_counter()

    # --- devices, seeds, strategy ------------------------------------------------------------
    tf = import_tensorflow(verbose)
    import keras

    from . import data, models, optim
    from .callbacks import AtomicCheckpoint, MetricsLog
    from .progress import TrainingProgress

    distribute.configure_devices(tf, config.distribute)
    keras.utils.set_random_seed(config.seed)
    if config.training.deterministic:
        tf.config.experimental.enable_op_determinism()
    strategy = distribute.make_strategy(tf, config.distribute)
    distribute.check_batch_size(config.data.batch_size, strategy.num_replicas_in_sync)
    placement = distribute.describe(strategy, config.data.batch_size)
    console.print(f"[bold]{config.name}[/]: {placement['strategy']}, {placement['replicas']} "
                  f"replica(s), batch {placement['global_batch']} "
                  f"({placement['per_replica_batch']} per replica)", highlight=False)

    # --- data ----------------------------------------------------------------------------------
    bundle = data.load(config.data, config.seed)
    sizes = ", ".join(f"{split} {count:,}" for split, count in bundle.sizes.items())
    console.print(f"data: {config.data.source}/{config.data.name or config.data.kind}: {sizes}",
                  highlight=False)

    # --- run directory -------------------------------------------------------------------------
    run.path.mkdir(parents=True, exist_ok=True)
    atomic.write_text(run.config, config_module.dump(config))
    write_json(run.spec, {"input": bundle.input_spec.to_dict(), "target": bundle.target.to_dict()})
    write_json(run.versions, versions(tf, keras))

    # --- model and optimizer, built inside the strategy's scope ---------------------------------
    training = config.training
    steps_per_epoch = training.steps_per_epoch or math.ceil(
        bundle.sizes["train"] / config.data.batch_size)
    task = models.resolve_task(bundle.target, config.model)
    with strategy.scope():
        model = models.build_model(bundle.input_spec, bundle.target, config.model, config.name)
        model.compile(
            optimizer=optim.build_optimizer(config.optimizer, training.epochs * steps_per_epoch),
            **performance.compile_options(training, tf),
            **models.compile_arguments(task),
        )
    console.print(f"model: {config.model.family}, {model.count_params():,} parameters, "
                  f"task {task}", highlight=False)

    # --- callbacks -----------------------------------------------------------------------------
    monitor = available_metric(config.checkpoint.monitor, bundle.validation is not None)
    callbacks = [
        keras.callbacks.BackupAndRestore(str(run.backup)),
        keras.callbacks.TerminateOnNaN(),
        AtomicCheckpoint(run.last),
        AtomicCheckpoint(run.best, monitor=monitor, mode=config.checkpoint.mode),
        MetricsLog(run.metrics_jsonl, steps_per_epoch),
        keras.callbacks.CSVLogger(str(run.metrics_csv), append=True),
        TrainingProgress(console, training.epochs, steps_per_epoch, config.data.batch_size),
    ]
    if training.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(str(run.logs), write_graph=False))
    if training.early_stopping:
        stopping = training.early_stopping
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=available_metric(stopping.monitor, bundle.validation is not None),
            patience=stopping.patience, mode=stopping.mode, min_delta=stopping.min_delta,
            restore_best_weights=stopping.restore_best_weights))

    # --- fit -----------------------------------------------------------------------------------
    train_data = bundle.train.repeat() if training.steps_per_epoch else bundle.train
    fit_started = time.perf_counter()
    history = model.fit(train_data, validation_data=bundle.validation, epochs=training.epochs,
                        steps_per_epoch=steps_per_epoch, callbacks=callbacks, verbose=0)
    fit_seconds = time.perf_counter() - fit_started
    epochs_run = len(history.history.get("loss", []))
    if epochs_run and not math.isfinite(history.history["loss"][-1]):
        raise RunError(f"loss became {history.history['loss'][-1]} in epoch {epochs_run}; "
                       f"lower optimizer.learning_rate; last good checkpoint: {run.last}")

    # --- test metrics and results --------------------------------------------------------------
    checkpoint = run.model_file()
    results = {
        "name": config.name,
        "checkpoint": str(checkpoint.relative_to(run.path)),
        "epochs": epochs_run,
        "steps": epochs_run * steps_per_epoch,
        "train_seconds": round(fit_seconds, 2),
        "total_seconds": None,
        "examples": bundle.sizes,
        "distribute": placement,
        "parameters": model.count_params(),
    }
    if bundle.test is not None:
        best = keras.models.load_model(checkpoint, safe_mode=True)
        results["test"] = best.evaluate(bundle.test, return_dict=True, verbose=0)
        console.print("test: " + "  ".join(f"{key} {value:.4f}"
                                           for key, value in results["test"].items()),
                      highlight=False)
    results["total_seconds"] = round(time.perf_counter() - started, 2)
    write_json(run.results, results)
    console.print(f"run directory: {run.path}")
    return results


def available_metric(monitor: str, has_validation: bool) -> str:
    """Without a validation split, watch the training metric of the same name."""
    if not has_validation and monitor.startswith("val_"):
        return monitor[len("val_"):]
    return monitor


def versions(tf, keras) -> dict:
    return {"bigmodel": __version__, "tensorflow": tf.__version__, "keras": keras.__version__,
            "python": platform.python_version()}
