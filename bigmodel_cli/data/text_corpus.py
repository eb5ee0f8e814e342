"""A text corpus for language models: files tokenized once into a memory-mapped token file.

`data.path` is a file, a folder (every file under it, sorted) or a glob; the files are read
in that order, one after the other, as one stream of tokens. Validation and test are the
last fractions of that stream (nanoGPT keeps the last 10% for validation), or the files of
`data.validation_path` / `data.test_path`. The tokens go to `<cache_dir>/<key>/`, the key a
hash of the files (path, size, modification time) and the tokenizer, so a second run, an
evaluation or a resumed run reads them back without tokenizing again. Files are read in
chunks, so a corpus larger than memory is fine; a byte that is not UTF-8 stops the load with
the file and its offset (tokenizer: byte reads any bytes). A wordpiece or bpe vocabulary is
learned from the training split's characters only, and the training split is then exactly
their tokens; a preset's tokenizer (data/preset_tokenizer.py) is read before the cache key,
which holds its sha256.
"""

from __future__ import annotations

import codecs
import glob
import json
import os
from pathlib import Path

from .. import atomic
from ..errors import ConfigError, DataError, RunError
from ..tasks.names import LANGUAGE_MODELING
from . import preset_tokenizer, tokenizers
from .bad_files import BadFiles
from .bpe import BPE, PRESET, ByteLevelBPE, forced_cut, last_cut
from .bundle import DataBundle
from .spec import TOKENS, InputSpec, TargetSpec
from .stores import files_key, human_bytes
from .token_windows import TokenWindows
from .wordpiece import DEFAULT_VOCAB_SIZE, WORDPIECE, WordPieceTokenizer

CHUNK_BYTES = 1 << 24  # 16 MB read, checked and tokenized at a time
# Text held back waiting for a cut between words gives up at this size (bpe.forced_cut).
HELD_CHARACTERS = 4 * CHUNK_BYTES
FORMAT = 1  # of the cache folder; a new layout changes it
LEARNED = {WORDPIECE: WordPieceTokenizer, BPE: ByteLevelBPE}  # from the training split
SUBWORDS = (WORDPIECE, BPE, PRESET)  # read in chunks that end between words
GROUPS = ("corpus", "validation", "test")  # the token files: the main corpus, given splits


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bigmodel" / "tokens"


def load(data_config, seed: int, *, run_dir=None, console=None) -> DataBundle:
    """The corpus's DataBundle: token windows per split, a tokens input spec, the vocabulary
    as the target's class names and the tokenizer in the input spec (saved in spec.json)."""
    groups = {"corpus": list_files(data_config.path, "data.path")}
    for name in ("validation", "test"):
        given = getattr(data_config, f"{name}_path")
        if given:
            groups[name] = list_files(given, f"data.{name}_path")
    tokenizer, token_files, counts = tokenized(groups, data_config, console)
    splits = cut(counts, data_config, token_files)
    length, batch = data_config.context_length, data_config.batch_size
    examples = {}
    for name, (path, start, end) in splits.items():
        examples[name] = None if path is None else TokenWindows(
            path, counts["dtype"], start, end, length, batch, training=name == "train",
            eval_batches=data_config.eval_batches)
    for name, windows in examples.items():
        if windows is not None and windows.token_count < length + 2:
            raise DataError(f"data.path: the {name} split has {windows.token_count} tokens, "
                            f"fewer than data.context_length + 2 ({length + 2}); use more text, "
                            "a smaller context_length or a larger split fraction")
    if console is not None:
        console.print("tokens: " + ", ".join(
            f"{name} {windows.token_count:,}" for name, windows in examples.items()
            if windows is not None) + f" ({tokenizer.kind}, vocabulary {tokenizer.vocab_size})",
            highlight=False)
    input_spec = InputSpec(kind=TOKENS, shape=(length,), dtype="int32",
                           vocab_size=tokenizer.vocab_size, sequence_length=length,
                           tokenizer=tokenizer.to_dict())
    target = TargetSpec(task=LANGUAGE_MODELING, class_names=tokenizer.tokens())

    def build(windows, training: bool, first_step: int | None):
        return windows.dataset(seed, training, first_step)

    return DataBundle(examples, input_spec, target, build, BadFiles([]))


