"""The model `bigmodel serve` answers with: a run directory's Keras checkpoint, or the
SavedModel of a `bigmodel export` folder. Either way one traced function with a batch of any
size, and predict's own input reading and row formatting around it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.spec import InputSpec, TargetSpec
from ..errors import UsageError
from ..runs import read_json


@dataclass
class ServedModel:
    name: str
    source: str  # the folder it was loaded from
    kind: str  # "run" (a Keras checkpoint) or "saved_model" (an export)
    spec: InputSpec
    target: TargetSpec
    task: object  # tasks.Task: formats each row as `bigmodel predict` does
    signature: dict  # {"inputs": [...], "outputs": [...]} as TensorFlow Serving's metadata
    call: Callable[[object], np.ndarray]
    version: int = 1
    # TensorFlow runs one call at a time here: the batcher is the only caller, and a lock
    # keeps tests that call directly from interleaving with it.
    lock: threading.Lock = field(default_factory=threading.Lock)

    def predict(self, batch) -> np.ndarray:
        with self.lock:
            return self.call(batch)

    def rows(self, outputs: np.ndarray, top_k: int) -> list[dict]:
        """predict's rows for these outputs, without its 'input' label (the position is)."""
        rows = []
        for output in outputs:
            row = self.task.format_row("", output, self.target, top_k)
            row.pop("input", None)
            rows.append(row)
        return rows


def load(path: Path, name: str | None, verbose: bool = False,
         unsafe: bool = False) -> ServedModel:
    path = Path(path)
    if (path / "export.json").exists():
        return _from_export(path, name, verbose)
    return _from_run(path, name, verbose, unsafe)


def describe(path: Path, name: str | None) -> tuple[str, str]:
    """(model name, kind) of what `load` would serve, from its files alone (no TensorFlow):
    `serve --workers N` checks the source once in the parent before N processes load it."""
    path = Path(path)
    if (path / "export.json").exists():
        manifest = _export_manifest(path)
        return name or manifest.get("name") or path.name, "saved_model"
    from .inference import load_run

    run, config, _, _ = load_run(path)
    run.model_files()  # no checkpoint: the same one-line error as load's
    return name or config.name, "run"


def _export_manifest(path: Path) -> dict:
    manifest = json.loads((path / "export.json").read_text(encoding="utf-8"))
    if "saved_model" not in manifest.get("artifacts", {}):
        raise UsageError(f"{path}: this export has no saved_model (it holds "
                         f"{', '.join(manifest.get('artifacts', {})) or 'nothing'}); export "
                         "it with --format saved_model, or serve the run directory")
    return manifest


def _from_run(path: Path, name: str | None, verbose: bool, unsafe: bool) -> ServedModel:
    from .. import tasks
    from .export import output_name
    from .export_formats import serving_function, signature_specs
    from .inference import load_model, load_run

    run, config, spec, target = load_run(path)
    task = tasks.resolve(target, config.model.task)
    model = load_model(run, verbose, unsafe)
    import tensorflow as tf  # imported quietly by load_model

    names = list(model.input) if isinstance(model.input, dict) else \
        [tensor.name for tensor in model.inputs]
    specs = signature_specs(model, names)
    function = tf.function(serving_function(model, names, output_name(task.name)),
                           input_signature=[specs])

    def call(batch) -> np.ndarray:
        feed = batch if isinstance(batch, dict) else {names[0]: batch}
        return np.asarray(next(iter(function(_tensors(feed, specs)).values())))

    _warm_up(call, specs)
    return ServedModel(name or config.name, str(path), "run", spec, target, task,
                       _signature(specs, output_name(task.name)), call)


def _from_export(path: Path, name: str | None, verbose: bool) -> ServedModel:
    from .. import tasks
    from ..runtime.tfenv import import_tensorflow

    manifest = _export_manifest(path)
    tf = import_tensorflow(verbose)
    spec_file = read_json(path / "spec.json")
    spec = InputSpec.from_dict(spec_file["input"])
    target = TargetSpec.from_dict(spec_file["target"])
    task = tasks.get(manifest["task"])
    signature = tf.saved_model.load(str(path / "saved_model")).signatures["serving_default"]
    specs = signature.structured_input_signature[1]

    def call(batch) -> np.ndarray:
        feed = batch if isinstance(batch, dict) else {next(iter(specs)): batch}
        return np.asarray(next(iter(signature(**_tensors(feed, specs)).values())))

    _warm_up(call, specs)
    output = manifest["artifacts"]["saved_model"]["outputs"][0]["name"]
    return ServedModel(name or manifest.get("name") or path.name, str(path), "saved_model",
                       spec, target, task, _signature(specs, output), call)


def _warm_up(call, specs: dict) -> None:
    """One call on a batch of blanks (zeros, empty strings) before the first request: the
    first call of a traced function builds it, which would otherwise delay that request."""
    blank = {key: np.full((1, *[1 if size is None else size for size in spec.shape[1:]]),
                          "" if spec.dtype.name == "string" else 0,
                          dtype=object if spec.dtype.name == "string" else spec.dtype.name)
             for key, spec in specs.items()}
    call(blank)


def _tensors(feed: dict, specs: dict) -> dict:
    import tensorflow as tf

    return {key: tf.constant(np.asarray(value), dtype=specs[key].dtype)
            for key, value in feed.items()}


def _signature(specs: dict, output: str) -> dict:
    return {"inputs": [{"name": key, "dtype": spec.dtype.name,
                        "shape": [-1 if size is None else int(size) for size in spec.shape]}
                       for key, spec in specs.items()],
            "outputs": [{"name": output, "dtype": "float32"}]}
