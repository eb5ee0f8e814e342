"""Training, start to finish: config -> data -> model -> fit -> checkpoints and results.

One linear function with banner comments, in the order things happen. Evaluation and
prediction from a saved run live in `predict/inference.py`.
"""

from __future__ import annotations

import contextlib
import math
import platform
import shutil
import time
from pathlib import Path

from rich.console import Console

from .. import __version__, atomic
from .. import config as config_module
from ..config.schema import Config
from ..data.spec import require_same_data
from ..data.splits import other_cut_note
from ..errors import UsageError
from ..runs import RunDir, read_json, write_json
from ..runtime import distribute, keras_compat, precision
from ..runtime.tfenv import import_tensorflow
from . import assemble, checkpoints, liveness, performance, resume


def train(config: Config, run_dir: Path, console: Console, verbose: bool = False, *,
          restart: bool = False, force: bool = False, extend: bool = False,
          init_from: Path | None = None, callbacks: list | tuple = ()) -> dict:
    """Train; `callbacks`: more Keras callbacks, run after bigmodel's own at each epoch end
    and before the backup (a sweep's pruning: one that stops training ends the run early)."""
    run = RunDir(Path(run_dir))
    started = time.perf_counter()
    # Of the workers of a multi-worker run, only worker 0 (the chief) deletes or writes `run`.
    role = distribute.worker_role(config.distribute)

    def warn(message: str) -> None:
        console.print(f"warning: {message}", style="yellow", highlight=False)

    # --- how this run starts: fresh, over again, resumed, extended or already done -----------
    # Nothing in the run directory changes before training is ready to begin (see below).
    if role[0] == 0:
        run.claim()
    begin = resume.plan(run, config.model_dump(mode="json"), restart=restart, force=force,
                        extend=extend, warn=warn)
    if begin.kind == "done":
        console.print(f"{run.path} holds a finished run; its results are in {run.results}. "
                      "Use --extend with a larger training.epochs to train it on, --restart "
                      "to train it again, or another --run-dir.")
        return read_json(run.results)

    # --- devices, seeds, strategy ------------------------------------------------------------
    tf = import_tensorflow(verbose)
    import keras

    distribute.configure_devices(tf, config.distribute)
    keras.utils.set_random_seed(config.seed)
    if config.training.deterministic:
        tf.config.experimental.enable_op_determinism()
    strategy = distribute.make_strategy(tf, config.distribute)
    keras_compat.apply(strategy)  # Keras 3 fixes for several replicas (keras-team/keras#20585)
    distribute.check_batch_size(config.data.batch_size, strategy.num_replicas_in_sync)
    policy, reason = precision.choose(tf, config.training.mixed_precision, strategy,
                                      config.model)
    earlier = resume.trained_precision(run, begin)
    if reason and earlier and earlier != policy:
        # auto decides from this machine's probe: a run that moved, or whose probe was measured
        # again, keeps the precision it has trained under.
        policy, reason = earlier, f"as this run trained so far; here auto would choose {policy}"
    placement = distribute.describe(strategy, config.data.batch_size, policy, role, reason)
    console.print(f"{config.name}: {distribute.summary(placement)}", style="bold",
                  highlight=False)
    if reason:
        console.print(f"mixed precision: auto chose {policy} ({reason})", highlight=False)
    # Workers other than the chief write to a scratch directory, removed however this ends.
    run, scratch = distribute.worker_run_dir(role, run)
    failure = None  # what ended training, for process.json and failed.json (liveness.py)
    try:
        results = _train(tf, config, run, begin, console, warn, strategy, placement,
                         restart=restart, init_from=init_from, extra_callbacks=callbacks)
        results["total_seconds"] = round(time.perf_counter() - started, 2)
        write_json(run.results, results)  # written last: it marks the run finished
        checkpoints.clear(run.backup)  # results.json now marks the run, backups are spent
        shutil.rmtree(run.cache, ignore_errors=True)  # and so is a cache on disk
    except OSError as error:  # a full disk or a folder gone read-only while training
        path = Path(error.filename or run.path)
        failure = atomic.os_error(error, path, "write" if path.is_relative_to(run.path)
                                  else "read")
        raise failure from error
    except BaseException as error:
        failure = error
        raise
    finally:
        liveness.release(run, failure)
        if scratch is not None:
            scratch.cleanup()
    if scratch is None:
        console.print(f"run directory: {run.path}")
    return results


