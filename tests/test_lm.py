"""Language models: the text corpus and its token windows, the gpt family's causal masking and
key/value cache, training that learns, exact resume after kill -9, evaluate and generate."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_runner import bigmodel
from test_resume import backup_steps, final_weights, start_training, wait_for

from bigmodel_cli.config.schema_data import DataConfig
from bigmodel_cli.data import text_corpus, tokenizers
from bigmodel_cli.errors import DataError

WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "to", "red", "big", "house"]


def corpus_text(sentences: int = 1500, seed: int = 0) -> str:
    """Sentences of a small grammar: learnable structure, but not one repeated string."""
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(sentences):
        subject, verb, place = rng.choice(WORDS[:4]), rng.choice(WORDS[4:8]), rng.choice(WORDS[8:])
        lines.append(f"{subject} {verb} to the {place}.")
    return "\n".join(lines) + "\n"


def corpus_with_tail(tmp_path, tail: str):
    """(a grammar corpus file ending in `tail`, the text before the tail): the tail lies
    wholly in the last 10% (validation), for proving a tokenizer learns from training only."""
    path = tmp_path / "corpus.txt"
    text = corpus_text(600)
    path.write_text(text + tail)
    assert len(tail) < 0.1 * len(text + tail)
    return path, text


def data_config(tmp_path, path, **settings):
    return DataConfig(**{"source": "text_corpus", "path": str(path), "context_length": 16,
                         "batch_size": 4, "cache_dir": str(tmp_path / "cache"), **settings})


# --- tokenizers and the corpus -----------------------------------------------------------------

@pytest.mark.parametrize("text", ["hello, world\n", "naïve café — ünïcode ✓", ""])
def test_tokenizers_round_trip_text(text):
    char = tokenizers.CharTokenizer.learn([set(text)])
    for tokenizer in (char, tokenizers.ByteTokenizer(),
                      tokenizers.from_dict(json.loads(json.dumps(char.to_dict())))):
        ids = tokenizer.encode(text)
        assert tokenizer.decode(ids) == text
        assert (ids > 0).all(), "id 0 is padding, never a token"
        assert ids.max(initial=0) < tokenizer.vocab_size
        decode = tokenizer.decoder()  # one id at a time, as generate streams them
        assert "".join(decode(int(token)) for token in ids) == text
    known = tokenizers.CharTokenizer.learn([set("hello")])
    assert known.decode(known.encode("hello?")) == "hello\ufffd"  # unseen: [UNK], id 1


def test_invalid_utf8_is_one_line_naming_the_file_and_byte_offset(tmp_path):
    path = tmp_path / "broken.txt"
    path.write_bytes(b"good text " * 100 + b"\xff\xfe" + b" more")
    with pytest.raises(DataError) as caught:
        text_corpus.load(data_config(tmp_path, path), 0)
    message = str(caught.value)
    assert message == (f"{path}: invalid UTF-8 at byte 1,000; convert the file to UTF-8, or set "
                       "data.tokenizer: byte to read any bytes")
    # The byte tokenizer reads any bytes: the same file is a corpus of 1,007 tokens.
    bundle = text_corpus.load(data_config(tmp_path, path, tokenizer="byte"), 0)
    windows = bundle.examples("train")
    assert windows.token_count + bundle.examples("validation").token_count == 1007
    assert bundle.input_spec.vocab_size == 257


def test_the_corpus_is_tokenized_once_and_cut_from_the_end(tmp_path):
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_text("abcdefghij" * 30)
    (folder / "b.txt").write_text("klmnopqrst" * 30)
    config = data_config(tmp_path, folder, validation_split=0.1, test_split=0.1)
    bundle = text_corpus.load(config, 0)
    sizes = {name: bundle.examples(name).token_count for name in ("train", "validation", "test")}
    assert sizes == {"train": 480, "validation": 60, "test": 60}
    tokenizer = tokenizers.from_dict(bundle.input_spec.tokenizer)
    test = bundle.examples("test")
    assert tokenizer.decode(test.tokens[test.start:test.end]) == "klmnopqrst" * 6  # the end
    caches = list((tmp_path / "cache").iterdir())
    stamp = (caches[0] / "corpus.bin").stat().st_mtime_ns
    text_corpus.load(config, 0)  # read back: no second tokenization
    assert list((tmp_path / "cache").iterdir()) == caches
    assert (caches[0] / "corpus.bin").stat().st_mtime_ns == stamp


def test_token_windows_are_exactly_the_ones_asked_for(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes(bytes(range(256)) * 4)  # byte b is token b + 1: windows are easy to check
    bundle = text_corpus.load(data_config(tmp_path, path, tokenizer="byte",
                                          validation_split=0.25), seed=3)
    train, validation = bundle.examples("train"), bundle.examples("validation")
    tokens = np.asarray(np.memmap(train.path, dtype=train.dtype, mode="r"), dtype=np.int32)
    # Evaluation: the split's disjoint windows in order, inputs and labels shifted by one.
    inputs, labels = map(np.concatenate, zip(*[(x.numpy(), y.numpy())
                                               for x, y in bundle.validation], strict=True))
    starts = validation.start + 16 * np.arange(len(validation))
    np.testing.assert_array_equal(inputs, tokens[starts[:, None] + np.arange(16)])
    np.testing.assert_array_equal(labels, tokens[starts[:, None] + np.arange(1, 17)])
    assert len(validation) == (256 - 1) // 16
    # Training: step s reads the windows at the offsets seeded by (seed, s), inside train only.
    stream = iter(bundle.train_stream(0))
    for step in range(5):
        x, y = next(stream)
        offsets = train.training_offsets(3, step)
        assert offsets.max() <= train.token_count - 17
        np.testing.assert_array_equal(x.numpy(), tokens[offsets[:, None] + np.arange(16)])
        np.testing.assert_array_equal(y.numpy(), tokens[offsets[:, None] + np.arange(1, 17)])
    # Entered at step 3 (a resume): the same batches an uninterrupted stream reads there.
    resumed = next(iter(bundle.train_stream(3)))[0].numpy()
    again = list(bundle.train_stream(0).take(4))[3][0].numpy()
    np.testing.assert_array_equal(resumed, again)


# --- the model -----------------------------------------------------------------------------------

def tiny_model(**settings):
    """(a 2-layer gpt of width 32 over 12 characters, built with seed 5, its tokenizer);
    `settings` override GptConfig fields (tests/test_rotary.py: positions, num_layers)."""
    from bigmodel_cli import models
    from bigmodel_cli.config.schema import GptConfig
    from bigmodel_cli.data.spec import InputSpec, TargetSpec

    tokenizer = tokenizers.CharTokenizer("abcdefghijklmnopqrstuvwxyz .")
    spec = InputSpec(kind="tokens", shape=(12,), dtype="int32", vocab_size=tokenizer.vocab_size,
                     sequence_length=12, tokenizer=tokenizer.to_dict())
    target = TargetSpec("language_modeling", tokenizer.tokens())
    # GPT-2's std, not the width-scaled default: test_rotary.py's sharpened() scales these
    # weights to a known sharpness.
    config = GptConfig(**{"family": "gpt", "size": "tiny", "num_layers": 2, "embed_dim": 32,
                          "init_std": 0.02, **settings})
    import keras

    keras.utils.set_random_seed(5)
    return models.build_model(spec, target, config), tokenizer


@pytest.fixture(scope="module")
def tiny_gpt():
    return tiny_model()


def test_changing_a_token_changes_no_output_before_it(tiny_gpt):
    assert_causal(*tiny_gpt)


def assert_causal(model, tokenizer):
    ids = np.random.default_rng(0).integers(2, tokenizer.vocab_size, (1, 12)).astype(np.int32)
    before = model.predict(ids, verbose=0)
    for position in (3, 7, 11):
        changed = ids.copy()
        changed[0, position] = 2 + (changed[0, position] - 1) % (tokenizer.vocab_size - 2)
        after = model.predict(changed, verbose=0)
        np.testing.assert_allclose(after[0, :position], before[0, :position], atol=1e-6)
        assert not np.allclose(after[0, position:], before[0, position:], atol=1e-4)


def test_cached_greedy_generation_equals_full_recomputation(tiny_gpt):
    model, tokenizer = tiny_gpt
    cached, full = greedy_cached_and_full(model, [int(i) for i in tokenizer.encode("the cat")],
                                          5, 12)
    assert cached == full


def greedy_cached_and_full(model, prompt: list[int], count: int, context: int, decoder=None):
    """`count` greedy tokens after `prompt` from generate's key/value cache (`decoder`, or a
    new generate.Decoder), and the same from the whole window through the model for every
    token; past a full context both start again from the last half of the text."""
    from bigmodel_cli.predict import generate

    decoder = decoder or generate.Decoder(model, context)
    cached = list(decoder.tokens(prompt, count, generate.Sampling(0.0), np.random.default_rng(0)))
    text = list(prompt)
    window = list(text) if len(text) <= context else text[-(context // 2):]
    for _ in range(count):
        padded = np.zeros((1, context), np.int32)
        padded[0, :len(window)] = window
        logits = np.array(model(padded, training=False)[0, len(window) - 1])
        logits[0] = -np.inf
        text.append(int(np.argmax(logits)))
        window = window + text[-1:] if len(window) < context else text[-(context // 2):]
    return cached, text[len(prompt):]


def test_the_init_std_follows_the_width_and_old_blocks_keep_their_gelu(tiny_gpt, tmp_path):
    from bigmodel_cli.config.schema import GptConfig
    from bigmodel_cli.models.gpt_layers import CausalBlock

    def std(**fields):
        return GptConfig(family="gpt", **fields).init_std

    assert (std(size="small"), std(size="base"), std(size="gpt2")) == (0.049, 0.0283, 0.02)
    assert std(size="small", init_std=0.01) == 0.01
    # New blocks use the tanh GELU (ONNX can convert it); a block saved before the setting
    # existed comes back with the exact GELU and GPT-2's std it was built with.
    assert {block.gelu for block in gpt_blocks(tiny_gpt[0])} == {"tanh"}
    old = CausalBlock.from_config({"name": "block_0", "embed_dim": 8, "num_heads": 2,
                                   "ff_dim": 16, "dropout": 0.0, "num_layers": 1})
    assert (old.gelu, old.init_std, old.rotary) == ("exact", 0.02, False)
    # A run's config.yaml from before model.gelu resumes with the GELU it was built with.
    from bigmodel_cli.config import loading

    saved = tmp_path / "config.yaml"
    saved.write_text(f"name: old\ndata: {{source: text_corpus, path: {tmp_path / 'c.txt'}}}\n"
                     "model: {family: gpt, size: tiny}\n")
    assert loading.load_saved(saved).model.gelu == "exact"
    assert GptConfig(family="gpt").gelu == "tanh"  # what a new config builds
    wide = CausalBlock(8, 2, 16, init_std=1.0)  # large weights: the GELUs' gap shows
    x = np.random.default_rng(0).normal(size=(1, 3, 8)).astype(np.float32)
    exact = np.asarray(wide(x))
    wide.gelu = "tanh"
    assert not np.allclose(np.asarray(wide(x)), exact, atol=1e-5)  # the setting is used


def gpt_blocks(model):
    from bigmodel_cli.models import gpt

    return gpt.Parts.of(model).blocks


def test_the_flops_count_is_six_n_plus_attention(tiny_gpt):
    assert_six_n_plus_attention(tiny_gpt[0], layers=2, context=12, width=32)


def assert_six_n_plus_attention(model, layers: int, context: int, width: int):
    from bigmodel_cli.train import flops

    # Weights used in matrix products: everything but positions, norms and biases.
    matrices = sum(int(np.prod(w.shape)) for w in model.weights
                   if len(w.shape) == 2 and "positions" not in w.path)
    per_token = flops.estimate(model).training_flops / context
    assert per_token == 6 * matrices + 12 * layers * context * width


# --- training, resume, evaluate, generate (the CLI) ----------------------------------------------

CONFIG = """\
name: lm
seed: 3
data: {{source: text_corpus, path: {path}, context_length: 32, batch_size: 16,
       cache_dir: {cache}}}
