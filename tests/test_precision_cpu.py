"""Mixed precision on a CPU: `training.mixed_precision: auto` takes bfloat16 for a gpt only
where the cached bf16/float32 matmul probe says so, explicit settings never probe, and a gpt
trains under mixed_bfloat16 with float32 logits and loss, and loads back.

The probe's cache is a file under XDG_CACHE_HOME; writing it forces either outcome on any
machine, so nothing here depends on whether this CPU has bf16 matrix units."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest
from cli_runner import bigmodel
from test_lm import corpus_text
from test_performance import CPU_STRATEGY

from bigmodel_cli.runtime import precision
from bigmodel_cli.train import performance

# Enough of TensorFlow for precision.choose on a CPU strategy: no TPU strategy is one.
NO_TPU_TF = SimpleNamespace(distribute=SimpleNamespace(TPUStrategy=type("TPUStrategy", (), {})))

CONFIG = """\
name: lm_bf16
seed: 3
data: {{source: text_corpus, path: {path}, context_length: 16, batch_size: 8,
       cache_dir: {cache}, eval_batches: 4}}
model: {{family: gpt, size: tiny, embed_dim: {width}}}
optimizer: {{name: adamw, learning_rate: 0.003}}
training: {{epochs: 1, steps_per_epoch: 12, mixed_precision: {precision}, tensorboard: false}}
"""


def write_probe_cache(folder, float32: float, bfloat16: float) -> None:
    """The peak-FLOPs cache (train/performance.py) as if this CPU had been measured."""
    device = performance.device_description(None, "cpu")
    cache = folder / "bigmodel" / "peak_flops.json"
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({f"{device} float32": float32,
                                 f"{device} bfloat16": bfloat16}))


def lm_config(tmp_path, mixed_precision: str, width: int = precision.CPU_BFLOAT16_MIN_WIDTH):
    (tmp_path / "corpus.txt").write_text(corpus_text(400))
    config = tmp_path / "lm.yaml"
    config.write_text(CONFIG.format(path=tmp_path / "corpus.txt", cache=tmp_path / "tokens",
                                    precision=mixed_precision, width=width))
    return config


@pytest.fixture
def no_probe(monkeypatch, tmp_path):
    """An empty cache, and a probe that fails the test if it runs."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def probe(*args):
        raise AssertionError("the matmul probe ran")

    monkeypatch.setattr(performance, "measure_matmul_flops", probe)
    return tmp_path / "cache"


GPT_WIDE = SimpleNamespace(family="gpt", embed_dim=precision.CPU_BFLOAT16_MIN_WIDTH)


def test_explicit_settings_other_families_and_narrow_gpts_never_probe(no_probe):
    assert precision.choose(NO_TPU_TF, "off", CPU_STRATEGY, GPT_WIDE) == ("float32", None)
    assert precision.choose(NO_TPU_TF, "mixed_bfloat16", CPU_STRATEGY, GPT_WIDE) == (
        "mixed_bfloat16", None)
    for model in (SimpleNamespace(family="mlp"), SimpleNamespace(family="gpt", embed_dim=128)):
        policy, reason = precision.choose(NO_TPU_TF, "auto", CPU_STRATEGY, model)
        assert policy == "float32"
        assert reason == ("on a CPU, auto tries bfloat16 only for model.family gpt of "
                          "embed_dim >= 384: measured no faster below")
    assert not no_probe.exists()


def test_auto_measures_once_then_decides_from_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    speeds = {"float32": 1.0e11, "bfloat16": 4.2e11}
    measured = []
    monkeypatch.setattr(performance, "measure_matmul_flops",
                        lambda tf, device, size, dtype: measured.append(dtype) or speeds[dtype])
    policy, reason = precision.choose(NO_TPU_TF, "auto", CPU_STRATEGY, GPT_WIDE)
    assert (policy, sorted(measured)) == ("mixed_bfloat16", ["bfloat16", "float32"])
    assert reason == ("bf16 matmul measured 4.2x float32 on this CPU "
                      "(420 GFLOP/s against 100 GFLOP/s)")
    speeds.update(bfloat16=1.0)  # would now lose; the cache, not a new probe, decides
    assert precision.choose(NO_TPU_TF, "auto", CPU_STRATEGY, GPT_WIDE)[0] == "mixed_bfloat16"
    assert len(measured) == 2


def test_auto_keeps_float32_where_the_cached_probe_finds_bf16_slow(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    write_probe_cache(tmp_path, float32=1.44e11, bfloat16=4.3e10)  # AVX-512 without bf16
    result = bigmodel("config", "validate", lm_config(tmp_path, "auto"), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert ("float32 (auto: bf16 matmul measured 0.3x float32 on this CPU (43 GFLOP/s "
            "against 144 GFLOP/s); auto asks 2x)") in result.stdout


def test_auto_trains_a_gpt_in_bfloat16_with_float32_logits_where_the_probe_says(
        monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    write_probe_cache(tmp_path, float32=2.5e11, bfloat16=1.0e12)  # a CPU with AMX
    run_dir = tmp_path / "run"
    result = bigmodel("train", lm_config(tmp_path, "auto"), "--run-dir", run_dir)
    assert result.returncode == 0, result.stderr
    reason = "bf16 matmul measured 4x float32 on this CPU (1 TFLOP/s against 250 GFLOP/s)"
    assert f"mixed precision: auto chose mixed_bfloat16 ({reason})" in result.stdout
    results = json.loads((run_dir / "results.json").read_text())
    assert results["distribute"]["precision"] == "mixed_bfloat16"
    assert results["distribute"]["precision_reason"] == reason
    assert results["throughput"]["jit_compile"] is False  # XLA's CPU bf16 dots are slow
    losses = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert math.isfinite(losses[-1]["loss"]) and math.isfinite(losses[-1]["val_loss"])
    # The checkpoint loads back (its blocks keep their policy) with a bfloat16 body and
    # float32 logits, so the loss and the sampling softmax are float32.
    import keras
    import numpy as np

    import bigmodel_cli.models  # noqa: F401  (registers the layers for safe mode)

    model = keras.models.load_model(run_dir / results["checkpoint"])
    assert model.get_layer("block_0").compute_dtype == "bfloat16"
    assert model.get_layer("block_0").mlp_in.compute_dtype == "bfloat16"
    logits = model(np.ones((2, 16), np.int32))
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    assert np.isfinite(keras.ops.convert_to_numpy(logits)).all()

    # Probed again as slow (another machine, say): the run goes on as it trained so far.
    write_probe_cache(tmp_path, float32=1.44e11, bfloat16=4.3e10)
    extended = bigmodel("train", lm_config(tmp_path, "auto"), "--run-dir", run_dir, "--extend",
                        "--set", "training.epochs=2")
    assert extended.returncode == 0, extended.stderr
    assert ("mixed precision: auto chose mixed_bfloat16 (as this run trained so far; here auto "
            "would choose float32)") in extended.stdout
    results = json.loads((run_dir / "results.json").read_text())
    assert (results["epochs"], results["distribute"]["precision"]) == (2, "mixed_bfloat16")