def list_files(pattern: str, key: str) -> list[Path]:
    path = Path(pattern).expanduser()
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    else:
        files = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
    if not files:
        raise ConfigError(f"{key}: no text files at {pattern}; name a file, a folder of text "
                          "files or a glob such as 'texts/*.txt'")
    return files


# --- tokenizing once, into the cache -------------------------------------------------------

def tokenized(groups: dict[str, list[Path]], data_config, console):
    """(tokenizer, {group: token file}, {group: token count, "dtype": ...}), from the cache
    or made now."""
    every_file = [path.resolve() for files in groups.values() for path in files]
    kind, given = data_config.tokenizer, None
    if kind == PRESET:  # known by its contents: an edited preset is tokenized again
        given = preset_tokenizer.load(data_config.tokenizer_preset)
        identity = (given.identity,)
    else:
        identity = (data_config.vocab_size or DEFAULT_VOCAB_SIZE, data_config.validation_split,
                    data_config.test_split) if kind in LEARNED else ()
    key = files_key(every_file, FORMAT, kind, sorted(groups),
                    *(len(files) for files in groups.values()), *identity)
    folder = Path(data_config.cache_dir or default_cache_dir()).expanduser() / key
    description = folder / "tokens.json"
    try:
        known = json.loads(description.read_text())
        known["tokenizer"] = tokenizers.load_beside(known["tokenizer"], folder)
    except (OSError, ValueError, KeyError, RunError):  # none yet, or half of one: make it
        known = None
    if known is None or not all((folder / f"{group}.bin").exists() for group in groups):
        known = _tokenize(groups, data_config, folder, console, given)
        atomic.write_text(description, json.dumps(
            {**known, "tokenizer": tokenizers.save_beside(known["tokenizer"], folder)},
            indent=2) + "\n")
    tokenizer = given or tokenizers.from_dict(known["tokenizer"])
    token_files = {group: folder / f"{group}.bin" for group in groups}
    return tokenizer, token_files, {**known["counts"], "dtype": known["dtype"]}


def _tokenize(groups, data_config, folder: Path, console, given=None) -> dict:
    kind, boundary = data_config.tokenizer, None
    if given is not None:  # a preset's
        tokenizer = given
    elif kind == tokenizers.BYTE:
        tokenizer = tokenizers.ByteTokenizer()
    elif kind in LEARNED:  # learned from the training split's text only
        boundary = _training_characters(groups, data_config)
        corpus = groups["corpus"]
        tokenizer = LEARNED[kind].learn(
            lambda: (text for text, train in _word_chunks(_texts(corpus), boundary) if train),
            data_config.vocab_size or DEFAULT_VOCAB_SIZE)
    else:  # the characters of every file: a first pass that also finds invalid UTF-8
        tokenizer = tokenizers.CharTokenizer.learn(
            set(text) for files in groups.values() for text in _texts(files))
    dtype = "uint16" if tokenizer.vocab_size <= 2**16 else "uint32"
    counts = {}
    size = sum(path.stat().st_size for files in groups.values() for path in files)
    if console is not None:
        console.print(f"tokenizing {human_bytes(size)} into {folder}", highlight=False)
    for group, files in groups.items():
        with atomic.atomic_path(folder / f"{group}.bin") as temporary, \
                open(temporary, "wb") as out:
            count = train = 0
            if tokenizer.reads_bytes:
                pieces = ((chunk, True) for chunk in _chunks(files))
            elif kind in SUBWORDS:  # whole words per chunk, and the training split apart
                pieces = _word_chunks(_texts(files), boundary if group == "corpus" else None)
            else:
                pieces = ((text, True) for text in _texts(files))
            for piece, in_training in pieces:
                ids = tokenizer.encode_bytes(piece) if tokenizer.reads_bytes \
                    else tokenizer.encode(piece)
                ids.astype(dtype).tofile(out)
                count += len(ids)
                train += len(ids) if in_training else 0
        counts[group] = count
        if boundary is not None and group == "corpus":
            counts["train"] = train  # cut() ends the training split there
    return {"tokenizer": tokenizer.to_dict(), "dtype": dtype, "counts": counts,
            "files": {group: [str(path) for path in files] for group, files in groups.items()}}