model: {{family: gpt, size: tiny}}
optimizer: {{name: adamw, learning_rate: 0.003, weight_decay: 0.1, global_clipnorm: 1.0,
            schedule: {{name: cosine, warmup_steps: 20, alpha: 0.1}}}}
training: {{epochs: 2, steps_per_epoch: 60, deterministic: true, tensorboard: false}}
checkpoint: {{backup_every_steps: 20}}
"""
LEARNED_LOSS = 1.0  # nats per character; the characters alone (unigram) give ~2.4


@pytest.fixture(scope="module")
def lm_config(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lm")
    (folder / "corpus.txt").write_text(corpus_text())
    config = folder / "lm.yaml"
    config.write_text(CONFIG.format(path=folder / "corpus.txt", cache=folder / "cache"))
    return config


@pytest.fixture(scope="module")
def trained(lm_config, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("trained") / "run"
    result = bigmodel("train", lm_config, "--run-dir", run_dir)
    assert result.returncode == 0, result.stderr
    return run_dir, result.stdout


def test_a_char_model_learns_the_corpus(trained):
    run_dir, output = trained
    epochs = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert epochs[-1]["val_loss"] < LEARNED_LOSS < epochs[0]["loss"]
    assert "tok/s" in output
    results = json.loads((run_dir / "results.json").read_text())
    assert results["throughput"]["tokens_per_second"] > 0


@pytest.mark.slow  # two more training processes: ~35 s on a quiet machine, ~80 s under load
def test_kill_9_resumes_to_bit_identical_weights(lm_config, trained, tmp_path):
    run_dir = tmp_path / "run"
    process = start_training(lm_config, run_dir)
    wait_for(lambda: any(step >= 40 for step in backup_steps(run_dir)), process)
    process.kill()
    process.wait()
    result = bigmodel("train", lm_config, "--run-dir", run_dir)
    assert result.returncode == 0, result.stderr
    assert "resuming from step" in result.stdout
    for expected, actual in zip(final_weights(trained[0]), final_weights(run_dir), strict=True):
        np.testing.assert_array_equal(actual, expected)


def test_evaluate_reports_perplexity_and_bits_per_character(trained):
    result = bigmodel("evaluate", trained[0], "--split", "validation", "--json")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["loss"] < LEARNED_LOSS
    assert metrics["perplexity"] == pytest.approx(np.exp(metrics["loss"]), rel=1e-6)
    assert metrics["bits_per_character"] == pytest.approx(metrics["loss"] / np.log(2), rel=1e-6)
    logged = json.loads((trained[0] / "metrics.jsonl").read_text().splitlines()[-1])
    assert metrics["loss"] == pytest.approx(logged["val_loss"], rel=1e-3)


def test_generate_streams_text_and_a_seed_gives_the_same_text(trained):
    from bigmodel_cli.predict import generate

    decoder, tokenizer = generate.load(trained[0])
    sampling = generate.Sampling(temperature=1.0, top_k=5, top_p=0.9)
    first = generate.generate(decoder, tokenizer, "the cat", 80, sampling, seed=11)
    again = generate.generate(decoder, tokenizer, "the cat", 80, sampling, seed=11)
    other = generate.generate(decoder, tokenizer, "the cat", 80, sampling, seed=12)
    assert first.text == again.text != other.text
    assert first.tokens == 80 and first.tokens_per_second > 0
    result = bigmodel("generate", trained[0], "--prompt", "the dog", "--max-tokens", "40",
                      "--seed", "11", "--temperature", "0")
    assert result.returncode == 0, result.stderr
    greedy = generate.generate(decoder, tokenizer, "the dog", 40, generate.Sampling(0.0), 11)
    assert result.stdout == "the dog" + greedy.text + "\n"
    assert "40 tokens" in result.stderr and "tokens/s" in result.stderr
    # The model learned the grammar: greedy text is made of the corpus's words (the last one
    # may be cut short by --max-tokens).
    assert set(greedy.text.replace(".", " ").split()[:-1]) <= set(WORDS)


def test_predict_gives_the_likeliest_next_characters(trained):
    from bigmodel_cli.predict import inference

    prompts = ["on dog to the house", "sat mat to the bi"]  # subject verb to the place.
    rows = inference.predict(trained[0], prompts, top_k=3)
    assert [row["input"] for row in rows] == prompts
    assert rows[0]["top"][0]["class"] == "."  # the sentence is complete
    assert rows[1]["top"][0]["class"] == "g"  # "big" is the only place starting "bi"
    assert all(0 < guess["probability"] <= 1 for row in rows for guess in row["top"])
