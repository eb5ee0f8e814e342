"""Write each artifact format, and run it back in its own runtime.

Every format is made from one SavedModel with a named `serving_default` signature (written by
Keras' ExportArchive): SavedModel is the artifact itself; ONNX is converted from it by tf2onnx
(Keras' own ONNX export turns a Normalization layer's mean and variance into graph inputs and
fails); LiteRT is converted by TensorFlow's converter from the same serving function. Each
runner takes {input name: numpy array} and returns the output as numpy.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..errors import RunError, UsageError
from ..extras import require
from ..runtime.tfenv import native_stderr

ONNX_OPSET = 17
# TensorFlow ops that tf2onnx 1.17 cannot convert, and why a model has them.
ONNX_UNSUPPORTED = {
    "Erfc": "exact GELU (tf.nn.gelu lowers to Erfc; tensorflow-onnx PR 2463 is open); train "
            "with an approximate GELU, or export saved_model or litert, which handle it",
}
QUANTIZE = ("none", "dynamic", "float16")


def signature_specs(model, names: list[str] | None = None) -> dict:
    """{input name: tf.TensorSpec} for the model's inputs, with their names (or `names`)."""
    import tensorflow as tf

    names = names or [tensor.name for tensor in model.inputs]
    return {name: tf.TensorSpec(tuple(tensor.shape), tensor.dtype, name=name)
            for name, tensor in zip(names, model.inputs, strict=True)}


def write_saved_model(model, folder: Path, specs: dict, output_name: str) -> None:
    """A SavedModel whose serving_default takes the named inputs, gives {output_name: ...}."""
    import keras
    import tensorflow as tf

    serve = serving_function(model, list(specs), output_name)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", tf.function(serve), input_signature=[specs])
    archive.write_out(str(folder), verbose=False)


def serving_function(model, names: list[str], output_name: str):
    """inputs {name: tensor} -> {output_name: the model's output}, whatever the model's inputs."""

    def serve(inputs):
        if isinstance(model.input, dict):
            values = inputs
        elif len(names) == 1:
            values = inputs[names[0]]
        else:
            values = [inputs[name] for name in names]
        return {output_name: model(values, training=False)}

    return serve


def run_saved_model(folder: Path):
    import tensorflow as tf

    signature = tf.saved_model.load(str(folder)).signatures["serving_default"]

    def run(batch: dict) -> np.ndarray:
        outputs = signature(**{name: tf.constant(value) for name, value in batch.items()})
        return np.asarray(next(iter(outputs.values())))

    return run


def write_onnx(saved_model: Path, path: Path) -> None:
    require("tf2onnx", "bigmodel export --format onnx")
    from tf2onnx import convert, tf_loader

    # tf2onnx logs every step at INFO and warns that no --tag was given: keep it quiet.
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    graph, inputs, outputs, tables, renames = tf_loader.from_saved_model(
        str(saved_model), None, None, "serve", ["serving_default"], None, False,
        return_initialized_tables=True, return_tensors_to_rename=True)
    refuse_unsupported_ops({node.op for node in graph.node}
                           | {node.op for function in graph.library.function
                              for node in function.node_def})
    # convert._convert_common is what `python -m tf2onnx.convert --saved-model` runs; called
    # here, the conversion shares this process's TensorFlow instead of importing it again.
    try:
        convert._convert_common(graph, name=str(saved_model), opset=ONNX_OPSET,
                                input_names=inputs, output_names=outputs,
                                tensors_to_rename=renames, initialized_tables=tables,
                                output_path=str(path))
    except Exception as error:  # tf2onnx raises bare ValueErrors and others: name it, once
        raise RunError(f"tf2onnx could not convert the model to ONNX "
                       f"({_first_line(error)}); export saved_model instead") from None


def refuse_unsupported_ops(ops: set[str]) -> None:
    for op, why in ONNX_UNSUPPORTED.items():
        if op in ops:
            raise UsageError(f"cannot export to ONNX: the model uses TensorFlow op {op}: {why}")


