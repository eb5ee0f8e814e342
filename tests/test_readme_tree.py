"""The README's package tree lists every module of bigmodel_cli, and only those."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "bigmodel_cli"


def tree_in_readme() -> set[str]:
    """Paths of the code block that starts with `bigmodel_cli/` under "## Development"."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    development = text.split("\n## Development", 1)[1]
    block = re.search(r"```text\nbigmodel_cli/\n(.*?)```", development, re.DOTALL).group(1)
    paths, folders = set(), []
    for line in block.splitlines():
        words = line.split()
        depth = (len(line) - len(line.lstrip())) // 2 - 1
        folders = folders[:depth]
        if words[0].endswith("/"):
            folders.append(words[0].rstrip("/"))
            continue
        # A line may list several small modules before its description.
        for name in words:
            if not name.endswith(".py"):
                break
            paths.add("/".join([*folders, name]))
    return paths


def test_the_readme_tree_matches_the_package():
    modules = {path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py")
               if path.name not in ("__init__.py", "__main__.py")}
    listed = tree_in_readme()
    assert sorted(modules - listed) == [], "modules missing from the README's tree"
    assert sorted(listed - modules) == [], "the README's tree names modules that do not exist"
