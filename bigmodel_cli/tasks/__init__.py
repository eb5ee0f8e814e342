"""Tasks: one module per kind of target, each a `Task` (base.py), and the registry.

`TASKS` maps each name to its Task; `resolve` picks the one a run trains for. The registry is
built on first use (PEP 562 `__getattr__`): importing `tasks.names`, as the config schema does,
runs this file, and must load neither numpy nor the task modules (validation stays fast).
A new task is one module plus one line in `_registry`.
"""

from __future__ import annotations

from functools import cache

from ..errors import lookup
from .names import AUTO, CONFIG_CHOICES, TASK_NAMES, classification_task

__all__ = ["AUTO", "CONFIG_CHOICES", "TASKS", "TASK_NAMES", "classification_task", "get",
           "resolve"]


@cache
def _registry() -> dict:
    from .binary import Binary
    from .language_modeling import LanguageModeling
    from .multiclass import Multiclass
    from .multilabel import Multilabel
    from .regression import Regression

    tasks = [Multiclass(), Binary(), Multilabel(), Regression(), LanguageModeling()]
    registry = {task.name: task for task in tasks}
    assert tuple(registry) == TASK_NAMES, "names.TASK_NAMES and the registry disagree"
    return registry


def __getattr__(name: str):
    if name == "TASKS":
        return _registry()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get(name: str):
    """The Task of this name; an unknown name is a ConfigError with a did-you-mean."""
    return lookup(_registry(), "task", name)


def resolve(target, requested: str = AUTO):
    """The Task a run trains for, checked against its data: `model.task`, or the data's own
    task when it says auto. `target` is the data's TargetSpec."""
    task = get(target.task if requested == AUTO else requested)
    task.check(target)
    return task
