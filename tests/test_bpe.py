"""Byte-level BPE tokenizers of a text corpus: `bpe` learned from the training split only, any
text round-trips, vocab_size and tokenizer_preset are checked in one line, a tiny gpt trains
with it and `generate`/`predict` decode text from the run's own tokenizer.json; `preset`
reads a GPT-2-style keras-hub preset (and a Hugging Face tokenizer.json) exactly as their
libraries tokenize, and the token cache follows the tokenizer's contents."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from cli_runner import bigmodel
from test_lm import WORDS, corpus_text, corpus_with_tail, data_config

from bigmodel_cli.data import bpe, preset_tokenizer, text_corpus, tokenizers
from bigmodel_cli.data.bpe import ByteLevelBPE, byte_of_character
from bigmodel_cli.errors import ConfigError

ODD_TEXTS = ["naïve café — ünïcode ✓ 日本語 🙂\n", "tabs\tand  double  spaces \n\n\nend ",
             "x+y=(12345); it's \"quoted\"\r\n", " leading space", "", "\n"]


def split_tokens(bundle, name):
    windows = bundle.examples(name)
    return windows.tokens[windows.start:windows.end]


# --- bpe: learned ----------------------------------------------------------------------------

@pytest.mark.parametrize("text", ODD_TEXTS)
def test_any_text_round_trips_exactly(text, tmp_path):
    learned = ByteLevelBPE.learn(lambda: iter([corpus_text(200)]), 300)
    # As a run keeps it: the definition in tokenizer.json, spec.json naming it and its sha256.
    named = tokenizers.save_beside(learned.to_dict(), tmp_path)
    assert "definition" not in named and (tmp_path / "tokenizer.json").exists()
    again = tokenizers.from_dict(tokenizers.load_beside(json.loads(json.dumps(named)), tmp_path))
    ids = again.encode(text)
    assert again.decode(ids) == text
    assert (ids > 0).all() and ids.max(initial=1) < again.vocab_size  # 0 is padding
    decode = again.decoder()  # one id at a time, as generate streams them
    assert "".join(decode(int(token)) for token in ids) == text
    assert len(again.encode("the house")) == 2  # learned: 'the', ' house'


def test_the_bpe_vocabulary_is_learned_from_the_training_split_only(tmp_path):
    tail = "zebra quagga жук " * 60 + "\n"  # only in the last ~10%: validation
    path, text = corpus_with_tail(tmp_path, tail)
    bundle = text_corpus.load(data_config(tmp_path, path, tokenizer="bpe", vocab_size=400), 0)
    tokenizer = tokenizers.from_dict(bundle.input_spec.tokenizer)
    tokens = tokenizer.tokens()
    assert {" house", " dog", " the", "cat"} <= set(tokens)  # line-initial: "cat"
    assert not [token for token in tokens if "eb" in token or "ag" in token or "ж" in token]
    assert len(tokenizer.encode("zebra")) == 5  # a byte per letter: nothing learned from it
    assert len(tokenizer.encode("ж")) == 2  # its two UTF-8 bytes, each a token of its own
    # The training split is exactly the text learned from, the validation split the tail.
    learned = tokenizer.decode(split_tokens(bundle, "train"))
    assert text.startswith(learned) and 0.89 < len(learned) / len(text + tail) < 0.91
    assert tokenizer.decode(split_tokens(bundle, "validation")).endswith(tail)
    # The token cache is keyed by vocab_size; the definition lies beside tokens.json.
    text_corpus.load(data_config(tmp_path, path, tokenizer="bpe", vocab_size=300), 0)
    text_corpus.load(data_config(tmp_path, path, tokenizer="bpe", vocab_size=400), 0)
    folders = list((tmp_path / "cache").iterdir())
    assert len(folders) == 2 and all((folder / "tokenizer.json").exists() for folder in folders)


@pytest.mark.parametrize(("setting", "message"), [
    ("tokenizer: bpe, vocab_size: 100",
     "data.vocab_size 100 is out of range; use 257 to 1048576"),
    ("tokenizer: preset, tokenizer_preset: PRESET, vocab_size: 500",
     "data.vocab_size is for data.tokenizer: wordpiece or bpe, not preset"),
    ("tokenizer: preset", "data.tokenizer: preset needs data.tokenizer_preset (a folder)"),
    ("tokenizer: bpe, tokenizer_preset: PRESET",
     "data.tokenizer_preset is for data.tokenizer: preset; remove it"),
    ("tokenizer: preset, tokenizer_preset: MISSING", "MISSING does not exist; give a keras-hub "
     "preset folder"),
    ("tokenizer: preset, tokenizer_preset: EMPTY", "EMPTY has no tokenizer.json; give"),
])
def test_settings_are_checked_in_one_line(tmp_path, setting, message):
    (tmp_path / "EMPTY").mkdir()
    path = tmp_path / "lm.yaml"
    setting = setting.replace("PRESET", str(tmp_path / "EMPTY"))
    path.write_text(f"name: lm\ndata: {{source: text_corpus, path: x.txt, {setting}}}\n"
                    "model: {family: gpt, size: tiny}\n")
    result = bigmodel("config", "validate", path, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


CONFIG = """\
name: lm
seed: 3
data: {{source: text_corpus, path: {path}, {tokenizer}, context_length: 16, batch_size: 16,
       cache_dir: {cache}}}
