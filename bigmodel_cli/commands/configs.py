"""init and the config group: write, show, check and describe config files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..names import DATA_SOURCES, MODEL_FAMILIES, one_of
from .common import ConfigPath, Debug, Overrides, Verbose, app, config_app, stderr, stdout


@app.command(epilog="""bigmodel init > my_config.yaml
                         bigmodel init --family rnn --dataset imdb > my_config.yaml""")
def init(family: Annotated[str | None, typer.Option(
             help=f"{one_of(MODEL_FAMILIES)} (default: cnn; mlp for tables, vectors, npz).",
             show_default=False)] = None,
         dataset: Annotated[str | None, typer.Option(
             help="e.g. digits, iris, mnist, cifar10, imdb, or any tfds name.",
             show_default=False)] = None,
         source: Annotated[str | None, typer.Option(
             help=f"{one_of(DATA_SOURCES)} (default: from the dataset).",
             show_default=False)] = None,
         debug: Debug = False) -> None:
    """Print a commented starter config."""
    from ..config.starter import starter_config

    print(starter_config(family, dataset, source), end="")




@config_app.command("show", epilog="""bigmodel config show configs/quickstart.yaml --origin
                         bigmodel config show configs/quickstart.yaml --set seed=1""")
def config_show(config: ConfigPath, overrides: Overrides = None,
                origin: Annotated[bool, typer.Option(
                    "--origin", help="Note after each value the file:line or --set that set it, "
                                     "or 'default'.")] = False,
                debug: Debug = False) -> None:
    """Print a config fully resolved, as YAML.

    Bases are merged and every default is written out.
    """
    from .. import config as config_module

    raw, origins = config_module.resolve(config, overrides or [])
    loaded = config_module.validate(raw, origins, str(config))
    if origin:
        print(config_module.dump_with_origins(loaded, raw, origins), end="")
    else:
        print(config_module.dump(loaded), end="")


@config_app.command("validate", epilog="""bigmodel config validate configs/*.yaml
                         bigmodel config validate configs/quickstart.yaml --dry-run""")
def config_validate(
        configs: Annotated[list[Path], typer.Argument(
            metavar="CONFIG", help="YAML configs, e.g. configs/*.yaml.", show_default=False)],
        overrides: Overrides = None,
        dry_run: Annotated[bool, typer.Option(
            "--dry-run", help="Also build the model in its strategy and take one training "
                              "step on a random batch (imports TensorFlow; downloads "
                              "nothing).")] = False,
        debug: Debug = False, verbose: Verbose = False) -> None:
    """Check configs without training.

    Prints every mistake of every file, and an OK line for each valid one; exits with 2 if any
    is invalid. --dry-run also builds the model and takes one step.
    """
    from ..config.validate import validate_files

    code = validate_files(configs, overrides or [], dry_run, stdout, stderr, verbose, debug)
    if code:
        raise typer.Exit(code)


@config_app.command("schema", epilog="bigmodel config schema > configs/schema.json")
def config_schema() -> None:
    """Print the JSON Schema of a config file, for editors.

    configs/schema.json holds a copy.
    """
    import json

    from .. import config as config_module

    print(json.dumps(config_module.json_schema(), indent=2))
