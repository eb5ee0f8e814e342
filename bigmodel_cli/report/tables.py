"""Rich tables of an evaluation for the terminal: metrics, per-class scores, the confusion
matrix (counts), each a renderable the command prints."""

from __future__ import annotations

from rich.table import Table

from .plots import MAX_ANNOTATED_CLASSES


def number(value) -> str:
    if isinstance(value, bool | str) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4f}"


def scalars(result: dict) -> dict:
    """The metrics of an evaluation: its plain numbers, not the tables or facts."""
    return {name: value for name, value in result.items()
            if isinstance(value, int | float) and name != "examples"}


def evaluation_tables(result: dict) -> list[Table]:
    tables = [_metrics(scalars(result))]
    report = result.get("report", {})
    if "per_class" in report:
        tables.append(_per_class(report["per_class"]))
    matrix = report.get("confusion_matrix")
    if matrix and len(matrix["classes"]) <= MAX_ANNOTATED_CLASSES:
        tables.append(_confusion(matrix))
    return tables


def _metrics(numbers: dict) -> Table:
    table = Table(title="metrics")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in numbers.items():
        table.add_row(name, number(value))
    return table


def _per_class(per_class: dict) -> Table:
    table = Table(title="per class")
    for heading in ("class", "precision", "recall", "f1", "support"):
        table.add_column(heading, justify="left" if heading == "class" else "right")
    for row in per_class["classes"]:
        table.add_row(row["class"], *(number(row[key])
                                      for key in ("precision", "recall", "f1", "support")))
    table.add_section()
    for average, row in per_class["averages"].items():
        table.add_row(f"{average} avg", *(number(row[key])
                                          for key in ("precision", "recall", "f1", "support")))
    return table


def _confusion(matrix: dict) -> Table:
    table = Table(title="confusion matrix (rows: true, columns: predicted)")
    table.add_column("")
    for name in matrix["classes"]:
        table.add_column(name, justify="right")
    for name, row in zip(matrix["classes"], matrix["counts"], strict=True):
        table.add_row(name, *(f"{count:,}" for count in row))
    return table
