"""bigmodel export: a run's model as SavedModel, ONNX and LiteRT files, each proven to compute
what the Keras model computes before the export counts as done.

The export is written into a temporary folder beside --output and renamed onto it at the end;
a failure (a conversion, a parity check) leaves nothing at the output path.

OUTPUT/
  saved_model/       the whole model, preprocessing included: takes what `bigmodel predict`
                     takes (pixels in [0, 255], raw strings, CSV columns)
  model.onnx         the numeric part when the model reads strings (see export_split.py)
  model.tflite       the same, for LiteRT
  assets/            vocabularies of the cut preprocessing layers, class_names.txt
  signature.json     what each artifact's inputs are and how to make them
  spec.json          the run's input and target spec (bigmodel serve reads it)
  export.json        formats, inputs, outputs, class names, config hash, versions, parity
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .. import atomic
from ..errors import RunError, UsageError
from ..runs import json_text
from . import export_formats as formats
from . import export_split

FORMATS = ("saved_model", "onnx", "litert")
FILES = {"saved_model": "saved_model", "onnx": "model.onnx", "litert": "model.tflite"}
SAMPLE = 64  # validation (or test) examples each artifact is checked on
TOLERANCE = 1e-4  # max abs difference of outputs, float32
QUANTIZED_TOLERANCE = {"dynamic": 0.1, "float16": 0.01}  # stated, looser: weights are rounded


def export(run_dir: Path, formats_wanted: list[str], output: Path | None, checkpoint: str,
           quantize: str, verbose: bool, unsafe: bool, echo) -> dict:
    from .. import tasks
    from . import inference

    run, config, spec, target = inference.load_run(run_dir)
    task = tasks.resolve(target, config.model.task).name
    output = Path(output) if output is not None else run.path / "export"
    _check_output(output)
    if quantize != "none" and "litert" not in formats_wanted:
        raise UsageError(f"--quantize {quantize} applies to LiteRT only; add --format litert "
                         "(ONNX is exported in float32; quantize it with onnxruntime's tools)")
    inference.import_tensorflow(verbose)
    model = _load(run, checkpoint, unsafe)
    sample = _sample(run, config, inference)
    expected = np.asarray(model.predict_on_batch(sample))
    part = export_split.split(model)

    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.tmp-", dir=output.parent))
    try:
        manifest = _write_all(model, part, formats_wanted, staging, sample, expected, quantize,
                              target, output_name(task), echo)
        manifest = {"formats": list(manifest["artifacts"]), **manifest,
                    "name": config.name, **_facts(run, target, task, checkpoint)}
        atomic.write_text(staging / "export.json", json_text(manifest))
        shutil.copyfile(run.spec, staging / "spec.json")
        if (run.path / "tokenizer.json").exists():  # a BPE tokenizer spec.json names
            shutil.copyfile(run.path / "tokenizer.json", staging / "tokenizer.json")
        _publish(staging, output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"output": str(output), **manifest}


def output_name(task: str) -> str:
    """The name of the serving signature's output."""
    return "value" if task == "regression" else "probabilities"


def _write_all(model, part, formats_wanted, staging, sample, expected, quantize, target,
               output_name, echo) -> dict:
    full_specs = formats.signature_specs(model, _model_input_names(model))
    numeric_specs = formats.signature_specs(part.numeric, export_split.numeric_names(part)) \
        if part.preprocess is not None else full_specs
    numeric_sample = export_split.numeric_batch(part, _as_dict(sample, full_specs))
    artifacts = {}
    assets = export_split.write_assets(part, staging)
    _write_class_names(target, staging)
    if "saved_model" in formats_wanted:
        formats.write_saved_model(model, staging / FILES["saved_model"], full_specs, output_name)
    # ONNX is converted from a SavedModel of the numeric part (the whole model when it reads
    # no strings); one that is not itself an artifact is removed at the end.
    source = None
    if "onnx" in formats_wanted:
        source = staging / FILES["saved_model"]
        if part.preprocess is not None or "saved_model" not in formats_wanted:
            source = Path(tempfile.mkdtemp(prefix=".numeric-", dir=staging))
            formats.write_saved_model(part.numeric, source, numeric_specs, output_name)
    for name in (name for name in FORMATS if name in formats_wanted):
        path = staging / FILES[name]
        specs, batch, tolerance, fixed_batch = numeric_specs, numeric_sample, TOLERANCE, None
        if name == "saved_model":
            specs, batch = full_specs, _as_dict(sample, full_specs)
            runner = formats.run_saved_model(path)
        elif name == "onnx":
            formats.write_onnx(source, path)
            runner = formats.run_onnx(path)
        else:
            fixed_batch = formats.write_litert(part.numeric, numeric_specs, output_name, path,
                                               quantize, source=_same_signature(source, staging,
                                                                                part))
            runner = formats.run_litert(path)
            tolerance = QUANTIZED_TOLERANCE.get(quantize, TOLERANCE)
        parity = _parity(name, runner(batch), expected, tolerance)
        echo(f"{name:12} {FILES[name]:14} max |diff| {parity['max_abs_diff']:.2e} "
             f"(tolerance {tolerance:g}), top-1 agreement {parity['top1_agreement']:.1%} "
             f"on {parity['examples']} examples")
        artifacts[name] = {
            "path": FILES[name],
            "inputs": _describe_specs(specs, fixed_batch),
            "outputs": [{"name": output_name, "shape": [None, *expected.shape[1:]],
                         "dtype": "float32"}],
            "preprocessing": "inside" if specs is full_specs else "outside: see signature.json",
            **({"quantize": quantize} if name == "litert" else {}),
            "parity": parity,
        }
    if source is not None and source != staging / FILES["saved_model"]:
        shutil.rmtree(source, ignore_errors=True)
    signature = {"inputs": _describe_specs(full_specs), "output": output_name,
                 "numeric_inputs": _describe_specs(numeric_specs), "preprocessing": assets,
                 "class_names": target.class_names}
    atomic.write_text(staging / "signature.json", json_text(signature))
    return {"artifacts": artifacts}


