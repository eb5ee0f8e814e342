"""The sweep file: a base config, fixed overrides, a search space over dotted config keys,
the metric and how to search. Unknown keys are errors, as in configs.

    name: quickstart_lr                  # runs/<name>/ (default: the file name)
    base: ../quickstart.yaml             # relative to this file
    set: {training.epochs: 4}            # the same for every trial
    space:
      optimizer.learning_rate: {loguniform: [1.0e-4, 1.0e-1]}
      model.dropout: {uniform: [0.0, 0.5]}
      data.batch_size: {int: [16, 64], step: 16}
      model.dense_units: {choice: [[64], [128]]}
    trials: 8
    metric: val_accuracy                 # best epoch's value; test_NAME: results.json's test
    direction: maximize                  # or minimize
    sampler: tpe                         # grid | random | tpe
    seed: 0
    pruner: median                       # or none: stop poor trials after an epoch
    storage: null                        # default sqlite:///<sweep folder>/study.db
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import Field, model_validator

from ..config.schema_base import PositiveInt, Section
from ..config.yamlio import flow, printable, read_yaml
from ..errors import ConfigError

KINDS = ("choice", "uniform", "loguniform", "int")


class Dimension(Section):
    """One searched key: exactly one of choice, uniform, loguniform, int (+ step, log)."""

    choice: list[Any] | None = None
    uniform: tuple[float, float] | None = None
    loguniform: tuple[float, float] | None = None
    int_range: tuple[int, int] | None = Field(None, alias="int")
    step: float | None = Field(None, gt=0, description="uniform and int: the grid's step")
    log: bool = False

    model_config = {**Section.model_config, "populate_by_name": True}

    @model_validator(mode="after")
    def _one_kind(self):
        given = [kind for kind in KINDS if self.bounds(kind) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(KINDS)} (got "
                             f"{', '.join(given) or 'none'}), e.g. {{loguniform: [1e-4, 1e-1]}}")
        kind = given[0]
        if kind == "choice" and not self.choice:
            raise ValueError("choice needs at least one value, e.g. {choice: [32, 64]}")
        if kind != "choice":
            low, high = self.bounds(kind)
            if not low < high:
                raise ValueError(f"{kind}: [low, high] needs low < high (got [{low}, {high}])")
            if kind == "loguniform" and low <= 0:
                raise ValueError(f"loguniform: low must be > 0 (got {low})")
        return self

    @property
    def kind(self) -> str:
        return next(kind for kind in KINDS if self.bounds(kind) is not None)

    def bounds(self, kind: str):
        return self.int_range if kind == "int" else getattr(self, kind)

    def grid(self, key: str) -> list:
        """The values a grid sampler visits: a choice's values, an int range by its step."""
        if self.kind == "choice":
            return [category(value) for value in self.choice]
        if self.kind == "int":
            low, high = self.int_range
            return list(range(low, high + 1, int(self.step or 1)))
        if self.kind == "uniform" and self.step:
            low, high = self.uniform
            count = int(round((high - low) / self.step))
            return [round(low + index * self.step, 12) for index in range(count + 1)]
        raise ConfigError(f"space.{key}: sampler grid needs choice, int or uniform with a "
                          "step; use sampler tpe or random for continuous ranges")

    def suggest(self, trial, key: str):
        """Ask an Optuna trial for this key's value (the value the config gets)."""
        kind = self.kind
        if kind == "choice":
            picked = trial.suggest_categorical(key, [category(value) for value in self.choice])
            return from_category(picked, self.choice)
        if kind == "int":
            low, high = self.int_range
            return trial.suggest_int(key, low, high, step=int(self.step or 1), log=self.log)
        low, high = self.bounds(kind)
        return trial.suggest_float(key, low, high, log=kind == "loguniform" or self.log,
                                   step=self.step if kind == "uniform" else None)


def category(value):
    """Optuna's categories are plain scalars: a list or mapping goes in as its YAML text."""
    return value if value is None or isinstance(value, bool | int | float | str) else flow(value)


def from_category(picked, choices: list):
    return next((value for value in choices if category(value) == picked), picked)


class Sweep(Section):
    name: str
    base: str = Field(description="the config every trial starts from, relative to this file")
    set: dict[str, Any] = Field(default_factory=dict,
                                description="dotted key: value, the same for every trial")
    space: dict[str, Dimension] = Field(min_length=1)
    trials: PositiveInt | None = Field(None, description="default: the grid's size; else 10")
    metric: str = "val_loss"
    direction: Literal["minimize", "maximize"] = "minimize"
    sampler: Literal["grid", "random", "tpe"] = "tpe"
    seed: int = 0
    pruner: Literal["median", "none"] = "median"
    pruner_warmup_epochs: int = Field(1, ge=0, description="epochs before a trial may be pruned")
    storage: str | None = Field(None, description="an Optuna storage URL; default "
                                                  "sqlite:///<sweep folder>/study.db")

    def grid_space(self) -> dict[str, list]:
        return {key: dimension.grid(key) for key, dimension in self.space.items()}

    def trial_count(self) -> int:
        if self.trials:
            return self.trials
        if self.sampler == "grid":
            return len(list(itertools.product(*self.grid_space().values())))
        return 10


def load(path: Path) -> tuple[Sweep, Path]:
    """The sweep file and the base config's path; a mistake names the file and the key."""
    path = Path(path)
    raw, origins = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a sweep file is a mapping with base, space, trials, "
                          "metric (see configs/sweeps/quickstart_lr.yaml)")
    raw.setdefault("name", path.stem)
    try:
        sweep = Sweep.model_validate(raw)
    except pydantic.ValidationError as error:
        lines = []
        for item in error.errors():
            keys = tuple(part for part in item["loc"] if not str(part).startswith("function"))
            where = _where(origins, keys, path)
            lines.append(printable(f"{where}: {'.'.join(map(str, keys)) or 'sweep'}: "
                                   f"{item['msg'].removeprefix('Value error, ')}"))
        raise ConfigError("\n".join(lines)) from None
    base = (path.parent / sweep.base).resolve()
    if not base.is_file():
        raise ConfigError(f"{_where(origins, ('base',), path)}: base: no config {base}; "
                          "name a config relative to the sweep file")
    if sweep.sampler == "grid":
        sweep.grid_space()  # a continuous range under grid: its error now, not mid-sweep
    return sweep, base


def _where(origins: dict, keys: tuple, path: Path) -> str:
    for length in range(len(keys), 0, -1):
        if keys[:length] in origins:
            return origins[keys[:length]]
    return str(path)


def trial_dir(folder: Path, number: int) -> Path:
    """Where trial `number` of the sweep in `folder` trains."""
    return folder / f"trial-{number:03d}"
