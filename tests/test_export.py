"""bigmodel export: every input kind to every format, reloaded in its own runtime and compared
with the Keras model; the numeric split's assets are enough to feed ONNX by hand; refusals and
failures say one line and leave nothing behind."""

from __future__ import annotations

import json
import re
import string

import numpy as np
import pytest
from cli_runner import bigmodel
from trained_runs import trained_run

from bigmodel_cli.errors import RunError, UsageError
from bigmodel_cli.predict import export as exporter
from bigmodel_cli.predict import export_formats, inference

# vector, image, tokens, text, CSV, and a language model's logits at every position
KINDS = ["mlp", "cnn", "rnn", "transformer", "table", "gpt"]


def export_quietly(run_dir, output, formats=exporter.FORMATS, **options):
    lines = []
    summary = exporter.export(run_dir, list(formats), output, options.get("checkpoint", "best"),
                              options.get("quantize", "none"), False, False, lines.append)
    return summary, lines


def keras_outputs(run_dir, batch):
    run, *_ = inference.load_run(run_dir)
    return np.asarray(inference.load_model(run).predict_on_batch(batch))


@pytest.mark.parametrize("kind", KINDS)
def test_each_input_kind_exports_to_every_format_and_matches_keras(kind, tmp_path_factory,
                                                                   tmp_path):
    run_dir = trained_run(tmp_path_factory, kind)
    output = tmp_path / "export"
    summary, lines = export_quietly(run_dir, output)

    manifest = json.loads((output / "export.json").read_text())
    assert manifest["formats"] == ["saved_model", "onnx", "litert"] == summary["formats"]
    assert len(manifest["config_sha256"]) == 64 and manifest["versions"]["tensorflow"]
    for artifact in manifest["artifacts"].values():
        assert (output / artifact["path"]).exists()
        assert artifact["parity"]["max_abs_diff"] <= 1e-4
        assert artifact["parity"]["top1_agreement"] == 1.0
        assert artifact["parity"]["examples"] > 0
    assert [line.split()[0] for line in lines] == ["saved_model", "onnx", "litert"]
    assert all("max |diff|" in line for line in lines)
    assert not [path.name for path in tmp_path.iterdir() if path.name != "export"]  # no temps

    # The export ran each artifact from its files; again here, ONNX and LiteRT from scratch.
    sample = exporter._sample(*inference.load_run(run_dir)[:2], inference)
    expected = keras_outputs(run_dir, sample)
    raw = sample if isinstance(sample, dict) else {"inputs": sample}
    if kind in ("transformer", "table"):  # strings: ONNX and LiteRT take the numeric part
        assert manifest["artifacts"]["onnx"]["preprocessing"].startswith("outside")
        signature = json.loads((output / "signature.json").read_text())
        assert signature["preprocessing"] and all(
            (output / entry["vocabulary"]).exists() for entry in signature["preprocessing"])
    else:
        assert manifest["artifacts"]["onnx"]["inputs"][0]["name"] == "inputs"
        onnx = export_formats.run_onnx(output / "model.onnx")
        litert = export_formats.run_litert(output / "model.tflite")
        np.testing.assert_allclose(onnx(raw), expected, atol=1e-4)
        np.testing.assert_allclose(litert(raw), expected, atol=1e-4)


def test_text_assets_are_enough_to_feed_the_onnx_file_by_hand(tmp_path_factory, tmp_path):
    """A client with only signature.json and the vocabulary file gets the Keras answer."""
    run_dir = trained_run(tmp_path_factory, "transformer")
    output = tmp_path / "export"
    export_quietly(run_dir, output, formats=["onnx"])
    signature = json.loads((output / "signature.json").read_text())
    (step,) = signature["preprocessing"]
    config = step["layer_config"]
    assert (config["standardize"], config["split"]) == ("lower_and_strip_punctuation",
                                                        "whitespace")
    words = (output / step["vocabulary"]).read_text().splitlines()
    index = {word: position for position, word in enumerate(words)}
    vocabulary_words = [word for word in words[2:12]]
    texts = [" ".join(vocabulary_words[:5]).upper() + "!", "unheard-of words, " + words[3]]

    def ids(text):  # lower_and_strip_punctuation + whitespace, [UNK] = 1, 0 pads
        clean = text.lower().translate(str.maketrans("", "", string.punctuation))
        found = [index.get(word, 1) for word in clean.split()]
        length = config["output_sequence_length"]
        return (found + [0] * length)[:length]

    onnx = export_formats.run_onnx(output / "model.onnx")
    by_hand = onnx({step["input"]: np.array([ids(text) for text in texts], dtype=np.int64)})
    expected = keras_outputs(run_dir, np.array(texts, dtype=object))
    np.testing.assert_allclose(by_hand, expected, atol=1e-5)


def test_exact_gelu_to_onnx_is_refused_in_one_line_and_leaves_nothing(tmp_path_factory,
                                                                       tmp_path):
    run_dir = trained_run(tmp_path_factory, "gelu")
    output = tmp_path / "export"
    with pytest.raises(UsageError) as refused:
        export_quietly(run_dir, output, formats=["saved_model", "onnx"])
    assert re.fullmatch(r"cannot export to ONNX: the model uses TensorFlow op Erfc: exact "
                        r"GELU .*PR 2463.*", str(refused.value))
    assert list(tmp_path.iterdir()) == []  # not even the SavedModel written before it
    summary, _ = export_quietly(run_dir, output, formats=["litert"])  # LiteRT handles it
    assert summary["formats"] == ["litert"]


def test_cli_export_prints_parity_and_replaces_an_earlier_export(tmp_path_factory, tmp_path):
    run_dir = trained_run(tmp_path_factory, "mlp")
    output = tmp_path / "export"
    output.mkdir()
    (output / "export.json").write_text("{}")  # an earlier export
    (output / "model.onnx").write_text("old")
    result = bigmodel("export", run_dir, "--format", "litert", "--quantize", "float16",
                      "--output", output)
    assert result.returncode == 0, result.stderr
    assert re.match(r"litert +model\.tflite +max \|diff\| \S+ \(tolerance 0\.01\), top-1 "
                    r"agreement \d+\.\d% on \d+ examples", result.stdout), result.stdout
    assert sorted(path.name for path in output.iterdir()) == [
        "assets", "export.json", "model.tflite", "signature.json", "spec.json"]
    assert json.loads((output / "export.json").read_text())["artifacts"]["litert"][
        "quantize"] == "float16"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["export"]


def test_a_parity_failure_fails_the_export_and_leaves_nothing(tmp_path_factory, tmp_path,
                                                             monkeypatch):
    run_dir = trained_run(tmp_path_factory, "mlp")
    real = export_formats.run_onnx
    monkeypatch.setattr(export_formats, "run_onnx",
                        lambda path: (lambda batch: real(path)(batch) + 1e-3))
    with pytest.raises(RunError, match=r"the onnx export does not match the Keras model: max "
                                       r"\|diff\| 0\.001 > tolerance 0\.0001 on \d+ examples"):
        export_quietly(run_dir, tmp_path / "export")
    assert list(tmp_path.iterdir()) == []


def test_export_refuses_a_folder_that_is_not_an_export(tmp_path_factory, tmp_path):
    run_dir = trained_run(tmp_path_factory, "mlp")
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(UsageError, match="is not a bigmodel export"):
        export_quietly(run_dir, tmp_path)
    with pytest.raises(UsageError, match="--quantize dynamic applies to LiteRT only"):
        export_quietly(run_dir, tmp_path / "new", formats=["onnx"], quantize="dynamic")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["mine.txt"]
