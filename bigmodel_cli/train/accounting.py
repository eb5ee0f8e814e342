"""The privacy spent by DP-SGD, computed by Google's dp-accounting (RDP and PLD accountants).

The accountant's event must match the sampler actually used:
- poisson: each example joins each step independently with probability q = B/N; a step is a
  `PoissonSampledDpEvent(q, GaussianDpEvent(sigma))`, composed over the steps taken. Sampling
  amplifies privacy: this is the epsilon DP-SGD papers report.
- shuffle: batches cut from a new permutation each pass. An example is in exactly one batch
  of each pass, and batches of one pass are not independent samples, so no amplification is
  claimed: each pass (a partial one included) is one Gaussian mechanism,
  `SelfComposedDpEvent(GaussianDpEvent(sigma), passes)`. An honest bound, and a much weaker
  guarantee (larger epsilon) for the same noise.
The state of the accountant is the number of steps and the sampling: a resumed run is exact.
Epsilon is reported for both accountants; the PLD one (tighter, its discretization rounded
pessimistically) is the one that targets and budgets use.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from ..errors import ConfigError

NEEDED_FOR = "training.privacy"
# PLD's grid: 1e-3 gave epsilon within 0.01 of 1e-4 (the library's default) at 48 to 20,000
# steps, in ~0.2 s instead of 1.5-3.5 s per call; it rounds pessimistically, so still a bound.
PLD_DISCRETIZATION = 1e-3
SEARCH_TOLERANCE = 0.01  # a searched sigma spends between 99% and 100% of target_epsilon


@dataclass(frozen=True)
class Sampling:
    """How training batches are drawn: what the accountant's event is built from."""

    kind: str  # poisson | shuffle
    examples: int  # N
    batch_size: int  # B: the expected batch size (poisson) or the fixed one (shuffle)

    @property
    def rate(self) -> float:
        return min(1.0, self.batch_size / self.examples)

    @property
    def batches_per_pass(self) -> int:
        return math.ceil(self.examples / self.batch_size)


def default_delta(examples: int) -> float:
    """1/N rounded down to a power of ten: below 1/N, as a delta must be to mean anything."""
    return 10.0 ** math.floor(math.log10(1.0 / examples))


def dp_event(sampling: Sampling, noise_multiplier: float, steps: int):
    dp = _library()
    gaussian = dp.GaussianDpEvent(noise_multiplier)
    if sampling.kind == "poisson":
        return dp.SelfComposedDpEvent(dp.PoissonSampledDpEvent(sampling.rate, gaussian), steps)
    passes = math.ceil(steps / sampling.batches_per_pass)
    return dp.SelfComposedDpEvent(gaussian, passes)


def epsilons(sampling: Sampling, noise_multiplier: float, steps: int, delta: float) -> dict:
    """{"pld": epsilon, "rdp": epsilon} after `steps` steps; 0 before the first."""
    return dict(_epsilons(sampling, noise_multiplier, steps, delta))


@functools.lru_cache(maxsize=256)  # a run asks for its planned and last epoch's twice
def _epsilons(sampling: Sampling, noise_multiplier: float, steps: int, delta: float) -> tuple:
    if steps <= 0:
        return (("pld", 0.0), ("rdp", 0.0))
    _library()
    from dp_accounting import pld, rdp

    event = dp_event(sampling, noise_multiplier, steps)
    found = {}
    for name, accountant in (("pld", pld.PLDAccountant(
            value_discretization_interval=PLD_DISCRETIZATION)), ("rdp", rdp.RdpAccountant())):
        accountant.compose(event)
        found[name] = float(accountant.get_epsilon(delta))
    return tuple(found.items())


@functools.lru_cache(maxsize=1024)  # searches and budgets ask again for the same steps
def epsilon(sampling: Sampling, noise_multiplier: float, steps: int, delta: float) -> float:
    """The epsilon targets and budgets use (PLD)."""
    if steps <= 0:
        return 0.0
    _library()
    from dp_accounting import pld

    accountant = pld.PLDAccountant(value_discretization_interval=PLD_DISCRETIZATION)
    accountant.compose(dp_event(sampling, noise_multiplier, steps))
    return float(accountant.get_epsilon(delta))


def noise_for_target(sampling: Sampling, steps: int, delta: float, target: float) -> float:
    """The noise multiplier whose epsilon after `steps` is within 1% below `target`.

    Epsilon falls as sigma grows: double sigma until it is under the target, then bisect in
    [sigma / 2, sigma] until the epsilon lies in [0.99 target, target]."""
    high = 1.0
    while epsilon(sampling, high, steps, delta) > target:
        high *= 2
        if high > 1e4:
            raise ConfigError(f"training.privacy.target_epsilon {target}: no noise multiplier "
                              f"up to 1e4 reaches it in {steps:,} steps; raise the target or "
                              "train fewer steps")
    low = high / 2 if high > 1.0 else 0.0  # epsilon(low) > target >= epsilon(high)
    for _ in range(60):
        if epsilon(sampling, high, steps, delta) >= (1 - SEARCH_TOLERANCE) * target:
            break
        middle = (low + high) / 2
        if epsilon(sampling, middle, steps, delta) > target:
            low = middle
        else:
            high = middle
    return high


