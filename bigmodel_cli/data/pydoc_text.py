"""Python's own help topics (`pydoc_data.topics`, ~0.46 MB of English) as one text file: a
corpus every Python has, for configs/gpt_quickstart.yaml and benchmarks/lm.py.

    python -m bigmodel_cli.data.pydoc_text data/pydoc_topics.txt
"""

from __future__ import annotations

import sys
from pathlib import Path

from .. import atomic


def text() -> str:
    from pydoc_data.topics import topics

    # Sorted by topic name: the same file on every machine with the same Python.
    return "\n\n".join(topics[name].strip() for name in sorted(topics)) + "\n"


def write(path: Path) -> Path:
    path = Path(path)
    if not path.exists():
        atomic.write_text(path, text())
    return path


if __name__ == "__main__":
    target = write(Path(sys.argv[1] if len(sys.argv) > 1 else "data/pydoc_topics.txt"))
    print(f"{target}: {target.stat().st_size:,} bytes")