def _train(tf, config: Config, run: RunDir, begin: resume.Start, console: Console, warn,
           strategy, placement: dict, *, restart: bool, init_from: Path | None,
           extra_callbacks=()) -> dict:
    """Data, model, starting point, run directory, fit and test metrics: the results."""
    import keras

    from .. import data
    from . import optimizer as optim

    # --- data ----------------------------------------------------------------------------------
    if config.model.family == "pretrained":  # a hub preset missing offline: fail before data
        from ..models import hub

        hub.preset_folder(config.model.preset)
    # Caches are filled here, before the first step; one on disk goes to run/cache/ (ours).
    bundle = data.load(config.data, config.seed, run_dir=run.path, console=console)
    sizes = ", ".join(f"{split} {count:,}" for split, count in bundle.sizes.items())
    dataset_name = config.data.name or config.data.path or config.data.kind
    console.print(f"data: {config.data.source}/{dataset_name}: {sizes}", highlight=False)
    if bundle.skipped:
        console.print(bundle.skipped_note, highlight=False, markup=False)
    if begin.weights and run.spec.exists():  # a resume or an extension: the same data only
        trained_spec = read_json(run.spec)
        require_same_data(trained_spec, bundle, str(run.path),
                          "use --restart to train on this data, or another --run-dir")
        if note := other_cut_note(trained_spec, bundle.split_cut):
            console.print(f"warning: {note}", style="yellow", highlight=False, markup=False)

    # --- model and optimizer, built inside the strategy's scope ---------------------------------
    training = config.training
    steps_per_epoch = training.steps_per_epoch or math.ceil(
        bundle.sizes["train"] / config.data.batch_size)
    resume.check_steps_per_epoch(begin, steps_per_epoch)
    from . import privacy as private  # DP-SGD, training.privacy (imports TensorFlow)

    privacy = private.plan_for(config, bundle.sizes["train"], steps_per_epoch, strategy, console)
    assembled = assemble.compiled_model(
        tf, config, strategy, bundle.input_spec, bundle.target, steps_per_epoch,
        begin.state.step_in_epoch if begin.state else 0, privacy,
        (placement["precision"], placement["precision_reason"]))
    model, task = assembled.model, assembled.task
    frozen = model.count_params() - _trainable_parameters(model)
    console.print(f"model: {config.model.family}, {model.count_params():,} parameters"
                  f"{f' ({frozen:,} frozen)' if frozen else ''}, task {task}; "
                  f"{performance.describe_speed(model)}", highlight=False)

    # --- starting point: a backup, the finished run to extend, weights of another, or none ---
    start = begin.state or checkpoints.TrainingState(global_step=0, epoch=0, step_in_epoch=0)
    if begin.weights:
        # An extended run loads a checkpoint of the saved model; a backup is of the trained one.
        target = assembled.saved if begin.kind == "extend" else model
        try:
            with strategy.scope():
                checkpoints.restore(target, begin.weights, start, trained=model)
        except ValueError as error:  # --force with another model, or a damaged checkpoint
            raise resume.weights_do_not_fit(begin.weights, error) from error
        verb = "extending" if begin.kind == "extend" else "resuming"
        console.print(f"{verb} from step {start.global_step:,} (epoch {start.epoch + 1}, "
                      f"step {start.step_in_epoch} of {steps_per_epoch})", highlight=False)
    elif init_from:
        source = resume.resolve_init_from(init_from)
        try:
            assembled.saved.load_weights(source)  # a checkpoint holds the saved model
        except ValueError as error:
            raise UsageError(f"--init-from {init_from}: its weights do not fit this model "
                             f"({str(error).splitlines()[0]})") from None
        console.print(f"weights initialized from {source}", highlight=False)

    # --- callbacks -------------------------------------------------------------------------
    has_validation = bundle.validation is not None
    from ..config.checks import check_monitors, metric_names  # a typo: no best checkpoint
    check_monitors(config, metric_names(model))
    callbacks, guard, progress = _callbacks(config, run, console, steps_per_epoch, start,
                                            has_validation, assembled.saved,
                                            bundle.sizes["train"], begin.best,
                                            private.callbacks(privacy, steps_per_epoch,
                                                              training.epochs, console))
    callbacks[-1:-1] = extra_callbacks  # before the guard, whose backup comes last

    # --- run directory: changed only now, when everything above has worked ----------------------
    if restart:
        for line in resume.restart(run):
            console.print(line, highlight=False, markup=False)
    try:
        run.path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise atomic.os_error(error, run.path, "create run directory") from error
    if begin.kind == "extend":
        resume.trim_metrics(run, start.epoch)  # the run files follow once the extension ends
    else:
        _write_run_files(run, config, bundle, tf, keras)
        if begin.weights:
            resume.trim_metrics(run, start.epoch)
    liveness.hold(run)  # process.json while this process trains it (config.yaml is there)

    # --- fit -----------------------------------------------------------------------------------
    validation = assembled.to_model_inputs(bundle.validation)
    skipped_before = bundle.skipped
    fit_started = time.perf_counter()
    try:
        phases = list(_phases(start, training.epochs, steps_per_epoch))
        for index, (first_epoch, last_epoch, steps, first_step) in enumerate(phases):
            # Only the last `fit` may put EMA averages into the weights (optimizer.py).
            more = index < len(phases) - 1
            with optim.raw_weights_kept(model.optimizer) if more else contextlib.nullcontext(), \
                    bundle.reading():  # a file refused mid-stream: its own one-line error
                # One stream of batches for the whole run, entered at the step reached so far.
                stream = bundle.train_stream(first_step, private.index_batches(privacy))
                model.fit(assembled.to_model_inputs(stream),
                          validation_data=validation,
                          initial_epoch=first_epoch, epochs=last_epoch, steps_per_epoch=steps,
                          callbacks=callbacks, verbose=0)
            if model.stop_training:  # early stopping
                break
    finally:
        progress.close()
    fit_seconds = time.perf_counter() - fit_started
    if bundle.skipped > skipped_before:  # files found unreadable mid-stream
        console.print(bundle.skipped_note, highlight=False, markup=False)
    epochs_run = math.ceil(guard.global_step / steps_per_epoch)
    if placement["workers"] > 1:  # workers that trained in sync print the same fingerprint
        console.print(f"worker {placement['worker']}: final weights "
                      f"{distribute.weights_fingerprint(model)}", highlight=False)

    # --- test metrics and results --------------------------------------------------------------
    checkpoint = run.model_file()
    results = {
        "name": config.name,
        "checkpoint": str(checkpoint.relative_to(run.path)),
        "epochs": epochs_run,
        "steps": guard.global_step,
        "train_seconds": round(fit_seconds, 2),
        "total_seconds": None,
        "examples": bundle.sizes,
        "distribute": placement,
        "parameters": model.count_params(),
        "skipped": bundle.skipped,  # unreadable files or rows left out (data.on_bad_file: skip)
        "skipped_files": bundle.skipped_files,  # their names (the first 100)
        # examples/s of the training steps, FLOPs per example and MFU against the peak FLOP/s
        "throughput": performance.run_report(tf, model, strategy, progress.examples_per_second(),
                                             training.peak_flops, progress.tokens_per_example),
    }
    console.print(performance.describe_throughput(results["throughput"]), highlight=False)
    if privacy is not None:  # epsilon (PLD and RDP) after the steps taken
        results["privacy"] = private.report(privacy, guard.global_step, console)
    best = None  # the checkpoint evaluate uses, loaded once for the test and the pictures
    if bundle.test is not None:
        best = checkpoints.load_checkpoint(run.model_files(), unsafe=False, warn=warn)
        with bundle.reading():
            results["test"] = best.evaluate(bundle.test, return_dict=True, verbose=0)
        console.print("test: " + "  ".join(f"{key} {value:.4f}"
                                           for key, value in results["test"].items()),
                      highlight=False)
    if begin.kind == "extend":  # the extended config now describes the run
        _write_run_files(run, config, bundle, tf, keras)
    from ..report import evaluation  # plots/: curves, confusion matrix, ROC, examples

    results["plots"] = evaluation.after_training(run, task, bundle, console, warn, best)
    return results


