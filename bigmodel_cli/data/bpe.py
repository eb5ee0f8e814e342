"""Byte-level BPE tokenizers of a text corpus: `bpe`, learned from the training split, and
`preset`, a preset's own (GPT-2's; data/preset_tokenizer.py reads the folder).

Both are a Tokenizer of the `tokenizers` library, kept as its JSON (`definition`): `bpe`
splits text as GPT-2 does (a space joins the word after it) and learns merges over the UTF-8
bytes, starting from all 256 of them, so any text has tokens and decodes back exactly. In
the run directory the JSON is a file of its own, tokenizer.json (tokenizers.save_beside).

Ids: the library's id i is bigmodel's i + 1, as `byte` shifts bytes, so that id 0 stays
padding for the loss mask, `generate` and `predict` (data/tokenizers.py). A preset's own
padding or end-of-text id cannot serve: GPT-2 has no padding token, and its end-of-text token
is text the model should learn, not a position the loss skips. One extra embedding row is
the cost; a preset's id is bigmodel's id - 1.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re

import numpy as np

from ..errors import ConfigError
from ..extras import require
from ..names import TEXT_SPECIAL_TOKENS

BPE, PRESET = "bpe", "preset"
# Text goes to the library in pieces of about this many characters, cut between words, as
# one batch: it spreads a batch over the cores. Measured on 2 cores, 9.3 MB of pydoc text:
# 8.2 s as one string, 3.9 s without offsets (encode_batch_fast), 2.0 s in 1 MB pieces.
PIECE_CHARACTERS = 1 << 20
AFTER_WORD = re.compile(r"[^\W_](?=[ \n])")  # a letter or digit before a space or newline


def byte_of_character() -> dict[str, int]:
    """GPT-2's byte-level alphabet, the format's own table: each byte as one printable
    character (printable Latin-1 bytes stand for themselves, the rest for 256 + n in order)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    others = [byte for byte in range(256) if byte not in printable]
    return {chr(byte): byte for byte in printable} | {
        chr(256 + number): byte for number, byte in enumerate(others)}


class ByteLevelBPE:
    reads_bytes = False  # the library takes text: a corpus must be UTF-8

    def __init__(self, kind: str, definition: str, where: str = "data.tokenizer"):
        self.kind, self.definition = kind, definition
        library = require("tokenizers", f"data.tokenizer: {kind}")
        try:
            self._tokenizer = library.Tokenizer.from_str(definition)
        except Exception as error:  # the library's own Exception type for a bad JSON
            raise ConfigError(f"{where}: not a tokenizer the tokenizers library reads "
                              f"({' '.join(str(error).split())[:200]})") from None
        self._pieces = _token_bytes(self._tokenizer, definition, where)

    @classmethod
    def learn(cls, make_texts, vocab_size: int) -> ByteLevelBPE:
        """`vocab_size` ids (padding, the 256 bytes, then merges) learned from the texts
        `make_texts()` yields, streamed: the library counts words chunk by chunk."""
        library = require("tokenizers", "data.tokenizer: bpe")
        from tokenizers import decoders, models, pre_tokenizers, trainers

        tokenizer = library.Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size - 1, show_progress=False, special_tokens=[],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet())  # every byte, seen or not
        tokenizer.train_from_iterator(
            (piece for text in make_texts() for piece in between_words(text)), trainer)
        return cls(BPE, tokenizer.to_str())

    @property
    def identity(self) -> str:
        """The sha256 of the definition: what the token cache and spec.json know it by."""
        return hashlib.sha256(self.definition.encode()).hexdigest()

    @property
    def vocab_size(self) -> int:
        return len(self._pieces) + 1

    def tokens(self) -> list[str]:
        """The text of each id, for the target's class names (a piece that is part of a
        UTF-8 character is U+FFFD)."""
        return [TEXT_SPECIAL_TOKENS[0],
                *(piece.decode("utf-8", errors="replace") for piece in self._pieces)]

    def encode(self, text: str) -> np.ndarray:
        if not text:
            return np.zeros(0, dtype=np.int32)
        # No special tokens added: a corpus chunk or a prompt is text, not a whole document.
        encode = getattr(self._tokenizer, "encode_batch_fast", self._tokenizer.encode_batch)
        encodings = encode(list(between_words(text)), add_special_tokens=False)
        return np.concatenate([np.asarray(one.ids, dtype=np.int32) for one in encodings]) + 1

    def decode(self, ids) -> str:
        pieces = self._pieces
        return b"".join(pieces[int(i) - 1] for i in ids if int(i) > 0).decode(
            "utf-8", errors="replace")

    def decoder(self, start: bool = False):
        """Text from ids one at a time, holding back an incomplete UTF-8 character (a token's
        bytes carry their own spaces, so `start` changes nothing)."""
        incremental = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pieces = self._pieces
        return lambda token: incremental.decode(pieces[token - 1]) if token > 0 else ""

    def to_dict(self) -> dict:
        return {"kind": self.kind, "definition": self.definition, "sha256": self.identity}


