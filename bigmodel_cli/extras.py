"""Optional dependencies, grouped as pyproject's extras, imported only by the commands that
need them, with one line that says how to install what is missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import UsageError

# import name -> the extra of pyproject.toml that installs it
EXTRAS = {
    "keras_hub": "pretrained",
    "safetensors": "pretrained",
    "tokenizers": "pretrained",
    "matplotlib": "report",
    "optuna": "sweep",
    "dp_accounting": "privacy",
    "starlette": "serve",
    "uvicorn": "serve",
    "tf2onnx": "export",
    "onnx": "export",
    "onnxruntime": "export",
    "ai_edge_litert": "export",
}


def require(module: str, needed_for: str) -> ModuleType:
    """Import an optional module, or stop with the pip command that installs its extra."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        extra = EXTRAS.get(module, "all")
        raise UsageError(f"{needed_for} needs the Python package {module!r} ({error}); install "
                         f"it with: pip install 'bigmodel-cli[{extra}]'") from None
