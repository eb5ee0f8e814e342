"""`data.tokenizer: preset`: a byte-level BPE tokenizer read from a folder on disk, never
downloaded (data.tokenizer_preset names it):

- a keras-hub preset, e.g. GPT-2's (`gpt2_base_en` as keras-hub saves it, or a tokenizer's
  own `save_to_preset`): tokenizer.json names the tokenizer class, assets/tokenizer/ holds
  vocabulary.json and merges.txt;
- a Hugging Face folder whose tokenizer.json is the `tokenizers` library's own JSON.

`problem` checks the folder without TensorFlow (config validate runs it); `load` builds the
tokenizer (data/bpe.py).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ConfigError
from ..extras import require
from .bpe import PRESET, ByteLevelBPE

KEY = "data.tokenizer_preset"
TOKENIZER_FILE = "tokenizer.json"
KERAS_HUB_ASSETS = ("assets/tokenizer/vocabulary.json", "assets/tokenizer/merges.txt")
WHAT = ("a keras-hub preset folder (save_to_preset; GPT-2's has assets/tokenizer/"
        "vocabulary.json and merges.txt) or a Hugging Face folder with tokenizer.json")


def problem(path: str) -> str | None:
    """Why the folder cannot be a preset tokenizer, or None."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        return f"{folder} {what}; give {WHAT} (presets are never downloaded)"
    try:
        contents = _contents(folder)
    except FileNotFoundError:
        return f"{folder} has no {TOKENIZER_FILE}; give {WHAT}"
    except (OSError, UnicodeDecodeError, ValueError) as error:
        return f"{folder / TOKENIZER_FILE} is not readable JSON ({str(error).splitlines()[0]})"
    if _is_keras_hub(contents):
        missing = [name for name in KERAS_HUB_ASSETS if not (folder / name).is_file()]
        if missing:
            return (f"{folder} is a keras-hub preset of {contents.get('class_name')} without "
                    f"{', '.join(missing)}: not a byte-level BPE tokenizer (GPT-2's has them)")
    elif isinstance(contents, dict) and isinstance(contents.get("model"), dict):
        kind = contents["model"].get("type")
        if kind != "BPE":
            return (f"{folder / TOKENIZER_FILE} is a Hugging Face {kind} tokenizer; only "
                    "byte-level BPE (GPT-2's kind) is read")
    else:
        return (f"{folder / TOKENIZER_FILE} is neither a keras-hub tokenizer config nor a "
                "Hugging Face tokenizer")
    return None


def load(path: str) -> ByteLevelBPE:
    if message := problem(path):
        raise ConfigError(f"{KEY}: {message}")
    folder = Path(path).expanduser()
    contents = _contents(folder)
    where = f"{KEY}: {folder}"
    if not _is_keras_hub(contents):
        return ByteLevelBPE(PRESET, (folder / TOKENIZER_FILE).read_text(encoding="utf-8"), where)
    return ByteLevelBPE(PRESET, _keras_hub_definition(folder, contents, where), where)


def _keras_hub_definition(folder: Path, contents: dict, where: str) -> str:
    """The `tokenizers` JSON of a keras-hub byte-pair tokenizer. keras-hub (0.32) tokenizes
    eagerly with a `tokenizers` Tokenizer it builds from the vocabulary and merges, with its
    own pre-tokenizer split and special tokens; that object is taken as it is (a private
    attribute: keras-hub has no public accessor), so ids match keras-hub's tokenize()."""
    keras_hub = require("keras_hub", "data.tokenizer: preset")
    import keras

    try:
        if (folder / "config.json").is_file():  # a whole model preset, as keras-hub ships
            layer = keras_hub.tokenizers.Tokenizer.from_preset(str(folder))
        else:  # a tokenizer saved alone has no backbone config for from_preset to check:
            # rebuilt from its own config and assets, the two steps from_preset takes
            layer = keras.saving.deserialize_keras_object(contents)
            layer.load_preset_assets(str(folder))
    except Exception as error:  # keras-hub raises ValueError, TypeError, KeyError, OSError
        raise ConfigError(f"{where}: keras-hub cannot read its tokenizer "
                          f"({' '.join(str(error).split())[:200]})") from None
    if not isinstance(layer, keras_hub.tokenizers.BytePairTokenizer):
        raise ConfigError(f"{where}: a {type(layer).__name__}, not a byte-level BPE tokenizer "
                          "(GPT2Tokenizer and other BytePairTokenizers are read)")
    inner = getattr(layer, "_tokenizer", None)
    library = require("tokenizers", "data.tokenizer: preset")
    if not isinstance(inner, library.Tokenizer):
        raise ConfigError(f"{where}: this keras-hub ({keras_hub.__version__}) keeps no "
                          "tokenizers-library Tokenizer; install keras-hub 0.32")
    return inner.to_str()


def _contents(folder: Path):
    return json.loads((folder / TOKENIZER_FILE).read_text(encoding="utf-8"))


def _is_keras_hub(contents) -> bool:
    return isinstance(contents, dict) and "class_name" in contents and "config" in contents