def _trainable_parameters(model) -> int:
    return sum(math.prod(variable.shape) for variable in model.trainable_weights)


def _write_run_files(run: RunDir, config: Config, bundle, tf, keras) -> None:
    """What predict and a later resume read: the resolved config, the data's spec, versions."""
    from ..data import tokenizers

    atomic.write_text(run.config, config_module.dump(config))
    cut = {"split_cut": bundle.split_cut} if bundle.split_cut else {}
    spec_input = bundle.input_spec.to_dict()
    if spec_input.get("tokenizer"):  # a BPE definition: in run/tokenizer.json, named here
        spec_input["tokenizer"] = tokenizers.save_beside(spec_input["tokenizer"], run.path)
    write_json(run.spec, {"input": spec_input, "target": bundle.target.to_dict(), **cut})
    write_json(run.versions, versions(tf, keras))


def _callbacks(config: Config, run: RunDir, console: Console, steps_per_epoch: int,
               start, has_validation: bool, saved, train_examples: int,
               previous_best: dict | None = None, accountant: dict | None = None):
    """The callbacks of a run, in the order they must run at each epoch end."""
    import keras

    from . import optimizer as optim
    from .callbacks import (
        BestCheckpoint,
        EpochCheckpoints,
        MetricsLog,
        ResumableEarlyStopping,
        RunGuard,
    )
    from .progress import TrainingProgress

    training = config.training
    epoch_checkpoints = EpochCheckpoints(run.checkpoints, config.checkpoint.keep_last, saved)
    stateful = {"best": BestCheckpoint(
        run.best, available_metric(config.checkpoint.monitor, has_validation),
        config.checkpoint.mode, steps_per_epoch, epoch_checkpoints)}
    if training.early_stopping:
        stopping = training.early_stopping
        stateful["early_stopping"] = ResumableEarlyStopping(
            monitor=available_metric(stopping.monitor, has_validation),
            patience=stopping.patience, mode=stopping.mode, min_delta=stopping.min_delta)
    stateful.update(accountant or {})  # training.privacy: epsilon into the logs, its secret
    for name, callback in stateful.items():
        if name in start.callbacks:
            callback.set_state(start.callbacks[name])
    best = stateful["best"]
    if previous_best and "best" not in start.callbacks and previous_best["monitor"] == best.monitor:
        # An extended run: a later epoch is the best only if it beats the finished run's best.
        best.set_state({"best": best.sign * previous_best["value"]})
    progress = TrainingProgress(console, training.epochs, steps_per_epoch, config.data.batch_size,
                                train_examples)
    guard = RunGuard(run.backup, steps_per_epoch, config.checkpoint.backup_every_steps, start,
                     stateful, resume_hint=f"run the same command again to resume from {run.path}")
    # With training.ema, checkpoints get the averaged weights and backups the raw ones.
    averages_in, averages_out = optim.ema_callbacks(training.ema)
    callbacks = [
        *averages_in,
        epoch_checkpoints,  # before the best checkpoint, which links to its file
        *stateful.values(),
        MetricsLog(run.metrics_jsonl, run.metrics_csv, steps_per_epoch),
        progress,
    ]
    if training.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(str(run.logs), write_graph=False,
                                                     write_steps_per_second=True))
    callbacks += averages_out
    callbacks.append(guard)  # last: its end-of-epoch backup captures the others' state
    return callbacks, guard, progress


def _phases(start, epochs: int, steps_per_epoch: int):
    """(first epoch, end epoch, steps per epoch, first step) for each `fit` call.

    Keras cannot start an epoch part-way, so a run resumed mid-epoch first finishes that
    epoch with the steps it has left, then trains the remaining epochs.
    """
    if start.step_in_epoch:
        yield (start.epoch, start.epoch + 1, steps_per_epoch - start.step_in_epoch,
               start.global_step)
        if start.epoch + 1 < epochs:
            yield start.epoch + 1, epochs, steps_per_epoch, (start.epoch + 1) * steps_per_epoch
    elif start.epoch < epochs:
        yield start.epoch, epochs, steps_per_epoch, start.global_step


def available_metric(monitor: str, has_validation: bool) -> str:
    """Without a validation split, watch the training metric of the same name."""
    if not has_validation and monitor.startswith("val_"):
        return monitor[len("val_"):]
    return monitor


def versions(tf, keras) -> dict:
    return {"bigmodel": __version__, "tensorflow": tf.__version__, "keras": keras.__version__,
            "python": platform.python_version()}