def between_words(text: str, size: int | None = None):
    """`text` in pieces of about `size` characters (PIECE_CHARACTERS), each cut by last_cut:
    the library splits the pieces into the same words as the whole text."""
    size = size or PIECE_CHARACTERS
    while len(text) > size:
        cut = last_cut(text[:size])
        if not cut:  # a word longer than `size`: the first place after it, within 4 sizes
            found = AFTER_WORD.search(text, size, 4 * size)
            cut = found.end() if found else forced_cut(text[:4 * size])
        yield text[:cut]
        text = text[cut:]
    if text:
        yield text


def last_cut(text: str) -> int:
    """The last index of a space or newline that follows a letter or digit (0: none): there
    the byte-level splits (GPT-2's, and the one keras-hub uses) end a word, and start the next
    the same way whatever came before, because they join a space to the word after it and
    punctuation, not letters, to the newlines after it."""
    end = len(text)
    while (found := max(text.rfind(" ", 0, end), text.rfind("\n", 0, end))) > 0:
        if text[found - 1].isalnum():
            return found
        end = found  # after whitespace or punctuation: look before it
    return 0


def forced_cut(text: str) -> int:
    """Where to cut text that has no last_cut (no space after a letter or digit: Chinese or
    Japanese text, say): its last whitespace, else its end. Memory stays bounded; the pieces'
    tokens may differ from the whole text's by a token at the cut."""
    return max(text.rfind(" "), text.rfind("\n"), 0) or len(text)


def _token_bytes(tokenizer, definition: str, where: str) -> list[bytes]:
    """The bytes of each library id: a vocabulary token through GPT-2's alphabet, an added
    (special) token as its UTF-8 text. A tokenizer that is not byte-level is refused: its
    tokens would not decode to the text they came from."""
    values = json.loads(definition)
    if not all(_uses_byte_level(values.get(part)) for part in ("pre_tokenizer", "decoder")):
        raise ConfigError(f"{where}: not a byte-level BPE tokenizer (its pre-tokenizer and "
                          "decoder must be ByteLevel, as GPT-2's are); use data.tokenizer: bpe "
                          "to learn one")
    if _adds_prefix_space(values.get("pre_tokenizer")):
        raise ConfigError(f"{where}: its ByteLevel pre-tokenizer has add_prefix_space: true, "
                          "which would add a space before every piece of text bigmodel "
                          "encodes; set it to false in tokenizer.json (GPT-2's is false)")
    alphabet = byte_of_character()
    added = {index: token.content for index, token in
             tokenizer.get_added_tokens_decoder().items()}
    vocabulary = tokenizer.get_vocab(with_added_tokens=True)
    pieces = [b""] * (max(vocabulary.values(), default=-1) + 1)  # an unused id decodes to ""
    for token, index in vocabulary.items():
        if index in added:
            pieces[index] = added[index].encode("utf-8")
        elif all(character in alphabet for character in token):
            pieces[index] = bytes(alphabet[character] for character in token)
        else:
            raise ConfigError(f"{where}: token {token!r} (id {index}) is not written in "
                              "GPT-2's byte-level alphabet; use a byte-level BPE tokenizer")
    return pieces


def _uses_byte_level(part) -> bool:
    """Whether a pre-tokenizer or decoder (JSON) is ByteLevel or a sequence holding one."""
    if not isinstance(part, dict):
        return False
    inner = part.get("pretokenizers") or part.get("decoders") or []
    return part.get("type") == "ByteLevel" or any(_uses_byte_level(one) for one in inner)


def _adds_prefix_space(part) -> bool:
    """Whether a pre-tokenizer (JSON) is, or holds, a ByteLevel one that adds a space."""
    if not isinstance(part, dict):
        return False
    return (part.get("type") == "ByteLevel" and bool(part.get("add_prefix_space"))) or any(
        _adds_prefix_space(one) for one in part.get("pretokenizers") or [])
