"""Where keras-hub reads a preset from: its folder, the local cache of a hub preset, or the hub.

`preset_folder` runs before any data is read or model built: a hub preset that is not in the
cache and cannot be downloaded (no network) stops the run with one line that names the preset,
the cache folder and the way to train from a folder instead. A cached hub preset is read from
its cache folder, so a run never asks the network for what it already has.
"""

from __future__ import annotations

from pathlib import Path

from ..config import presets
from ..errors import ConfigError, RunError, did_you_mean
from ..extras import require

KAGGLE, HF = "kaggle://", "hf://"


def preset_folder(preset: str) -> str:
    """A local folder holding the preset, or (online) the hub handle keras-hub will download."""
    if not presets.is_hub(preset):
        problem = presets.problem(preset)
        if problem:
            raise ConfigError(f"model.preset: {problem}")
        return str(presets.local_folder(preset))
    require("keras_hub", "model.family: pretrained")
    from keras_hub.src.utils import preset_utils

    handle = _handle(preset, preset_utils.BUILTIN_PRESETS)
    cached = cached_folder(handle)
    if cached is not None:
        return str(cached)
    try:  # the first file of the preset; keras-hub downloads the rest as it loads them
        preset_utils.get_file(handle, presets.CONFIG_FILE)
    except Exception as error:  # requests' ConnectionError, kagglehub's and HF's errors
        reason = " ".join(str(error).split())[:200]
        raise RunError(
            f"model.preset: '{preset}' is not in keras-hub's local cache ({cache_folder(handle)}) "
            f"and could not be downloaded ({type(error).__name__}: {reason}); connect once to "
            "download it, or save the preset to a folder where a network is (keras_hub.models."
            "Backbone.from_preset(...) and its tokenizer, .save_to_preset('path/to/folder')), "
            "copy it here and set model.preset: path/to/folder") from None
    return handle


def _handle(preset: str, builtin: dict) -> str:
    if preset.startswith((KAGGLE, HF)):
        return preset
    if preset in builtin:
        return builtin[preset]["kaggle_handle"]
    raise ConfigError(f"model.preset: '{preset}' is no keras-hub preset name"
                      f"{did_you_mean(preset, builtin)}, no kaggle:// or hf:// handle and no "
                      "folder here; see keras_hub.models.Backbone.presets for the names")


# The weights a cached preset must hold to be read from its folder: keras-hub downloads a
# preset file by file, so a config.json alone (what preset_folder fetches first) is not one.
WEIGHTS = ("model.weights.h5", "model.weights.json", "model.safetensors",
           "model.safetensors.index.json")


def cached_folder(handle: str) -> Path | None:
    """The cache folder of a hub preset whose config and weights are on disk, or None."""
    if handle.startswith(HF):
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(handle[len(HF):], presets.CONFIG_FILE)
        folder = Path(found).parent if isinstance(found, str) else None
        return folder if folder is not None and _complete(folder) else None
    parts = handle[len(KAGGLE):].split("/")  # owner/model/framework/variation[/version]
    folder = cache_folder(handle)
    if len(parts) == 5:
        versions = [folder / parts[4]]
    else:  # no version asked for: the newest one cached
        versions = sorted((path for path in folder.glob("*") if path.name.isdigit()),
                          key=lambda path: int(path.name), reverse=True)
    return next((path for path in versions if _complete(path)), None)


def _complete(folder: Path) -> bool:
    return (folder / presets.CONFIG_FILE).exists() and any(
        (folder / name).exists() for name in WEIGHTS)


def cache_folder(handle: str) -> Path:
    """Where keras-hub's downloads of `handle` go (kagglehub's or Hugging Face's cache)."""
    if handle.startswith(HF):
        from huggingface_hub import constants

        return Path(constants.HF_HUB_CACHE)
    from kagglehub.config import get_cache_folder

    owner_model_framework_variation = handle[len(KAGGLE):].split("/")[:4]
    return Path(get_cache_folder(), "models", *owner_model_framework_variation)

