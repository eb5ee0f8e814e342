"""Run the real `bigmodel` command in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONFIGS = REPO / "configs"
# Every shipped config; configs/sweeps/ holds sweep files (bigmodel sweep), not configs.
SHIPPED_CONFIGS = sorted(path for path in CONFIGS.glob("**/*.yaml") if "sweeps" not in path.parts)


def bigmodel(*arguments, cwd: Path | None = None, timeout: float = 300):
    # PYTHONPATH: from another cwd, this checkout's bigmodel_cli, not an installed one.
    environment = {**os.environ, "COLUMNS": "200", "PYTHONWARNINGS": "ignore",
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
                                                               os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-m", "bigmodel_cli", *map(str, arguments)],
        cwd=cwd or REPO, capture_output=True, text=True, timeout=timeout, env=environment)