def run_onnx(path: Path):
    onnxruntime = require("onnxruntime", "checking an ONNX export")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    dtypes = {item.name: _onnx_dtype(item.type) for item in session.get_inputs()}

    def run(batch: dict) -> np.ndarray:
        feed = {name: np.asarray(value).astype(dtypes[name]) for name, value in batch.items()}
        return np.asarray(session.run(None, feed)[0])

    return run


def _onnx_dtype(type_name: str):
    return {"tensor(float)": np.float32, "tensor(int64)": np.int64,
            "tensor(int32)": np.int32, "tensor(double)": np.float64}.get(type_name, np.float32)


def write_litert(model, specs: dict, output_name: str, path: Path, quantize: str = "none",
                 source: Path | None = None) -> int | None:
    """A LiteRT file with a serving_default signature; returns its fixed batch size, if any.

    Converted from a SavedModel, as TensorFlow documents for Keras 3 (its variables are then
    frozen): `source` when it already holds this model's signature, else a temporary one.
    Recurrent layers' tensor lists need a static batch to lower to LiteRT ops ("requires
    element_shape to be static"): such models are converted for a batch of one example,
    which is how phones run them anyway.
    """
    import keras

    from .. import atomic

    recurrent = (keras.layers.RNN, keras.layers.Bidirectional)
    batch = 1 if any(isinstance(layer, recurrent) for layer in _all_layers(model)) else None
    try:
        contents = _convert_litert(model, specs, output_name, path, quantize, batch,
                                   source if batch is None else None)
    except Exception as error:  # the converter's ConverterError carries pages of MLIR
        raise RunError(f"the LiteRT converter failed ({_first_line(error)}); export "
                       "saved_model instead") from None
    with atomic.atomic_path(path) as temporary:
        temporary.write_bytes(contents)
    return batch


def _all_layers(model) -> list:
    """The model's layers, and those of the models inside it."""
    return [inner for layer in model.layers
            for inner in ([layer] + (_all_layers(layer) if hasattr(layer, "layers") else []))]


def _convert_litert(model, specs: dict, output_name: str, path: Path, quantize: str,
                    batch: int | None, source: Path | None) -> bytes:
    import tempfile

    import tensorflow as tf

    if source is not None:
        return _converted(tf.lite.TFLiteConverter.from_saved_model(str(source)), quantize)
    fixed = {name: tf.TensorSpec((batch, *spec.shape[1:]), spec.dtype, name=name)
             for name, spec in specs.items()}
    with tempfile.TemporaryDirectory(prefix=".litert-", dir=path.parent) as folder:
        write_saved_model(model, Path(folder), fixed, output_name)
        return _converted(tf.lite.TFLiteConverter.from_saved_model(folder), quantize)


def _converted(converter, quantize: str) -> bytes:
    import tensorflow as tf

    if quantize in ("dynamic", "float16"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    with native_stderr(show=False):
        return converter.convert()


def run_litert(path: Path):
    require("ai_edge_litert", "checking a LiteRT export")
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    runner = interpreter.get_signature_runner("serving_default")
    details = runner.get_input_details()
    fixed = any(int(item["shape_signature"][0]) == 1 for item in details.values())

    def run(batch: dict) -> np.ndarray:
        with native_stderr(show=False):  # XNNPACK announces itself on the first call
            return invoke(batch)

    def invoke(batch: dict) -> np.ndarray:
        feed = {name: np.asarray(value).astype(details[name]["dtype"])
                for name, value in batch.items()}
        if not fixed:  # the signature runner resizes its inputs to the batch
            return np.asarray(next(iter(runner(**feed).values())))
        rows = len(next(iter(feed.values())))
        return np.concatenate([next(iter(runner(**{name: value[row:row + 1] for name, value
                                                     in feed.items()}).values()))
                               for row in range(rows)])

    return run


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:300]
