"""Explain predictions: which parts of an input moved the model's output, from a run directory.

`explain` reads the inputs `bigmodel predict` reads, picks the output explained (the predicted
class, or a class named with --target), and attributes it with attribution.py at the point
explain_points.py chooses for the input kind. Each Explanation carries its scores in the
input's own units (a heat map per pixel, a score per token, per table column or feature) and
the completeness gap that says whether the step count was enough.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data.spec import IMAGE, NUMERIC, TABLE, TEXT, TOKENS, InputSpec, TargetSpec
from ..data.tables import input_name
from ..errors import UsageError
from ..tasks.names import BINARY, LANGUAGE_MODELING, REGRESSION
from .attribution import METHODS, attribute
from .explain_points import check_baseline, find_tokenizer, make_point
from .explanation import Explanation

PREDICTED = "predicted"


def check_options(method: str, steps: int, baseline: str, spec: InputSpec) -> str:
    """Refuse what cannot work before the model loads; the baseline to use."""
    if method not in METHODS:
        raise UsageError(f"--method {method}: unknown; use one of: {', '.join(METHODS)}")
    if steps < 1:
        raise UsageError(f"--steps {steps}: needs at least 1 step (64 is usually enough)")
    return check_baseline(baseline, spec)


def target_index(target: str, target_spec: TargetSpec, task_name: str) -> int | None:
    """The class explained: None for the predicted one, else the index of a class name."""
    if target == PREDICTED:
        return None
    if task_name == REGRESSION:
        raise UsageError(f"--target {target}: a regression has no classes; use --target "
                         "predicted (its value)")
    names = target_spec.class_names
    if target not in names:
        shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
        raise UsageError(f"--target {target}: not a class of this run; use predicted or one "
                         f"of: {shown}")
    return names.index(target)


def explain_run(run_dir: Path, arguments: list[str], method: str = "integrated_gradients",
                steps: int = 64, baseline: str = "auto", target: str = PREDICTED,
                verbose: bool = False, unsafe: bool = False) -> list[Explanation]:
    from .. import tasks
    from ..runtime.tfenv import import_tensorflow
    from .inference import load_model, load_run
    from .inputs import read_inputs

    run, config, spec, target_spec = load_run(run_dir)
    task = tasks.resolve(target_spec, config.model.task)
    baseline = check_options(method, steps, baseline, spec)
    if task.name == LANGUAGE_MODELING:  # prompts: the next token's probability (explain_lm.py)
        from .explain_lm import explain_prompts, target_id

        token = target_id(target, spec)
        import_tensorflow(verbose)
        return explain_prompts(load_model(run, verbose, unsafe), spec, target_spec, arguments,
                               method, steps, baseline, token)
    index = target_index(target, target_spec, task.name)
    import_tensorflow(verbose)  # images are decoded with TensorFlow: load it quietly first
    labels, batch = read_inputs(arguments, spec)
    model = load_model(run, verbose, unsafe)
    return explain_batch(model, spec, target_spec, task.name, labels, batch, method, steps,
                         baseline, index)


def explain_batch(model, spec: InputSpec, target_spec: TargetSpec, task_name: str,
                  labels: list[str], batch, method: str, steps: int, baseline: str,
                  index: int | None) -> list[Explanation]:
    """One Explanation per example of `batch` (what inputs.read_inputs returns)."""
    outputs = _outputs(model, batch, len(labels))  # for the predicted classes
    point = make_point(model, spec)
    explanations = []
    for number, label in enumerate(labels):
        example = _rows(batch, number, number + 1)
        example = {name: column[0] for name, column in example.items()} \
            if isinstance(example, dict) else example[0]
        chosen = _predicted_index(outputs[number], task_name) if index is None else index
        prepared = point.prepare(example, baseline)
        found = attribute(method, lambda points, e=example: point.forward(e, points),
                          _selector(task_name, chosen), prepared.point, prepared.baseline,
                          steps)
        explanation = Explanation(
            input=label, kind=spec.kind, method=method, steps=steps, baseline=baseline,
            predicted=_predicted(outputs[number], target_spec, task_name),
            target="value" if task_name == REGRESSION else target_spec.class_names[chosen],
            attribution=found)
        _in_input_units(explanation, example, prepared, model, spec)
        explanations.append(explanation)
    return explanations


def _outputs(model, batch, count: int, size: int = 64) -> np.ndarray:
    """The model's outputs for the whole batch, `size` examples a call (a folder of many
    images does not go through the model at once)."""
    return np.concatenate([np.asarray(model(_rows(batch, start, start + size), training=False))
                           for start in range(0, count, size)])


def _rows(batch, start: int, stop: int):
    if isinstance(batch, dict):
        return {name: column[start:stop] for name, column in batch.items()}
    return batch[start:stop]


def _predicted_index(output: np.ndarray, task_name: str) -> int:
    if task_name == REGRESSION:
        return 0
    if task_name == BINARY:
        return int(output.reshape(-1)[0] >= 0.5)
    return int(np.argmax(output))


def _selector(task_name: str, index: int):
    """The explained value from a batch of outputs: a class's probability, or the value."""
    if task_name == BINARY:  # one sigmoid unit: the probability of class 1
        return (lambda outputs: outputs[:, 0]) if index == 1 else \
            (lambda outputs: 1.0 - outputs[:, 0])
    return lambda outputs: outputs[:, index]


