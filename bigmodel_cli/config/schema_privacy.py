"""training.privacy: differentially private training (DP-SGD), checked without TensorFlow.

Either the noise is given (`noise_multiplier`) or the privacy wanted (`target_epsilon`, then
the noise is searched for before training). Checks that need other sections (BatchNorm,
strategies, gradient accumulation) are in `privacy_checks.py`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from .schema_base import PositiveFloat, Section


class PrivacyConfig(Section):
    l2_norm_clip: PositiveFloat = Field(
        1.0, description="C: each example's gradient is clipped to this global L2 norm")
    noise_multiplier: PositiveFloat | None = Field(
        None, description="sigma: Gaussian noise of std C x sigma is added to each step's sum")
    target_epsilon: PositiveFloat | None = Field(
        None, description="instead of noise_multiplier: the epsilon the whole run may spend; "
                          "sigma is searched for before training")
    delta: Annotated[float, Field(gt=0, lt=1)] | None = Field(
        None, description="null: 1/N rounded down to a power of ten (N: training examples)")
    sampling: Literal["poisson", "shuffle"] = Field(
        "poisson", description="poisson: each example joins a step with probability B/N "
                               "(amplified epsilon); shuffle: fixed batches of a permutation, "
                               "accounted without amplification (a much larger epsilon)")
    epsilon_budget: PositiveFloat | None = Field(
        None, description="stop training at the last epoch whose epsilon stays within this")
    secret_seed: int | None = Field(
        None, description="null: the noise and the Poisson batches come from a secret drawn "
                          "when the run starts, kept only in its backups; a number makes them "
                          "repeatable and knowable to whoever reads the config: tests only")

    @model_validator(mode="after")
    def _noise_or_target(self):
        if (self.noise_multiplier is None) == (self.target_epsilon is None):
            raise ValueError("give exactly one of noise_multiplier (the noise) or "
                             "target_epsilon (the privacy wanted; the noise is searched for)")
        if (self.target_epsilon is not None and self.epsilon_budget is not None
                and self.target_epsilon > self.epsilon_budget):
            raise ValueError(f"target_epsilon {self.target_epsilon} is above epsilon_budget "
                             f"{self.epsilon_budget}; lower the target or raise the budget")
        return self
