"""bigmodel explain on a language model: the next token's probability attributed to the prompt.

One tiny char-level gpt is trained briefly (seconds) on test_lm.py's small grammar; its
probabilities are checked against the saved model's own outputs, so the attribution's
forward pass is the model's, not an approximation of it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_runner import bigmodel
from test_lm import corpus_text

from bigmodel_cli.data import tokenizers
from bigmodel_cli.predict import explain_lm

CONFIG = """\
name: lm_explain
seed: 3
data: {{source: text_corpus, path: {path}, context_length: 16, batch_size: 16,
       cache_dir: {cache}}}
model: {{family: gpt, size: tiny}}
optimizer: {{name: adamw, learning_rate: 0.01}}
training: {{epochs: 1, steps_per_epoch: 30, tensorboard: false}}
"""
PROMPT = "the cat sat to the bi"  # longer than the context: its last 16 characters are read


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lm_explain")
    (folder / "corpus.txt").write_text(corpus_text(300))
    config = folder / "lm.yaml"
    config.write_text(CONFIG.format(path=folder / "corpus.txt", cache=folder / "cache"))
    result = bigmodel("train", config, "--run-dir", folder / "run")
    assert result.returncode == 0, result.stderr
    return folder / "run"


def _model_probabilities(run_dir, rows: list[np.ndarray]) -> np.ndarray:
    """What the saved model itself gives after each row of ids (padded to the context),
    padding excluded, as predict reads it."""
    from bigmodel_cli.predict.inference import load_model, load_run

    run, *_ = load_run(run_dir)
    padded = np.zeros((len(rows), 16), np.int32)
    for number, ids in enumerate(rows):
        padded[number, :len(ids)] = ids
    outputs = np.asarray(load_model(run).predict(padded, verbose=0), np.float64)
    logits = outputs[np.arange(len(rows)), [len(ids) - 1 for ids in rows]]
    logits[:, 0] = -np.inf
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    return probabilities / probabilities.sum(axis=1, keepdims=True)


def test_scores_add_up_and_the_last_token_counts(lm_run):
    from bigmodel_cli.predict.explain import explain_run

    (found,) = explain_run(lm_run, [PROMPT], steps=64)
    attribution = found.attribution
    # The parts are the characters read (the prompt's last 16), one score each.
    assert "".join(name for name, _, _ in found.parts) == PROMPT[-16:]
    scores = np.array([score for _, _, score in found.parts])
    assert abs(scores[-1]) > 1e-4  # the token right before the prediction matters
    difference = attribution.value - attribution.baseline_value
    assert abs(difference) > 0.01  # a real difference to explain, not two near-uniform guesses
    assert abs(scores.sum() - difference) == pytest.approx(attribution.gap, abs=1e-6)
    assert attribution.gap < 0.05 * abs(difference) and not attribution.gap_too_large
    # f(x) and f(baseline) are the saved model's own probabilities of the explained token.
    tokenizer = tokenizers.CharTokenizer(
        json.loads((lm_run / "spec.json").read_text())["input"]["tokenizer"]["characters"])
    ids = tokenizer.encode(PROMPT)[-16:]
    token = found.target
    index = tokenizer.tokens().index(token)
    assert found.predicted["class"] == token  # the default explains the predicted token
    at_input, at_baseline = _model_probabilities(lm_run, [ids, np.zeros_like(ids)])
    assert attribution.value == pytest.approx(at_input[index], abs=1e-5)
    assert attribution.baseline_value == pytest.approx(at_baseline[index], abs=1e-5)


def test_byte_tokens_are_joined_into_characters():
    tokenizer = tokenizers.ByteTokenizer()
    ids = tokenizer.encode("né!")  # é is two bytes
    parts = explain_lm._parts(tokenizer, "né!", ids, np.array([0.5, 0.25, 0.125, 1.0]))
    assert [(name, score) for name, _, score in parts] == [("n", 0.5), ("é", 0.375), ("!", 1.0)]
    assert parts[1][1] == f"{ids[1]} {ids[2]}"


def test_subword_tokens_are_parts_of_their_own_as_they_decode():
    from bigmodel_cli.data.bpe import ByteLevelBPE

    tokenizer = ByteLevelBPE.learn(lambda: ["the house and the horse\n"] * 50, 300)
    ids = tokenizer.encode("the house")
    assert len(ids) == 2  # learned: 'the', ' house'
    parts = explain_lm._parts(tokenizer, "the house", ids, np.array([0.5, 2.0]))
    assert parts == [("the", str(ids[0]), 0.5), (" house", str(ids[1]), 2.0)]
    assert "".join(name for name, _, _ in parts) == "the house"  # the separator is ""


def test_the_cli_writes_coloured_characters_html_and_json(lm_run, tmp_path):
    result = bigmodel("explain", lm_run, "the dog ran to t", "--target", "h", "--steps", "32",
                      "--output", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "explains h" in result.stdout and "completeness gap" in result.stdout
    assert "the dog ran to t" in result.stdout  # the characters, not ids, without spaces added
    written = json.loads((tmp_path / "explanations.json").read_text())
    assert [part["name"] for part in written[0]["parts"]] == list("the dog ran to t")
    assert written[0]["target"] == "h" and written[0]["completeness_gap"] is not None
    page = (tmp_path / "explanations.html").read_text()
    assert page.count("<span style=\"background: rgb(") == 16


@pytest.mark.parametrize("target", ["é", "ab"])
def test_a_target_that_is_not_one_token_is_one_line_exit_2(lm_run, target):
    result = bigmodel("explain", lm_run, "the cat", "--target", target)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"--target {target!r}" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