def _predicted(output: np.ndarray, target_spec: TargetSpec, task_name: str) -> dict:
    if task_name == REGRESSION:
        return {"value": float(output.reshape(-1)[0])}
    index = _predicted_index(output, task_name)
    probability = float(output.reshape(-1)[0]) if task_name == BINARY else float(output[index])
    if task_name == BINARY and index == 0:
        probability = 1.0 - probability
    return {"class": target_spec.class_names[index], "probability": probability}


def _in_input_units(explanation: Explanation, example, prepared, model, spec: InputSpec):
    """The scores as a person reads them: per pixel, token, column or feature."""
    scores = explanation.attribution.scores
    if spec.kind == IMAGE:
        explanation.image = np.asarray(example)
        explanation.heat_map = scores.sum(axis=-1) if scores.ndim == 3 else scores
    elif spec.kind in (TOKENS, TEXT):
        per_token = scores.reshape(scores.shape[0], -1).sum(axis=-1)
        words = _token_words(model, spec, prepared.ids, example)
        explanation.parts = _merge_word_pieces(
            [(words[position], str(int(token)), float(per_token[position]))
             for position, token in enumerate(prepared.ids) if token != prepared.pad_id])
    elif spec.kind == TABLE:
        explanation.parts = _columns(scores, prepared.widths, example, spec)
    else:
        values = np.asarray(example).reshape(-1)
        explanation.parts = [(f"feature {position}", f"{values[position]:g}", float(score))
                             for position, score in enumerate(scores.reshape(-1))]


def _token_words(model, spec: InputSpec, ids: np.ndarray, example) -> list[str]:
    """Each id as a word: for text, the word as written where the model's own vectorizer reads
    each whitespace-separated word as one token (out-of-vocabulary words then show as
    written, not as [UNK]), else its vocabulary entry; for tokens, the id."""
    if spec.kind != TEXT:
        return [str(int(token)) for token in ids]
    tokenizer = find_tokenizer(model)
    if tokenizer is not None:  # a pretrained model: the preset's own sub-word pieces
        return [tokenizer.id_to_token(int(token)) for token in ids]
    vectorize = model.get_layer("vectorize")
    vocabulary = vectorize.get_vocabulary()
    words = [vocabulary[int(token)] for token in ids]
    written = str(np.asarray(example).item()).split()
    if written:
        each = np.asarray(vectorize(np.asarray(written, dtype=object)))
        counts = (each != 0).sum(axis=1)
        kept = [word for word, count in zip(written, counts, strict=True) if count == 1]
        real = [position for position, token in enumerate(ids) if token != 0]
        same = [int(row[0]) for row, count in zip(each, counts, strict=True) if count == 1]
        if counts.max(initial=0) <= 1 and same[:len(real)] == [int(ids[p]) for p in real]:
            for position, word in zip(real, kept, strict=False):
                words[position] = word
    return words


def _merge_word_pieces(parts: list[tuple[str, str, float]]) -> list[tuple[str, str, float]]:
    """WordPiece continuations ("play", "##ing") joined into their word ("playing"), the ids
    listed and the scores added; other tokens stay as they are."""
    merged: list[tuple[str, str, float]] = []
    for word, token, score in parts:
        if word.startswith("##") and len(word) > 2 and merged:
            before, tokens, total = merged.pop()
            merged.append((before + word[2:], f"{tokens} {token}", total + score))
        else:
            merged.append((word, token, score))
    return merged


def _columns(scores: np.ndarray, widths: list[int], example: dict, spec: InputSpec):
    """Split the joined features back into the data's columns: numeric columns first, one
    number each, then one part per categorical or text column (models/preprocessing.py)."""
    numeric = [column for column in spec.columns if column.type == NUMERIC]
    others = [column for column in spec.columns if column.type != NUMERIC]
    sums = [float(part.sum()) for part in np.split(scores, np.cumsum(widths)[:-1])]
    per_column = []
    if numeric:
        per_column += list(zip(numeric, scores[:len(numeric)].tolist(), strict=True))
        sums = sums[1:]
    per_column += list(zip(others, sums, strict=True))
    return [(column.name, _shown(example[input_name(column.name)]), float(score))
            for column, score in per_column]


def _shown(value) -> str:
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return f"{value:g}" if isinstance(value, float) else str(value)
