"""Explanations as files and terminal lines: PNG pictures (matplotlib, Agg), HTML for text,
one explanations.json for all inputs. Every file is written atomically (temp name, rename).

- images: per input the image, the heat map (green raises the explained output, pink lowers it)
  and the overlay, side by side; grid.png with every overlay when there are several inputs;
- tokens and text: the tokens with a background coloured by score, in explanations.html and
  in the terminal (Rich);
- tables and vectors: per input a bar chart of the column (or feature) scores, largest first.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np

from .. import atomic
from ..data.spec import IMAGE, TABLE, TEXT, TOKENS, VECTOR
from ..errors import UsageError
from .explanation import Explanation

FORMATS = {IMAGE: ("png", "json"), VECTOR: ("png", "json"), TABLE: ("png", "json"),
           TOKENS: ("html", "json"), TEXT: ("html", "json")}
DPI = 100
IMAGE_FIGURE = (9.0, 3.6)  # inches: image, heat map, overlay; 900 x 360 pixels
BAR_FIGURE_WIDTH = 8.0
MOST_BARS = 20  # parts shown in a bar chart; the JSON has every one
GRID_COLUMNS = 6
METHOD_WORDS = {"integrated_gradients": "integrated gradients", "saliency": "saliency",
                "gradient_x_input": "gradient x input"}


def check_formats(formats: list[str] | None, kind: str) -> list[str]:
    """The formats to write: those asked for, else all that the input kind has."""
    taken = FORMATS[kind]
    for name in formats or []:
        if name not in taken:
            raise UsageError(f"--format {name}: not for {kind} inputs; use "
                             f"{' or '.join(taken)}")
    return list(dict.fromkeys(formats)) if formats else list(taken)


def write(explanations: list[Explanation], folder: Path, formats: list[str]) -> list[Path]:
    """Write the files of `formats` into `folder`; the paths written, in order."""
    folder = Path(folder)
    written = []
    kind = explanations[0].kind
    if "png" in formats:
        pyplot = _pyplot()
        for number, explanation in enumerate(explanations):
            path = folder / f"{number:03d}-{_file_name(explanation.input)}.png"
            figure = _image_figure(pyplot, explanation) if kind == IMAGE \
                else _bar_figure(pyplot, explanation)
            written.append(_save(pyplot, figure, path))
        if kind == IMAGE and len(explanations) > 1:
            written.append(_save(pyplot, _grid_figure(pyplot, explanations), folder / "grid.png"))
    if "html" in formats:
        path = folder / "explanations.html"
        atomic.write_text(path, _html(explanations))
        written.append(path)
    if "json" in formats:
        path = folder / "explanations.json"
        atomic.write_text(path, json.dumps([_json(item) for item in explanations], indent=1)
                          + "\n")
        written.append(path)
    return written


def describe(explanation: Explanation) -> str:
    """One line: what was predicted, what is explained, how, and the completeness gap."""
    return " · ".join(_describe_lines(explanation))


def _describe_lines(explanation: Explanation) -> tuple[str, str]:
    said = _said(explanation.predicted)
    how = METHOD_WORDS[explanation.method]
    if explanation.method == "integrated_gradients":
        how += f", {explanation.steps} steps"
    if explanation.method != "saliency":
        how += f", baseline {explanation.baseline}"
    return f"predicted {said} · explains {explanation.target}", f"{how} · {gap_words(explanation)}"


def _said(predicted: dict, digits: int = 3) -> str:
    if "value" in predicted:
        return f"{predicted['value']:.4g}"
    return f"{predicted['class']} ({predicted['probability']:.{digits}f})"


def _title(explanation: Explanation, width: int) -> str:
    return "\n".join([_tail(explanation.input, width), *_describe_lines(explanation)])


def gap_words(explanation: Explanation) -> str:
    found = explanation.attribution
    if found.gap is None:
        return "no completeness check (saliency)"
    fraction = "" if found.gap_fraction is None else f"{found.gap_fraction:.1%} of "
    return (f"completeness gap {found.gap:.2g} ({fraction}"
            f"f(x) - f(baseline) = {found.value - found.baseline_value:.3g})")


def token_text(explanation: Explanation):
    """The tokens coloured by score, for the terminal."""
    from rich.text import Text

    text = Text()
    largest = _largest(explanation)
    for word, _, score in explanation.parts:
        strength = min(1.0, abs(score) / largest)
        red, green, blue = _colour(score, strength)
        text.append(_visible(word, explanation), style=f"on rgb({red},{green},{blue})")
        text.append(explanation.separator)
    return text


# --- pictures ------------------------------------------------------------------------------------

def _pyplot():
    from ..extras import require

    matplotlib = require("matplotlib", "bigmodel explain's pictures")
    matplotlib.use("Agg")  # files only, no window
    import matplotlib.pyplot as pyplot

    return pyplot


def _image_figure(pyplot, explanation: Explanation):
    figure, axes = pyplot.subplots(1, 3, figsize=IMAGE_FIGURE, dpi=DPI)
    heat = explanation.heat_map
    limit = float(np.abs(heat).max()) or 1.0
    _show_image(axes[0], explanation.image)
    axes[0].set_title("input", fontsize=9)
    shown = axes[1].imshow(heat, cmap="PiYG", vmin=-limit, vmax=limit)
    axes[1].set_title("attribution", fontsize=9)
    figure.colorbar(shown, ax=axes[1], fraction=0.046, pad=0.04).ax.tick_params(labelsize=7)
    _overlay(axes[2], explanation)
    axes[2].set_title("overlay (|attribution|)", fontsize=9)
    for axis in axes:
        axis.set_axis_off()
    figure.suptitle(_title(explanation, 90), fontsize=8)
    figure.subplots_adjust(left=0.02, right=0.98, bottom=0.03, top=0.76, wspace=0.15)
    return figure


def _show_image(axis, image: np.ndarray, gray: bool = False):
    pixels = np.clip(image / 255.0, 0, 1)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    if gray and pixels.ndim == 3:
        pixels = pixels.mean(axis=-1)
    axis.imshow(pixels, cmap="gray" if pixels.ndim == 2 else None, vmin=0, vmax=1)


def _overlay(axis, explanation: Explanation):
    _show_image(axis, explanation.image, gray=True)
    magnitude = np.abs(explanation.heat_map)
    axis.imshow(magnitude / (magnitude.max() or 1.0), cmap="inferno", alpha=0.55, vmin=0,
                vmax=1)


def _grid_figure(pyplot, explanations: list[Explanation]):
    columns = min(GRID_COLUMNS, len(explanations))
    rows = -(-len(explanations) // columns)
    figure, axes = pyplot.subplots(rows, columns, figsize=(2.0 * columns, 2.3 * rows), dpi=DPI,
                                   squeeze=False)
    for axis in axes.flat:
        axis.set_axis_off()
    for axis, explanation in zip(axes.flat, explanations, strict=False):
        _overlay(axis, explanation)
        axis.set_title(f"{_tail(explanation.input, 24)}\n{_said(explanation.predicted, 2)}",
                       fontsize=7)
    figure.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.85, hspace=0.35)
    return figure


def _bar_figure(pyplot, explanation: Explanation):
    parts = sorted(explanation.parts, key=lambda part: -abs(part[2]))[:MOST_BARS]
    figure, axis = pyplot.subplots(figsize=(BAR_FIGURE_WIDTH, 1.6 + 0.3 * len(parts)), dpi=DPI)
    names = [_short(f"{name} = {value}", 40) for name, value, _ in parts][::-1]
    scores = [score for _, _, score in parts][::-1]
    axis.barh(names, scores, color=["#2ea043" if score >= 0 else "#d62728" for score in scores])
    axis.axvline(0, color="black", linewidth=0.8)
    axis.set_xlabel("attribution (green raises the explained output, red lowers it)")
    axis.tick_params(axis="y", labelsize=8)
    axis.set_title(_title(explanation, 90), fontsize=8)
    figure.tight_layout()
    return figure


def _save(pyplot, figure, path: Path) -> Path:
    with atomic.atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=DPI)
    pyplot.close(figure)
    return path


# --- HTML and JSON -------------------------------------------------------------------------------

def _html(explanations: list[Explanation]) -> str:
    sections = []
    for explanation in explanations:
        largest = _largest(explanation)
        spans = []
        for word, token, score in explanation.parts:
            red, green, blue = _colour(score, min(1.0, abs(score) / largest))
            spans.append(f'<span style="background: rgb({red},{green},{blue})" '
                         f'title="{score:.4g} (id {html.escape(token)})">'
                         f"{html.escape(_visible(word, explanation))}</span>")
        sections.append(f"<h2>{html.escape(explanation.input)}</h2>\n"
                        f"<p class=\"about\">{html.escape(describe(explanation))}</p>\n"
                        f"<p class=\"tokens\">{explanation.separator.join(spans)}</p>")
    return ("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>bigmodel explain"
            "</title>\n<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
            ".tokens{line-height:2;font-size:1.1em}.tokens span{padding:2px 3px;border-radius:3px}"
            ".about{color:#555;font-size:.9em}</style></head><body>\n"
            "<p>Green raises the explained output, red lowers it.</p>\n"
            + "\n".join(sections) + "\n</body></html>\n")


def _json(explanation: Explanation) -> dict:
    found = explanation.summary()
    if explanation.heat_map is not None:
        found["heat_map"] = np.round(explanation.heat_map.astype(np.float64), 8).tolist()
    return found


def _visible(word: str, explanation: Explanation) -> str:
    """A language model's characters as seen: a new line or tab as a sign, not white space."""
    if explanation.separator:
        return word
    return word.replace("\n", "\u21b5").replace("\t", "\u2192")


def _largest(explanation: Explanation) -> float:
    return max((abs(score) for _, _, score in explanation.parts), default=0.0) or 1.0


def _colour(score: float, strength: float) -> tuple[int, int, int]:
    """White for 0, towards green for a positive score and red for a negative one."""
    full = (46, 160, 67) if score >= 0 else (214, 39, 40)
    return tuple(int(round(255 + (channel - 255) * strength)) for channel in full)


def _file_name(label: str) -> str:
    """A file name from an input's label, its folders left out (the number in front keeps
    names apart): photos/digit.png -> digit, rows.csv:3 -> rows.csv_3."""
    label = re.sub(r".*[/\\]", "", label)
    label = re.sub(r"\.(png|jpe?g|bmp|gif)$", "", label, flags=re.IGNORECASE)
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("._")[-60:] or "input"


def _tail(text: str, width: int) -> str:
    """The end of a long label: the file name matters more than the folders above it."""
    return text if len(text) <= width else "…" + text[-(width - 1):]


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
