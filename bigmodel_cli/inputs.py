"""Read what `bigmodel predict` is given into one batch the saved model accepts.

Each argument is a file (.npy/.npz arrays, images, or text with one example per line) or, for
models that take text, a raw string. Each example keeps a label naming where it came from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .data.spec import IMAGE, TEXT, TOKENS, VECTOR, InputSpec
from .errors import UsageError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}
TEXT_SUFFIXES = {".txt", ".csv", ".tsv", ".text"}


def read_inputs(arguments: list[str], spec: InputSpec) -> tuple[list[str], np.ndarray]:
    labels: list[str] = []
    examples: list[np.ndarray] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_file():
            found = _read_file(path, spec)
        elif spec.kind == TEXT:
            found = [(_short(argument), np.asarray(argument, dtype=object))]
        else:
            raise UsageError(f"input not found: {argument}; this model takes {_wanted(spec)}")
        for label, example in found:
            labels.append(label)
            examples.append(example)
    if not examples:
        raise UsageError(f"no examples in {' '.join(arguments)}; this model takes {_wanted(spec)}")
    dtype = object if spec.kind == TEXT else spec.dtype
    return labels, np.stack(examples).astype(dtype)


def _read_file(path: Path, spec: InputSpec) -> list[tuple[str, np.ndarray]]:
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _split_array(path.name, _load_array(path), spec)
    if suffix == ".npz":
        with _open_npz(path) as archive:
            keys = ["x"] if "x" in archive.files else archive.files
            return [item for key in keys
                    for item in _split_array(f"{path.name}:{key}", archive[key], spec)]
    if suffix in IMAGE_SUFFIXES:
        if spec.kind != IMAGE:
            raise UsageError(f"{path}: an image, but this model takes {_wanted(spec)}")
        return [(path.name, _read_image(path, spec))]
    return _read_lines(path, spec)


def _load_array(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as error:
        raise UsageError(f"{path}: not a readable .npy array ({error})") from None


def _open_npz(path: Path):
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as error:
        raise UsageError(f"{path}: not a readable .npz archive ({error})") from None


def _split_array(name: str, array: np.ndarray, spec: InputSpec) -> list[tuple[str, np.ndarray]]:
    """Accept one example of the model's shape, or a batch of them."""
    shape = tuple(spec.shape)
    if array.shape == shape:
        return [(name, array)]
    if array.shape[1:] == shape:
        return [(f"{name}[{index}]", example) for index, example in enumerate(array)]
    raise UsageError(f"{name}: array of shape {array.shape} does not fit the model's input "
                     f"{shape}; pass one example of shape {shape} or a batch (N, "
                     f"{', '.join(map(str, shape))})")


def _read_image(path: Path, spec: InputSpec) -> np.ndarray:
    import tensorflow as tf

    height, width, channels = spec.shape
    try:
        image = tf.io.decode_image(path.read_bytes(), channels=channels, expand_animations=False)
    except (tf.errors.InvalidArgumentError, OSError) as error:
        reason = getattr(error, "message", str(error)).splitlines()[0]
        raise UsageError(f"{path}: cannot read the image ({reason})") from None
    # Pixels stay in [0, 255]: the model rescales them itself, as in training.
    image = tf.image.resize(tf.cast(image, "float32"), (height, width), antialias=True)
    return image.numpy()


def _read_lines(path: Path, spec: InputSpec) -> list[tuple[str, np.ndarray]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text; this model takes {_wanted(spec)}") from None
    found = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        label = f"{path.name}:{number}"
        if spec.kind == TEXT:
            found.append((label, np.asarray(line, dtype=object)))
        elif spec.kind in (VECTOR, TOKENS):
            found.append((label, _parse_numbers(line, label, spec)))
        else:
            raise UsageError(f"{path}: a text file, but this model takes {_wanted(spec)}")
    return found


def _parse_numbers(line: str, label: str, spec: InputSpec) -> np.ndarray:
    try:
        values = np.array([float(v) for v in line.replace(",", " ").split()], dtype="float32")
    except ValueError:
        raise UsageError(f"{label}: expected numbers separated by commas or spaces") from None
    if values.size != int(np.prod(spec.shape)):
        raise UsageError(f"{label}: {values.size} values, but the model takes "
                         f"{int(np.prod(spec.shape))} per example")
    return values.reshape(spec.shape)


def _wanted(spec: InputSpec) -> str:
    shape = tuple(spec.shape)
    return {
        IMAGE: f"images (.png, .jpg, ...) or .npy arrays of shape {shape}",
        VECTOR: f".npy/.npz arrays of shape {shape}, or text files of numbers, one per line",
        TOKENS: f".npy/.npz arrays of token ids of shape {shape}",
        TEXT: "raw strings, or text files with one example per line",
    }[spec.kind]


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
