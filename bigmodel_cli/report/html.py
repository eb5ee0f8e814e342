"""report.html: one self-contained page of a run (config, versions, results, curves, tables,
pictures embedded as base64 PNG), readable in any browser, with no file beside it."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from .. import atomic
from ..runs import RunDir, read_json
from . import evaluation, tables

STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;
padding:0.2em 0.6em;text-align:right}td:first-child,th:first-child{text-align:left}
pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:0.85em}img{max-width:100%;
border:1px solid #eee;margin:0.5em 0}.note{color:#666}"""


def _table(headings: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(heading))}</th>" for heading in headings)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(cell))}</td>" for cell in row)
                   + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value) -> str:
    return value if isinstance(value, str) else tables.number(value)


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.name)}" src="data:image/png;base64,{data}">'


def page(run: RunDir, result: dict) -> str:
    """The report of a run evaluated on a split (`result`: what inference.evaluate returns)."""
    facts = result["run"]
    header = evaluation.header(run.path, result["split"], result["examples"], facts)
    parts = [f"<h1>{html.escape(run.path.name)}</h1>",
             f'<p class="note">{html.escape(header)}</p>']
    results = read_json(run.results) if run.finished else {}
    if results:
        summary = [["epochs", results.get("epochs")], ["steps", results.get("steps")],
                   ["parameters", results.get("parameters")],
                   ["train seconds", results.get("train_seconds")],
                   ["total seconds", results.get("total_seconds")],
                   ["examples/s", (results.get("throughput") or {}).get("examples_per_second")]]
        parts += ["<h2>Run</h2>", _table(["", "value"], [row for row in summary
                                                       if row[1] is not None])]
    parts += [f"<h2>Metrics ({html.escape(result['split'])})</h2>",
              _table(["metric", "value"], [[name, value] for name, value
                                           in tables.scalars(result).items()])]
    report = result.get("report", {})
    if "per_class" in report:
        per_class = report["per_class"]
        rows = [[row["class"], row["precision"], row["recall"], row["f1"], row["support"]]
                for row in per_class["classes"]]
        rows += [[f"{name} avg", row["precision"], row["recall"], row["f1"], row["support"]]
                 for name, row in per_class["averages"].items()]
        parts += ["<h2>Per class</h2>",
                  _table(["class", "precision", "recall", "f1", "support"], rows)]
    matrix = report.get("confusion_matrix")
    if matrix:
        parts += ["<h2>Confusion matrix (rows: true, columns: predicted)</h2>",
                  _table(["", *matrix["classes"]],
                         [[name, *row] for name, row in zip(matrix["classes"], matrix["counts"],
                                                            strict=True)])]
    pictures = [run.path / name for name in result.get("plots", [])]
    if pictures:
        parts.append("<h2>Pictures</h2>")
        parts += [f"<h3>{html.escape(path.stem)}</h3>{_image(path)}" for path in pictures
                  if path.is_file()]
    parts.append("<h2>Config</h2><pre>" +
                 html.escape(run.config.read_text(encoding="utf-8")) + "</pre>")
    if run.versions.exists():
        versions = read_json(run.versions)
        parts += ["<h2>Versions</h2>", _table(["package", "version"],
                                              [[name, str(value)] for name, value
                                               in versions.items()])]
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(run.path.name)} · bigmodel report</title>"
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")


def write(run: RunDir, result: dict, output: Path | None = None) -> Path:
    path = Path(output) if output else run.report
    atomic.write_text(path, page(run, result))
    return path
