"""explain: which parts of an input made a trained run's model predict what it predicts."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ..cli_help import choices
from .common import Debug, RunPath, Unsafe, Verbose, app, stderr, stdout


class Method(StrEnum):
    """attribution.METHODS, in the same order."""

    integrated_gradients = "integrated_gradients"
    saliency = "saliency"
    gradient_x_input = "gradient_x_input"


class Baseline(StrEnum):
    auto = "auto"
    black = "black"
    zeros = "zeros"
    blur = "blur"
    pad = "pad"


class ExplainFormat(StrEnum):
    png = "png"
    html = "html"
    json = "json"


@app.command(epilog="""bigmodel explain runs/quickstart digit.png other.png
                         bigmodel explain runs/rnn_imdb "a wonderful film" --target pos""")
def explain(run_dir: RunPath,
            inputs: Annotated[list[str], typer.Argument(
                metavar="INPUT", help="What 'bigmodel predict' takes: a file, a folder, or (for "
                "text models) a raw string.", show_default=False)],
            method: Annotated[Method, typer.Option(
                metavar=choices(Method), help="How to attribute.")
            ] = Method.integrated_gradients,
            steps: Annotated[int, typer.Option(
                min=1, metavar="N", help="Integrated gradients: points on the path from the "
                "baseline to the input.")] = 64,
            baseline: Annotated[Baseline, typer.Option(
                metavar=choices(Baseline), help="What the input is compared with. auto: black "
                "for images, zeros for vectors and tables, pad for tokens and text.")
            ] = Baseline.auto,
            target: Annotated[str, typer.Option(
                metavar="predicted|CLASS", help="The output explained: the predicted class or "
                "a class name; for a language model, the next token: predicted or a token "
                "(a character).")] = "predicted",
            output: Annotated[Path | None, typer.Option(
                metavar="DIR", help="Where to write the files (default RUN/explanations).",
                show_default=False)] = None,
            output_format: Annotated[list[ExplainFormat] | None, typer.Option(
                "--format", metavar=choices(ExplainFormat),
                help="What to write (repeatable). Default: png and json for images, tables and "
                     "vectors; html and json for tokens and text.", show_default=False)] = None,
            unsafe: Unsafe = False, debug: Debug = False, verbose: Verbose = False) -> None:
    """Explain a trained run's predictions on raw inputs.

    Each input's attribution says how much each pixel, token or column moved the explained
    output. For integrated gradients and gradient x input, the scores add up to f(input) -
    f(baseline); the completeness gap printed for each input says how far they are from it,
    and a warning comes when it exceeds 5% (then raise --steps).
    """
    from ..predict import explain_render
    from ..predict.explain import explain_run
    from ..predict.inference import load_run

    run, _, spec, _ = load_run(run_dir)
    formats = explain_render.check_formats([item.value for item in output_format or []],
                                           spec.kind)
    explanations = explain_run(run_dir, inputs, method.value, steps, baseline.value, target,
                               verbose, unsafe)
    for explanation in explanations:
        stdout.print(f"{explanation.input}: {explain_render.describe(explanation)}")
        if explanation.kind in ("tokens", "text"):
            stdout.print(explain_render.token_text(explanation))
        if explanation.attribution.gap_too_large:
            advice = f"raise --steps (now {steps})" if method == Method.integrated_gradients \
                else "gradient x input adds up only for a linear model; use integrated_gradients"
            stderr.print(f"warning: {explanation.input}: the scores do not add up, "
                         f"{explain_render.gap_words(explanation)} is over 5%; {advice}",
                         style="yellow")
    folder = output if output is not None else run.path / "explanations"
    written = explain_render.write(explanations, folder, formats)
    stderr.print(f"wrote {len(written)} file(s) to {folder}")
