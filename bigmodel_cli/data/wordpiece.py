"""The `wordpiece` tokenizer of a text corpus: a subword vocabulary learned from the training
split (keras-hub's WordPiece trainer and tokenizer, which run on tensorflow-text).

Text is split at whitespace and at each punctuation mark, case and accents kept (no
lowercasing); each word is then the longest vocabulary pieces, '##' marking a piece that
continues a word. WordPiece drops whitespace, so a newline is first made a word of its own (a
private-use character, reserved id 2) and survives; other whitespace runs become one space.
Decoding joins the words with single spaces, '##' pieces to the piece before them, with no
space before `.,;:!?)]}`, after `([{` or around an apostrophe, and none around a newline. So
text round-trips exactly when it is written that way ("It's late, go home.\nYes!"), and
otherwise comes back normalized ("a , b" -> "a, b", "x  y" -> "x y", "x+y" -> "x + y").
Ids 0 and 1 are padding and [UNK], as in data/tokenizers.py.
"""

from __future__ import annotations

import numpy as np

from ..extras import require
from ..names import TEXT_SPECIAL_TOKENS

WORDPIECE = "wordpiece"
DEFAULT_VOCAB_SIZE = 2000  # data.vocab_size: null; enough for a few-MB corpus
NEWLINE = "\ue000"  # a private-use character: never in real text, a word of its own
RESERVED = ("[PAD]", "[UNK]", NEWLINE)  # ids 0, 1, 2
NO_SPACE_BEFORE = set(".,;:!?)]}'")
NO_SPACE_AFTER = set("([{'")


def prepare(text: str) -> str:
    """Newlines made words, before splitting (learning and encoding alike)."""
    return text.replace("\n", f" {NEWLINE} ")


class WordPieceTokenizer:
    kind = WORDPIECE
    reads_bytes = False

    def __init__(self, vocabulary: list[str]):
        self.vocabulary = list(vocabulary)
        self._layer = None

    @classmethod
    def learn(cls, make_texts, vocab_size: int) -> WordPieceTokenizer:
        """The vocabulary of at most `vocab_size` pieces of the texts `make_texts()` yields
        (strings, streamed, so a corpus larger than memory is fine)."""
        keras_hub = require("keras_hub", "data.tokenizer: wordpiece")
        import tensorflow as tf

        dataset = tf.data.Dataset.from_generator(
            lambda: (prepare(text) for text in make_texts()),
            output_signature=tf.TensorSpec((), tf.string))
        vocabulary = keras_hub.tokenizers.compute_word_piece_vocabulary(
            dataset, vocab_size, lowercase=False, strip_accents=False,
            reserved_tokens=list(RESERVED))
        return cls(vocabulary)

    @property
    def vocab_size(self) -> int:
        return len(self.vocabulary)

    def tokens(self) -> list[str]:
        """The token of each id, for the target's class names (a newline as itself)."""
        return [*TEXT_SPECIAL_TOKENS, "\n", *self.vocabulary[len(RESERVED):]]

    def _tokenizer(self):
        if self._layer is None:
            keras_hub = require("keras_hub", "data.tokenizer: wordpiece")
            self._layer = keras_hub.tokenizers.WordPieceTokenizer(
                vocabulary=self.vocabulary, lowercase=False, strip_accents=False,
                oov_token=RESERVED[1])
        return self._layer

    def encode(self, text: str) -> np.ndarray:
        if not text.strip(" \t\r\f\v") and "\n" not in text:
            return np.zeros(0, dtype=np.int32)
        return np.asarray(self._tokenizer()(prepare(text)), dtype=np.int32).reshape(-1)

    def decode(self, ids) -> str:
        piece = self.decoder(start=True)
        return "".join(piece(int(i)) for i in ids)

    def decoder(self, start: bool = False):
        """Text from ids one at a time; `start`: the first word takes no space before it (for
        generate it follows the prompt, so it does)."""
        tokens, previous = self.tokens(), ["\n" if start else "a word"]

        def piece(token: int) -> str:
            if token == 0:
                return ""
            text = "\ufffd" if token == 1 else tokens[token]
            last, previous[0] = previous[0], text
            if text.startswith("##"):
                return text[2:]
            if text == "\n" or last == "\n" or text in NO_SPACE_BEFORE or last in NO_SPACE_AFTER:
                return text
            return " " + text

        return piece

    def to_dict(self) -> dict:
        return {"kind": WORDPIECE, "vocabulary": self.vocabulary}
