"""Tokenizers of a text corpus: `char` (the corpus's characters), `byte` (256 ids),
`wordpiece` (learned subwords, data/wordpiece.py), `bpe` (learned byte-level BPE) and
`preset` (a preset's byte-level BPE, GPT-2's), both in data/bpe.py.

Id 0 is padding in every vocabulary (the language-modeling loss masks it), so real tokens
start at 1: `byte` maps byte b to id b + 1 (257 ids), `char` keeps id 1 for a character the
corpus never had ('[UNK]', met only in prompts or in separate validation files). A tokenizer
is plain values (`to_dict`), saved in the run's spec.json and rebuilt by `generate`; a BPE
tokenizer's definition (GPT-2's: ~1.4 MB of vocabulary and merges) goes to a file of its own
beside it, tokenizer.json, named in spec.json with its sha256 (`save_beside`, `load_beside`):
spec.json stays readable, and the file is the `tokenizers` library's, readable by any tool.
"""

from __future__ import annotations

import codecs
import hashlib
from pathlib import Path

import numpy as np

from .. import atomic
from ..errors import RunError
from ..names import TEXT_SPECIAL_TOKENS
from .bpe import BPE, PRESET, ByteLevelBPE
from .wordpiece import WORDPIECE, WordPieceTokenizer

CHAR, BYTE = "char", "byte"
TOKENIZERS = (CHAR, BYTE, WORDPIECE, BPE, PRESET)  # wordpiece.py, bpe.py
PADDING, UNKNOWN = 0, 1
TOKENIZER_FILE = "tokenizer.json"  # a BPE definition, beside spec.json or tokens.json


class ByteTokenizer:
    kind = BYTE
    reads_bytes = True  # any file is a corpus: no UTF-8 check

    @property
    def vocab_size(self) -> int:
        return 257

    def tokens(self) -> list[str]:
        """The token of each id, for the target's class names (bytes as latin-1 characters)."""
        return [TEXT_SPECIAL_TOKENS[0]] + [chr(byte) for byte in range(256)]

    def encode_bytes(self, data: bytes) -> np.ndarray:
        return np.frombuffer(data, dtype=np.uint8).astype(np.int32) + 1

    def encode(self, text: str) -> np.ndarray:
        return self.encode_bytes(text.encode("utf-8"))

    def decode(self, ids) -> str:
        return bytes(int(i) - 1 for i in ids if int(i) > 0).decode("utf-8", errors="replace")

    def decoder(self, start: bool = False):
        """Text from ids one at a time, holding back an incomplete UTF-8 character (`start`:
        nothing before; bytes carry their own spaces, so it changes nothing)."""
        incremental = codecs.getincrementaldecoder("utf-8")(errors="replace")
        return lambda token: incremental.decode(bytes([token - 1]) if token > 0 else b"")

    def to_dict(self) -> dict:
        return {"kind": BYTE}


class CharTokenizer:
    kind = CHAR
    reads_bytes = False

    def __init__(self, characters: str):
        self.characters = characters  # sorted, each once
        self._ids = {character: index + 2 for index, character in enumerate(characters)}

    @classmethod
    def learn(cls, character_sets) -> CharTokenizer:
        found = set()
        for characters in character_sets:
            found |= characters
        return cls("".join(sorted(found)))

    @property
    def vocab_size(self) -> int:
        return len(self.characters) + 2

    def tokens(self) -> list[str]:
        return [*TEXT_SPECIAL_TOKENS, *self.characters]

    def encode(self, text: str) -> np.ndarray:
        ids = self._ids
        return np.fromiter((ids.get(character, UNKNOWN) for character in text),
                           dtype=np.int32, count=len(text))

    def decode(self, ids) -> str:
        tokens = self.tokens()
        return "".join(tokens[int(i)] if int(i) > 1 else "" if int(i) == 0 else "\ufffd"
                       for i in ids)

    def decoder(self, start: bool = False):
        return lambda token: self.decode([token])

    def to_dict(self) -> dict:
        return {"kind": CHAR, "characters": self.characters}


def from_dict(values: dict):
    if values["kind"] == BYTE:
        return ByteTokenizer()
    if values["kind"] == WORDPIECE:
        return WordPieceTokenizer(values["vocabulary"])
    if values["kind"] in (BPE, PRESET):
        return ByteLevelBPE(values["kind"], values["definition"])
    return CharTokenizer(values["characters"])


def save_beside(values: dict, folder: Path) -> dict:
    """`to_dict()` values to write in a JSON file of `folder`: a BPE definition goes to
    folder/tokenizer.json (atomically), the values keep its file name and sha256."""
    if "definition" not in values:
        return values
    # Bytes, not text: no newline translation anywhere, so the recorded sha256 holds.
    with atomic.atomic_path(Path(folder) / TOKENIZER_FILE) as temporary:
        temporary.write_bytes(values["definition"].encode("utf-8"))
    return {**{key: value for key, value in values.items() if key != "definition"},
            "file": TOKENIZER_FILE}


def load_beside(values: dict, folder: Path) -> dict:
    """The values `save_beside` wrote, with the definition read back from its file; a file
    missing or changed (its sha256) is a RunError naming it."""
    if "file" not in values:
        return values
    path = Path(folder) / values["file"]
    try:
        data = path.read_bytes()
    except OSError as error:
        raise RunError(f"{path}: cannot read the tokenizer ({error.strerror}); restore it "
                       "from a copy of the run, or train again") from None
    if hashlib.sha256(data).hexdigest() != values.get("sha256"):
        raise RunError(f"{path}: not the tokenizer the model was trained with (its sha256 "
                       "differs from the one recorded); restore it, or train again")
    return {**{key: value for key, value in values.items() if key != "file"},
            "definition": data.decode("utf-8")}
