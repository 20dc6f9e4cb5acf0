"""ETR ranges: P50/P90 restoration hours from repair-time uncertainty, by seeded Monte Carlo simulation.

Public API:
    REPAIR_SIGMA                       the lognormal spread of repair time by facility kind and severity
    repair_sigma(kind, severity) -> float
    etr_percentiles(problem, seqs, *, samples=500, seed=0) -> (p50, p90)   per outage node, hours from as_of

Each repair's actual hours are planned_hours x exp(sigma x Z), Z standard normal, independent per repair: the
planned figure is the median and sigma grows with severity (a destroyed facility's repair is far less
predictable than a minor one's). These are planning assumptions, not measured spreads; replace them with
observed ratios of actual to planned hours once the repair history has enough of them. Travel and release
times are taken as given, and so are the crews' shifts (a sampled repair that no longer fits its shift waits for
the next, as the planner times it). Each sample keeps the plan (crews, order) and re-times it exactly as the
planner does, then energises the network with the same Simulator (a repair under way: its remaining hours are
the uncertain figure, from now, with no travel); the percentiles are over the samples, per node, so they are
ordered (P50 <= P90) and, for a given seed, deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from geo.dispatch_model import Problem, shift_starts
from geo.taxonomy import SEVERITIES

# sigma of ln(actual / planned hours) for minor, moderate, severe, destroyed
REPAIR_SIGMA: dict[str, tuple[float, float, float, float]] = {
    "power_plant": (0.35, 0.5, 0.7, 0.9),
    "chp_plant": (0.35, 0.5, 0.7, 0.9),
    "heat_plant": (0.35, 0.5, 0.65, 0.85),
    "substation": (0.3, 0.45, 0.6, 0.8),
    "transformer": (0.3, 0.4, 0.55, 0.75),
    "line": (0.3, 0.4, 0.5, 0.7),
    "gas_facility": (0.3, 0.45, 0.6, 0.8),
    "other": (0.3, 0.45, 0.6, 0.8),
}


def repair_sigma(kind: str, severity: str) -> float:
    """The lognormal sigma for a kind and severity (unknown kinds count as "other", unknown severities as moderate)."""
    row = REPAIR_SIGMA.get(kind, REPAIR_SIGMA["other"])
    return row[SEVERITIES.index(severity)] if severity in SEVERITIES else row[1]


def etr_percentiles(problem: Problem, seqs: Sequence[Sequence[int]], *, samples: int = 500,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """P50 and P90 of each outage node's energisation hour under lognormal repair times, the plan held fixed."""
    n_nodes = len(problem.tree.outage.node_job)
    m = len(problem.ids)
    if samples < 1 or m == 0:
        zero = np.zeros(n_nodes)
        return zero, zero.copy()
    rng = np.random.default_rng(seed)
    sigma = np.asarray([repair_sigma(s.kind, s.severity) for s in problem.sites])
    hours = problem.hours[None, :] * np.exp(sigma[None, :] * rng.standard_normal((samples, m)))
    finish = np.zeros((samples, m))
    for c, seq in enumerate(seqs):  # all samples at once, one job at a time
        t = np.full(samples, float(problem.available[c]))
        prev = -1
        for j in seq:
            if prev < 0 and problem.under_way(c, j):
                t = hours[:, j].copy()
            else:
                leg = problem.from_base[c, j] if prev < 0 else problem.between[prev, j]
                t = shift_starts(problem, c, np.maximum(t + leg, problem.release[j]), hours[:, j]) + hours[:, j]
            finish[:, j] = t
            prev = j
    energised = np.stack([problem.sim.energisation(finish[s]) for s in range(samples)])
    p50, p90 = np.percentile(energised, [50, 90], axis=0)
    return np.asarray(p50), np.asarray(p90)
