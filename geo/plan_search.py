"""The k-crew planner's local search: moves and swaps within and between crews, re-simulated exactly.

Public API:
    improve(seqs, sim, weight, position, deadline, fixed=()) -> (cost, converged)   in place on `seqs`
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from geo.plan_simulator import Simulator

EXHAUSTIVE_JOBS = 60  # up to this many repairs, local search tries every move and swap


def improve(
    seqs: list[list[int]], sim: Simulator, weight: np.ndarray, position: Sequence[int],
    deadline: Callable[[], bool] | None, fixed: Sequence[int] = (),
) -> tuple[float, bool]:
    """First-improvement local search (adjacent swaps, moves and swaps between crews); returns cost, converged.

    The first `fixed[c]` jobs of crew c (its commitments) never move, and nothing is put before them.
    """
    head = [fixed[c] if c < len(fixed) else 0 for c in range(len(seqs))]
    pinned = {j for c, seq in enumerate(seqs) for j in seq[:head[c]]}
    finish = sim.finish(seqs)
    best = float(weight @ sim.energisation(finish))
    crew_of = {j: c for c, seq in enumerate(seqs) for j in seq}
    exhaustive = len(crew_of) <= EXHAUSTIVE_JOBS
    improved = True
    while improved:
        improved = False
        for j in sorted(crew_of, key=position.__getitem__):
            if j in pinned:
                continue
            c = crew_of[j]
            i = seqs[c].index(j)
            candidates: list[tuple[str, int, int]] = [("swap", c, i + 1)] if i + 1 < len(seqs[c]) else []
            if exhaustive:  # small plans: every move and swap, anywhere
                for d, seq in enumerate(seqs):
                    candidates += [("move", d, q) for q in range(head[d], len(seq) + (d != c)) if (d, q) != (c, i)]
                    candidates += [("swap", d, q) for q in range(head[d], len(seq)) if (d, q) != (c, i)]
            for d in range(len(seqs)):
                if d != c and not exhaustive:
                    start = finish[j] - sim.hours[j]
                    seq = seqs[d]
                    at = next((q for q in range(head[d], len(seq)) if finish[seq[q]] - sim.hours[seq[q]] >= start),
                              len(seq))
                    by_rank = next((q for q in range(head[d], len(seq)) if position[seq[q]] > position[j]), len(seq))
                    candidates += [("move", d, q) for q in sorted({at, by_rank})]
                    candidates += [("swap", d, q) for q in sorted({at, by_rank}) if q < len(seqs[d])]
            for kind, d, q in candidates:
                if deadline is not None and deadline():
                    return best, False
                before = ([*seqs[c]], [*seqs[d]])
                if kind == "move":
                    seqs[c].pop(i)
                    seqs[d].insert(q, j)
                else:
                    seqs[c][i], seqs[d][q] = seqs[d][q], seqs[c][i]
                trial = sim.finish(seqs)
                cost = float(weight @ sim.energisation(trial))
                if cost < best - 1e-9 * max(1.0, abs(best)):
                    best, finish, improved = cost, trial, True
                    crew_of.update({x: c for x in seqs[c]} | {x: d for x in seqs[d]})
                    break
                seqs[c], seqs[d] = before
    return best, True
