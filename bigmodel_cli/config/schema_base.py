"""What every config section shares: unknown keys are errors, and a few constrained types."""

from __future__ import annotations

import functools
import operator
import typing
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, lt=1)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def keyed_by(key: str, *section_classes: type[Section]) -> dict[str, type[Section]]:
    """{name: class} for sections told apart by the Literal of `key` (model.family,
    data.source), so that each name is written once, in its class."""
    return {typing.get_args(section_class.model_fields[key].annotation)[0]: section_class
            for section_class in section_classes}


def one_of_sections(key: str, classes: dict[str, type[Section]]):
    """The type of a section that is one of `classes`, picked by the value of `key`."""
    return Annotated[functools.reduce(operator.or_, classes.values()), Field(discriminator=key)]
