"""The wordpiece tokenizer of a text corpus: learned from the training split only, its cache
keyed by the vocabulary size, text round-trips up to its normalization, vocab_size checks, and
a tiny gpt trained with it whose `generate` decodes words (in-process and through the CLI)."""

from __future__ import annotations

import json

import pytest
from cli_runner import bigmodel
from test_lm import WORDS, corpus_text, corpus_with_tail, data_config

from bigmodel_cli.data import text_corpus, tokenizers
from bigmodel_cli.data.wordpiece import WordPieceTokenizer


def split_tokens(bundle, name):
    windows = bundle.examples(name)
    return windows.tokens[windows.start:windows.end]


def test_the_vocabulary_is_learned_from_the_training_split_only(tmp_path):
    tail = "zebra quagga " * 90 + "\n"  # only in the last ~10%: validation
    path, text = corpus_with_tail(tmp_path, tail)
    bundle = text_corpus.load(data_config(tmp_path, path, tokenizer="wordpiece",
                                          vocab_size=200), 0)
    tokenizer = tokenizers.from_dict(bundle.input_spec.tokenizer)
    assert {"house", "cat", "the"} <= set(tokenizer.vocabulary)
    assert "zebra" not in tokenizer.vocabulary and "quagga" not in tokenizer.vocabulary
    assert "z" not in tokenizer.vocabulary  # not even its letters: they are [UNK] (id 1)
    # The training split is the text learned from: no unknown piece in it, and it decodes to
    # the first ~90% of the corpus; the validation split holds the tail.
    train, validation = split_tokens(bundle, "train"), split_tokens(bundle, "validation")
    assert 1 not in train
    learned = tokenizer.decode(train)  # the grammar's text decodes exactly
    assert text.startswith(learned) and 0.89 < len(learned) / len(text + tail) < 0.91
    assert (validation == 1).sum() == 180  # zebra and quagga: [UNK] each
    # The token cache is keyed by the tokenizer and its vocabulary size.
    text_corpus.load(data_config(tmp_path, path, tokenizer="wordpiece", vocab_size=64), 0)
    text_corpus.load(data_config(tmp_path, path, tokenizer="wordpiece", vocab_size=200), 0)
    text_corpus.load(data_config(tmp_path, path), 0)  # char
    assert len(list((tmp_path / "cache").iterdir())) == 3


ROUND_TRIP = "It's late, go home.\nYes! (Really) [no]: well; a-b x+y ok?\n\nnaïve Café\n"


@pytest.mark.parametrize(("text", "normalized"), [
    (ROUND_TRIP.split("\n")[0] + "\n", None),  # written the normal way: exactly back
    ("Yes! (Really) [no]: well; ok?\n\nnaïve Café", None),  # case, accents, blank lines kept
    ("go  home ,late\t.", "go home, late."),  # whitespace runs: one space; no space before ,.
    ("a-b x+y", "a - b x + y"),  # other punctuation is a word of its own
    ("", None),
])
def test_text_round_trips_up_to_the_normalization(text, normalized):
    tokenizer = WordPieceTokenizer.learn(lambda: [ROUND_TRIP * 3], 200)
    again = tokenizers.from_dict(json.loads(json.dumps(tokenizer.to_dict())))
    ids = again.encode(text)
    assert (ids > 1).all(), "every piece is known: none is padding or [UNK]"
    assert again.decode(ids) == (text if normalized is None else normalized)
    decode = again.decoder(start=True)  # one id at a time, as generate streams them
    assert "".join(decode(int(token)) for token in ids) == again.decode(ids)
    assert max(len(token) for token in again.tokens()) > 1  # subwords, not characters
    pieces = again.encode("homes")  # an unseen word: pieces, '##' ones joined back
    assert len(pieces) > 1 and again.decode(pieces) == "homes"


@pytest.mark.parametrize(("setting", "message"), [
    ("tokenizer: char, vocab_size: 500",
     "data.vocab_size is for data.tokenizer: wordpiece or bpe, not char (its vocabulary is "
     "fixed); remove it"),
    ("tokenizer: wordpiece, vocab_size: 10",
     "data.vocab_size 10 is out of range; use 64 to 1048576"),
])
def test_vocab_size_is_checked_in_one_line(tmp_path, setting, message):
    path = tmp_path / "lm.yaml"
    path.write_text(f"name: lm\ndata: {{source: text_corpus, path: x.txt, {setting}}}\n"
                    "model: {family: gpt, size: tiny}\n")
    result = bigmodel("config", "validate", path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr


CONFIG = """\
name: lm
seed: 3
data: {{source: text_corpus, path: {path}, tokenizer: wordpiece, vocab_size: 100,
       context_length: 16, batch_size: 16, cache_dir: {cache}}}
model: {{family: gpt, size: tiny}}
optimizer: {{name: adamw, learning_rate: 0.003}}
training: {{epochs: 1, steps_per_epoch: 40, tensorboard: false, jit_compile: false}}
"""


def test_a_tiny_gpt_trains_with_wordpiece_and_generate_decodes_words(tmp_path):
    (tmp_path / "corpus.txt").write_text(corpus_text(800))
    config = tmp_path / "lm.yaml"
    config.write_text(CONFIG.format(path=tmp_path / "corpus.txt", cache=tmp_path / "cache"))
    run_dir = tmp_path / "run"
    result = bigmodel("train", config, "--run-dir", run_dir)
    assert result.returncode == 0, result.stderr
    spec = json.loads((run_dir / "spec.json").read_text())
    assert "house" in json.dumps(spec)  # the learned vocabulary travels with the run
    epochs = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert epochs[-1]["val_loss"] < 2.0  # ~4.6 (log 100) untrained; word-level grammar
    from bigmodel_cli.predict import generate, inference  # in this process: TF is loaded

    decoder, tokenizer = generate.load(run_dir)  # the vocabulary from spec.json
    sample = generate.generate(decoder, tokenizer, "the dog", 24, generate.Sampling(0.0), 1)
    assert sample.tokens == 24 and sample.text.startswith(" ")  # after the prompt's last word
    words = sample.text.replace(".", " ").split()
    assert len(words) >= 8 and set(words[:-1]) <= set(WORDS), sample.text
    assert "\n" in sample.text  # sentences end with the newline token, decoded

    rows = inference.predict(run_dir, ["the dog ran to the"], top_k=3)
    guesses = [guess["class"] for guess in rows[0]["top"]]
    assert set(guesses) <= set(WORDS[8:]), guesses  # a place follows "to the"

    # Through the CLI, from an empty prompt: the first word has no space before it.
    result = bigmodel("generate", run_dir, "--prompt", "", "--max-tokens", "12",
                      "--temperature", "0", "--seed", "1")
    assert result.returncode == 0, result.stderr
    assert "12 tokens" in result.stderr
    assert result.stdout[:1].isalpha() and result.stdout.split()[0] in WORDS, result.stdout