def _same_signature(source: Path | None, staging: Path, part) -> Path | None:
    """A SavedModel already written with the numeric part's signature, if there is one."""
    if part.preprocess is None and (staging / FILES["saved_model"]).exists():
        return staging / FILES["saved_model"]
    return source


def _parity(name: str, got: np.ndarray, expected: np.ndarray, tolerance: float) -> dict:
    got = np.asarray(got, dtype=np.float32).reshape(expected.shape)
    difference = float(np.max(np.abs(got - expected))) if expected.size else 0.0
    if expected.ndim == 2 and expected.shape[1] > 1:
        agreement = float(np.mean(np.argmax(got, 1) == np.argmax(expected, 1)))
    else:  # one sigmoid unit or one value: the side of 0.5 (or the sign of nothing) agrees
        agreement = float(np.mean((got > 0.5) == (expected > 0.5)))
    parity = {"examples": int(expected.shape[0]), "max_abs_diff": difference,
              "top1_agreement": agreement, "tolerance": tolerance}
    if not difference <= tolerance:  # NaN fails too
        raise RunError(f"the {name} export does not match the Keras model: max |diff| "
                       f"{difference:.3g} > tolerance {tolerance:g} on {parity['examples']} "
                       "examples; nothing was written")
    return parity


def _load(run, checkpoint: str, unsafe: bool):
    from ..train.checkpoints import load_checkpoint
    from .inference import warn

    path = run.best if checkpoint == "best" else run.last
    if not path.exists():
        if checkpoint == "best" and run.last.exists():
            warn(f"{path} does not exist (no validation split to pick it by?); using "
                 f"{run.last}")
            path = run.last
        else:
            run.model_files()  # the one-line 'train first' error when there is none at all
            raise UsageError(f"{path} does not exist; use --checkpoint "
                             f"{'last' if checkpoint == 'best' else 'best'}")
    return load_checkpoint([path], unsafe, warn)


def _sample(run, config, inference):
    """The first SAMPLE examples of the run's validation split (else test, else train)."""
    bundle = inference.load_run_data(run, config)
    for name in ("validation", "test", "train"):
        dataset = bundle.split(name)
        if dataset is None:
            continue
        batches, count = [], 0
        for x, _ in dataset:
            batches.append(x)
            count += len(next(iter(x.values())) if isinstance(x, dict) else x)
            if count >= SAMPLE:
                break
        if isinstance(batches[0], dict):
            return {key: np.concatenate([np.asarray(b[key]) for b in batches])[:SAMPLE]
                    for key in batches[0]}
        return np.concatenate([np.asarray(b) for b in batches])[:SAMPLE]
    raise RunError(f"{run.path}: the run's data has no examples to check the export on")


def _model_input_names(model) -> list[str]:
    if isinstance(model.input, dict):
        return list(model.input)
    return [tensor.name for tensor in model.inputs]


def _as_dict(sample, specs: dict) -> dict:
    if isinstance(sample, dict):
        return sample
    return {next(iter(specs)): sample}


def _describe_specs(specs: dict, batch: int | None = None) -> list[dict]:
    return [{"name": name, "shape": [batch, *(None if size is None else int(size)
                                              for size in spec.shape[1:])],
             "dtype": spec.dtype.name} for name, spec in specs.items()]


def _write_class_names(target, staging: Path) -> None:
    if target.class_names:
        atomic.write_text(staging / "assets" / "class_names.txt",
                          "".join(f"{name}\n" for name in target.class_names))


def _facts(run, target, task: str, checkpoint: str) -> dict:
    versions = json.loads(run.versions.read_text()) if run.versions.exists() else {}
    return {
        "run": str(run.path.resolve()),
        "checkpoint": checkpoint,
        "task": task,
        "class_names": target.class_names,
        "config_sha256": hashlib.sha256(run.config.read_bytes()).hexdigest(),
        "versions": {**_export_versions(), "trained_with": versions},
    }


def _export_versions() -> dict:
    from importlib import metadata

    found = {}
    for package in ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "ai-edge-litert"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return found


def _check_output(output: Path) -> None:
    """An existing output is replaced only when it is an earlier export."""
    if output.exists() and not (output / "export.json").exists() and (
            output.is_file() or any(output.iterdir())):
        raise UsageError(f"{output} exists and is not a bigmodel export (no export.json); "
                         "choose another --output or remove it")


def _publish(staging: Path, output: Path) -> None:
    """Rename the finished export onto `output`; an earlier export there goes last."""
    try:
        os.chmod(staging, 0o777 & ~atomic._umask())  # mkdtemp makes it 0700
        if output.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{output.name}.old-", dir=output.parent))
            os.replace(output, old / "export")
            os.replace(staging, output)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, output)
    except OSError as error:
        raise atomic.os_error(error, output) from error
