"""generate: continue a prompt with a trained language model, streaming the text."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ..cli_help import choices
from .common import Debug, RunPath, Unsafe, Verbose, app, stderr


class GenerateFormat(StrEnum):
    text = "text"
    jsonl = "jsonl"


@app.command(epilog="""bigmodel generate runs/gpt_quickstart --prompt "The for statement" --seed 1
                         bigmodel generate runs/gpt_quickstart --prompt-file p.txt --num-samples 3 \
                             --format jsonl""")
def generate(run_dir: RunPath,
             prompt: Annotated[str | None, typer.Option(
                 help="The text to continue (default: stdin, when it is not a terminal).",
                 show_default=False)] = None,
             prompt_file: Annotated[Path | None, typer.Option(
                 metavar="FILE", help="Read the prompt from this file.",
                 show_default=False)] = None,
             max_tokens: Annotated[int, typer.Option(min=1, metavar="N",
                                                     help="Tokens to generate.")] = 200,
             temperature: Annotated[float, typer.Option(
                 min=0.0, metavar="T", help="Sampling temperature; 0 is greedy.")] = 0.8,
             top_k: Annotated[int | None, typer.Option(
                 min=1, metavar="K", help="Sample from the K likeliest tokens only.")] = 200,
             top_p: Annotated[float | None, typer.Option(
                 metavar="P", help="Sample from the likeliest tokens holding probability P.",
                 show_default=False)] = None,
             seed: Annotated[int | None, typer.Option(
                 metavar="S", help="Random seed: the same seed gives the same text "
                                   "(default: a new one, printed).", show_default=False)] = None,
             num_samples: Annotated[int, typer.Option(min=1, metavar="N",
                                                      help="Samples to generate.")] = 1,
             output_format: Annotated[GenerateFormat, typer.Option(
                 "--format", metavar=choices(GenerateFormat),
                 help="text streams to the terminal; jsonl prints one JSON line per sample."
             )] = GenerateFormat.text,
             unsafe: Unsafe = False, debug: Debug = False, verbose: Verbose = False) -> None:
    """Continue a prompt with a trained language model.

    The run is one of model.family gpt. The text streams as it is made; the speed (tokens/s)
    goes to stderr. Sample i uses seed S + i.
    """
    import json
    import secrets

    from ..errors import UsageError
    from ..predict import generate as generation

    if prompt is not None and prompt_file is not None:
        raise UsageError("--prompt and --prompt-file: give one of them")
    if prompt_file is not None:
        try:
            prompt = prompt_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"--prompt-file {prompt_file}: cannot read it as UTF-8 text "
                             f"({error})") from None
    elif prompt is None:
        prompt = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    sampling = generation.Sampling(temperature, top_k, top_p)
    sampling.check()
    seed = secrets.randbelow(2**31) if seed is None else seed
    decoder, tokenizer = generation.load(run_dir, verbose, unsafe)
    for number in range(num_samples):
        streaming = output_format == GenerateFormat.text
        if streaming:
            if number:
                sys.stdout.write("\n\n")
            sys.stdout.write(prompt)
            sys.stdout.flush()

        def write(piece: str) -> None:
            sys.stdout.write(piece)
            sys.stdout.flush()

        sample = generation.generate(decoder, tokenizer, prompt, max_tokens, sampling,
                                     seed + number, write if streaming else None)
        if streaming:
            sys.stdout.write("\n")
            sys.stdout.flush()
            stderr.print(f"{sample.tokens} tokens, {sample.tokens_per_second:,.0f} tokens/s "
                         f"(seed {sample.seed})")
        else:
            print(json.dumps(sample.to_dict(number)), flush=True)