def _training_characters(groups, data_config) -> int:
    """The corpus's characters in the training split, cut the way cut() cuts tokens."""
    total = sum(len(text) for text in _texts(groups["corpus"]))  # also checks the UTF-8
    held = sum(int(total * fraction) for name, fraction in (
        ("validation", data_config.validation_split), ("test", data_config.test_split))
        if name not in groups)
    return total - held


def _word_chunks(texts, boundary: int | None):
    """(text, in the training split) pieces of a text stream, cut at character `boundary`
    and otherwise only where bpe.last_cut finds: a word cut by a read chunk would become
    two, and there a BPE split makes the same words of the parts as of the whole text."""
    seen, held, held_training = 0, "", True
    for text in texts:
        parts = [text[:boundary - seen], text[boundary - seen:]] \
            if boundary is not None and seen < boundary < seen + len(text) else [text]
        for part in parts:
            in_training = boundary is None or seen < boundary
            if held and in_training != held_training:
                yield held, held_training
                held = ""
            held_training, seen, held = in_training, seen + len(part), held + part
            end = last_cut(held)
            if not end and len(held) > HELD_CHARACTERS:
                end = forced_cut(held)
            if end:
                yield held[:end], in_training
                held = held[end:]
    if held:
        yield held, held_training


def _chunks(files):
    for path in files:
        try:
            with open(path, "rb") as handle:
                while chunk := handle.read(CHUNK_BYTES):
                    yield chunk
        except OSError as error:
            raise DataError(f"{path}: cannot read it ({error.strerror}); check the file "
                            "and its permissions") from None


def _texts(files):
    """The text of each file, chunk by chunk; invalid UTF-8 is a DataError at its byte."""
    for path in files:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
        offset = 0
        try:
            with open(path, "rb") as handle:
                while True:
                    chunk = handle.read(CHUNK_BYTES)
                    pending = len(decoder.getstate()[0])  # bytes held from the last chunk
                    try:
                        text = decoder.decode(chunk, final=not chunk)
                    except UnicodeDecodeError as error:  # error.start counts held bytes too
                        raise DataError(
                            f"{path}: invalid UTF-8 at byte {offset - pending + error.start:,}; "
                            "convert the file to UTF-8, or set data.tokenizer: byte to read "
                            "any bytes") from None
                    if text:
                        yield text
                    if not chunk:
                        break
                    offset += len(chunk)
        except OSError as error:
            raise DataError(f"{path}: cannot read it ({error.strerror}); check the file "
                            "and its permissions") from None


# --- the splits ------------------------------------------------------------------------------

def cut(counts: dict, data_config, token_files: dict) -> dict:
    """{split: (token file, first token, end token)}; (None, 0, 0) for a split not there.

    Cut from the corpus's end, nanoGPT's way: [train | validation | test]."""
    total = counts["corpus"]
    held = {}
    for name, fraction in (("test", data_config.test_split),
                           ("validation", data_config.validation_split)):
        held[name] = 0 if name in token_files else int(total * fraction)
    train_end = total - held["validation"] - held["test"]
    if "train" in counts:  # a learned vocabulary: training is the text it was learned from
        train_end = counts["train"]
        rest = total - train_end
        held["test"] = rest if "validation" in token_files and "test" not in token_files \
            else min(held["test"], rest)
        if "validation" not in token_files:
            held["validation"] = rest - held["test"]
    splits = {"train": (token_files["corpus"], 0, train_end)}
    for name, start, end in (("validation", train_end, train_end + held["validation"]),
                             ("test", total - held["test"], total)):
        if name in token_files:
            splits[name] = (token_files[name], 0, counts[name])
        else:
            splits[name] = (token_files["corpus"], start, end) if end > start else (None, 0, 0)
    return splits