def steps_within(sampling: Sampling, noise_multiplier: float, delta: float, budget: float,
                 steps_per_epoch: int, epochs: int) -> int:
    """How many whole epochs (up to `epochs`) keep epsilon within `budget`."""
    low, high = 0, epochs  # epsilon grows with the epochs: bisect on them
    while low < high:
        middle = (low + high + 1) // 2
        if epsilon(sampling, noise_multiplier, middle * steps_per_epoch, delta) <= budget:
            low = middle
        else:
            high = middle - 1
    return low


@dataclass(frozen=True)
class Plan:
    """DP-SGD settings of a run, resolved before its first step."""

    l2_norm_clip: float
    noise_multiplier: float
    delta: float
    sampling: Sampling
    searched: bool  # sigma found from target_epsilon
    epochs_within_budget: int | None  # None: no budget, or the whole run fits in it
    budget: float | None
    delta_is_default: bool = False

    def spent(self, steps: int) -> dict:
        return epsilons(self.sampling, self.noise_multiplier, steps, self.delta)

    def report(self, steps: int) -> dict:
        """What results.json says of the run's privacy."""
        spent = self.spent(steps)
        return {"epsilon": spent["pld"], "epsilon_rdp": spent["rdp"], "delta": self.delta,
                "noise_multiplier": self.noise_multiplier, "l2_norm_clip": self.l2_norm_clip,
                "sampling": self.sampling.kind, "steps": steps,
                "examples": self.sampling.examples, "batch_size": self.sampling.batch_size,
                "epsilon_budget": self.budget, "accountant": "dp-accounting (PLD; RDP)"}


def make_plan(privacy, examples: int, batch_size: int, steps_per_epoch: int,
              epochs: int) -> Plan:
    """Resolve delta, sigma (searched for a target_epsilon) and the epochs a budget allows."""
    sampling = Sampling(privacy.sampling, examples, batch_size)
    delta = privacy.delta or default_delta(examples)
    total = steps_per_epoch * epochs
    sigma = privacy.noise_multiplier or noise_for_target(sampling, total, delta,
                                                         privacy.target_epsilon)
    within = None
    if privacy.epsilon_budget is not None:
        within = steps_within(sampling, sigma, delta, privacy.epsilon_budget, steps_per_epoch,
                              epochs)
        if within == 0:
            first = epsilon(sampling, sigma, steps_per_epoch, delta)
            raise ConfigError(
                f"training.privacy.epsilon_budget {privacy.epsilon_budget}: one epoch already "
                f"spends epsilon {first:.3f}; raise noise_multiplier, the budget, or lower "
                "training.steps_per_epoch")
        within = None if within >= epochs else within
    return Plan(privacy.l2_norm_clip, sigma, delta, sampling, privacy.noise_multiplier is None,
                within, privacy.epsilon_budget, privacy.delta is None)


def describe(plan: Plan, steps: int, epochs: int) -> list[str]:
    """The lines printed before training: the noise, delta, sampling and epsilon planned."""
    sampling = plan.sampling
    how = (f"Poisson, rate {sampling.rate:.4g} (expected batch {sampling.batch_size})"
           if sampling.kind == "poisson" else
           f"shuffled fixed batches of {sampling.batch_size}: no amplification by sampling, "
           "each pass counted whole (weaker than poisson)")
    sigma = (f"noise multiplier {plan.noise_multiplier:.4f} (searched for the target epsilon)"
             if plan.searched else f"noise multiplier {plan.noise_multiplier:g}")
    spent = plan.spent(steps)
    delta = f"delta {plan.delta:g}" + (" (1/N rounded down to a power of ten)"
                                       if plan.delta_is_default else "")
    lines = [f"privacy: DP-SGD, clip {plan.l2_norm_clip:g}, {sigma}, {delta}; sampling {how}",
             f"privacy: planned epsilon after {epochs} epochs ({steps:,} steps): "
             f"{spent['pld']:.3f} (PLD), {spent['rdp']:.3f} (RDP), at delta {plan.delta:g}"]
    if plan.epochs_within_budget is not None:
        lines.append(f"privacy: epsilon_budget {plan.budget:g} allows "
                     f"{plan.epochs_within_budget} of {epochs} epochs; training stops there")
    return lines


def _library():
    from ..extras import require

    return require("dp_accounting", NEEDED_FOR)
