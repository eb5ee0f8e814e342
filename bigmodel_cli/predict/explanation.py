"""One explained input: what was predicted, what is explained, and the scores of its parts.

Made by explain.py (and explain_lm.py for language models), written by explain_render.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .attribution import Attribution


@dataclass
class Explanation:
    input: str  # the input as the user named it
    kind: str  # the input kind: image | vector | tokens | text | table
    method: str
    steps: int
    baseline: str
    predicted: dict  # {"class", "probability"} or, for regression, {"value"}
    target: str  # what is explained: a class name, or "value"
    attribution: Attribution
    # images: the pixels and an (height, width) map; otherwise (name, value, score) per part.
    image: np.ndarray | None = None
    heat_map: np.ndarray | None = None
    parts: list[tuple[str, str, float]] = field(default_factory=list)
    separator: str = " "  # between parts when shown: "" for a language model's characters

    def summary(self) -> dict:
        """What explanations.json holds for this input (the heat map is added by the writer)."""
        found = self.attribution
        return {
            "input": self.input, "kind": self.kind, "method": self.method,
            "steps": self.steps if self.method == "integrated_gradients" else None,
            "baseline": None if self.method == "saliency" else self.baseline,
            "predicted": self.predicted, "target": self.target,
            "target_value": found.value, "baseline_value": found.baseline_value,
            "attribution_sum": found.total, "completeness_gap": found.gap,
            "completeness_gap_fraction": found.gap_fraction,
            "parts": [{"name": name, "value": value, "score": score}
                      for name, value, score in self.parts],
        }