model: {{family: gpt, size: tiny}}
optimizer: {{name: adamw, learning_rate: 0.003}}
training: {{epochs: {epochs}, steps_per_epoch: 20, tensorboard: false, jit_compile: false}}
"""


def train(tmp_path, tokenizer: str, epochs: int = 2):
    """(run directory, val_loss per epoch) of a tiny gpt on the grammar's corpus, trained in
    this process (what `bigmodel train` runs; TensorFlow is loaded once for every test)."""
    from rich.console import Console

    from bigmodel_cli import config as config_module
    from bigmodel_cli.train import runner

    (tmp_path / "corpus.txt").write_text(corpus_text(800))
    config = tmp_path / "lm.yaml"
    config.write_text(CONFIG.format(path=tmp_path / "corpus.txt", cache=tmp_path / "cache",
                                    tokenizer=tokenizer, epochs=epochs))
    run_dir = tmp_path / "run"
    runner.train(config_module.load(config), run_dir, Console(file=io.StringIO()))
    epochs = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return run_dir, [epoch["val_loss"] for epoch in epochs]


def test_a_tiny_gpt_trains_with_bpe_and_generate_and_predict_decode_text(tmp_path):
    run_dir, losses = train(tmp_path, "tokenizer: bpe, vocab_size: 300")
    spec = json.loads((run_dir / "spec.json").read_text())
    assert set(spec["input"]["tokenizer"]) == {"kind", "file", "sha256"}
    assert (run_dir / "tokenizer.json").exists()  # the definition, beside spec.json
    vocabulary = spec["input"]["vocab_size"]
    assert all(math.isfinite(loss) for loss in losses)
    assert losses[-1] < losses[0] < math.log(vocabulary)  # untrained: ~log(vocabulary)
    assert losses[-1] < 1.5, losses  # word-level grammar: a few choices per word
    result = bigmodel("generate", run_dir, "--prompt", "the dog", "--max-tokens", "16",
                      "--temperature", "0", "--seed", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("the dog ")  # its next word, with its own space
    words = result.stdout.replace(".", " ").split()
    assert len(words) >= 6 and set(words[:-1]) <= set(WORDS), result.stdout
    assert "\n" in result.stdout.strip()  # sentences end with a newline, decoded
    from bigmodel_cli.predict import inference  # the rows `bigmodel predict` prints

    rows = inference.predict(run_dir, ["the dog ran to the"], top_k=3)
    guesses = [guess["class"] for guess in rows[0]["top"]]
    assert set(guesses) <= {" " + word for word in WORDS[8:]}, guesses  # a place, with its space
    # A tokenizer.json that is not the one trained with is refused in one line.
    (run_dir / "tokenizer.json").write_text("{}")
    result = bigmodel("generate", run_dir, "--prompt", "the", "--max-tokens", "2")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "tokenizer.json: not the tokenizer the model was trained with" in result.stderr


# --- preset: GPT-2's kind, from a folder ----------------------------------------------------

MERGES = ["Ġ t", "h e", "Ġt he", "Ġ c", "a t", "Ġc at", "Ġ h", "o u", "Ġh ou", "s e", "Ġhou se"]


def gpt2_style(merges):
    """A tiny GPT-2 vocabulary: the 256 byte characters, one token per merge, end of text."""
    vocabulary = {character: index for index, character in enumerate(byte_of_character())}
    for merge in merges:
        vocabulary.setdefault(merge.replace(" ", ""), len(vocabulary))
    vocabulary["<|endoftext|>"] = len(vocabulary)
    return vocabulary


@pytest.fixture(scope="module")
def keras_hub_preset(tmp_path_factory):
    """(folder, keras-hub tokenizer): a GPT2Tokenizer saved alone with save_to_preset."""
    import keras_hub

    layer = keras_hub.tokenizers.GPT2Tokenizer(vocabulary=gpt2_style(MERGES), merges=MERGES)
    folder = tmp_path_factory.mktemp("gpt2_tokenizer")
    layer.save_to_preset(str(folder))
    return folder, layer


def test_a_keras_hub_preset_tokenizes_as_keras_hub_does(keras_hub_preset, tmp_path,
                                                       monkeypatch):
    from keras_hub.src.tokenizers.byte_pair_tokenizer import bytes_to_unicode

    folder, layer = keras_hub_preset
    byte_values, characters = bytes_to_unicode()  # the same alphabet as keras-hub's
    assert byte_of_character() == {c: b[0] for b, c in zip(byte_values, characters, strict=True)}
    tokenizer = preset_tokenizer.load(str(folder))
    assert tokenizer.vocab_size == layer.vocabulary_size() + 1  # ids shifted: 0 pads
    for text in ["the cat and the house<|endoftext|>", *ODD_TEXTS]:
        ids = tokenizer.encode(text)
        assert list(ids - 1) == [int(i) for i in layer.tokenize(text)], text
        assert tokenizer.decode(ids) == layer.detokenize(ids - 1) == text
    assert tokenizer.tokens()[1 + layer.token_to_id("Ġhouse")] == " house"
    # Long text is encoded in pieces cut between words: the same ids as in one piece.
    long = "".join(ODD_TEXTS) * 3 + corpus_text(20) + "a.\nb x.  y 12 345\n\n z"
    monkeypatch.setattr(bpe, "PIECE_CHARACTERS", 7)
    assert len(list(bpe.between_words(long))) > 30
    assert list(tokenizer.encode(long) - 1) == [int(i) for i in layer.tokenize(long)]
    assert list(tokenizer.encode("<|endoftext|>")) == [1 + layer.end_token_id]
    # A whole model preset, as keras-hub ships gpt2_base_en (config.json: a backbone), is
    # read through Tokenizer.from_preset: the same tokenizer.
    import keras_hub

    whole = tmp_path / "gpt2_model"
    keras_hub.models.GPT2Backbone(vocabulary_size=layer.vocabulary_size(), num_layers=1,
                                  num_heads=1, hidden_dim=4, intermediate_dim=8,
                                  max_sequence_length=8).save_to_preset(str(whole))
    layer.save_to_preset(str(whole))
    assert (whole / "config.json").exists()
    assert preset_tokenizer.load(str(whole)).identity == tokenizer.identity
    # A preset that is not byte-level BPE is one line naming the folder.
    (tmp_path / "tokenizer.json").write_text(json.dumps({"model": {"type": "WordPiece"}}))
    with pytest.raises(ConfigError, match="is a Hugging Face WordPiece tokenizer; only "
                                          "byte-level BPE"):
        preset_tokenizer.load(str(tmp_path))


def test_a_hugging_face_tokenizer_json_is_read_as_its_library_reads_it(tmp_path, monkeypatch):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    merges = [tuple(merge.split()) for merge in MERGES]
    library = Tokenizer(models.BPE(vocab=gpt2_style(MERGES), merges=merges))
    library.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    library.decoder = decoders.ByteLevel()
    library.save(str(tmp_path / "tokenizer.json"))
    tokenizer = preset_tokenizer.load(str(tmp_path))
    monkeypatch.setattr(bpe, "PIECE_CHARACTERS", 7)  # in pieces: as the library does whole
    for text in ["the cat, the house", *ODD_TEXTS, "".join(ODD_TEXTS) * 3]:
        ids = tokenizer.encode(text)
        assert list(ids - 1) == library.encode(text).ids and tokenizer.decode(ids) == text
    library.pre_tokenizer = pre_tokenizers.Whitespace()  # drops spaces: not byte-level
    library.save(str(tmp_path / "tokenizer.json"))
    with pytest.raises(ConfigError, match="not a byte-level BPE tokenizer"):
        preset_tokenizer.load(str(tmp_path))
    # A space added before each piece would give ids the whole text does not have.
    library.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    library.save(str(tmp_path / "tokenizer.json"))
    with pytest.raises(ConfigError, match="add_prefix_space: true"):
        preset_tokenizer.load(str(tmp_path))


def test_text_without_spaces_after_words_is_still_cut_into_bounded_pieces():
    text = "日本語の文です。\n" * 200  # no space or newline after a letter: no last_cut
    assert bpe.last_cut(text[:40]) == 0
    pieces = list(bpe.between_words(text, size=40))
    assert "".join(pieces) == text and max(map(len, pieces)) <= 160 and len(pieces) > 10
    assert list(bpe.between_words("x" * 100, size=10)) == ["x" * 40, "x" * 40, "x" * 20]


def test_a_tiny_gpt_trains_with_a_preset_and_the_cache_follows_its_contents(
        keras_hub_preset, tmp_path):
    folder, _ = keras_hub_preset
    run_dir, losses = train(tmp_path, f"tokenizer: preset, tokenizer_preset: {folder}",
                            epochs=1)
    assert math.isfinite(losses[-1])
    from bigmodel_cli.predict import generate

    decoder, tokenizer = generate.load(run_dir)  # from the run's tokenizer.json alone
    assert tokenizer.kind == "preset" and tokenizer.vocab_size == len(gpt2_style(MERGES)) + 1
    sample = generate.generate(decoder, tokenizer, "the cat", 8, generate.Sampling(0.0), 1)
    assert sample.tokens == 8 and sample.text == tokenizer.decode(
        list(decoder.tokens(list(tokenizer.encode("the cat")), 8, generate.Sampling(0.0),
                            np.random.default_rng(1))))
    # The same preset again: the cache is reused; the preset edited: tokenized again.
    config = data_config(tmp_path, tmp_path / "corpus.txt", tokenizer="preset",
                         tokenizer_preset=str(folder))
    text_corpus.load(config, 0)
    assert len(list((tmp_path / "cache").iterdir())) == 1
    import keras_hub

    edited = tmp_path / "edited"
    more = [*MERGES, "Ġ d", "o g", "Ġd og"]
    keras_hub.tokenizers.GPT2Tokenizer(vocabulary=gpt2_style(more), merges=more) \
        .save_to_preset(str(edited))
    bundle = text_corpus.load(config.model_copy(update={"tokenizer_preset": str(edited)}), 0)
    assert len(list((tmp_path / "cache").iterdir())) == 2
    assert bundle.input_spec.vocab_size == len(gpt2_style(more)) + 1


def test_the_corpus_reader_gives_up_waiting_for_a_cut_between_words(monkeypatch):
    monkeypatch.setattr(text_corpus, "HELD_CHARACTERS", 100)
    reads = ["日本語の文です。\n" * 5] * 40  # read chunks with no space after a letter
    chunks = list(text_corpus._word_chunks(reads, None))
    assert "".join(text for text, _ in chunks) == "".join(reads)
    assert max(len(text) for text, _ in chunks) <= 100 + len(reads[0])  # held, not the file
