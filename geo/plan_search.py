"""The k-crew planner's local search: geo.local_search with this planner's moves, every job re-timed.

Public API:
    improve(seqs, sim, weight, position, deadline, fixed=()) -> (cost, converged)   in place on `seqs`
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from geo import local_search
from geo.plan_simulator import Simulator

EXHAUSTIVE_JOBS = 60  # up to this many repairs, local search tries every move and swap


def improve(
    seqs: list[list[int]], sim: Simulator, weight: np.ndarray, position: Sequence[int],
    deadline: Callable[[], bool] | None, fixed: Sequence[int] = (),
) -> tuple[float, bool]:
    """First-improvement local search (adjacent swaps, moves and swaps between crews); returns cost, converged.

    The first `fixed[c]` jobs of crew c (its commitments) never move, and nothing is put before them. Up to
    EXHAUSTIVE_JOBS repairs every move and swap is tried; above, each job tries the swap with its successor and,
    on every other crew, the positions nearest its start time and its rank.
    """
    head = [fixed[c] if c < len(fixed) else 0 for c in range(len(seqs))]
    pinned = {j for c, seq in enumerate(seqs) for j in seq[:head[c]]}
    finish = sim.finish(seqs)
    jobs = [j for seq in seqs for j in seq]
    exhaustive = len(jobs) <= EXHAUSTIVE_JOBS

    def candidates(seqs: Sequence[Sequence[int]], finish: np.ndarray, j: int, c: int,
                   i: int) -> list[local_search.Move]:
        out: list[local_search.Move] = [("swap", c, i + 1)] if i + 1 < len(seqs[c]) else []
        if exhaustive:  # small plans: every move and swap, anywhere
            for d, seq in enumerate(seqs):
                out += [("move", d, q) for q in range(head[d], len(seq) + (d != c)) if (d, q) != (c, i)]
                out += [("swap", d, q) for q in range(head[d], len(seq)) if (d, q) != (c, i)]
            return out
        start = finish[j] - sim.hours[j]
        for d, seq in enumerate(seqs):
            if d == c:
                continue
            at = next((q for q in range(head[d], len(seq)) if finish[seq[q]] - sim.hours[seq[q]] >= start), len(seq))
            by_rank = next((q for q in range(head[d], len(seq)) if position[seq[q]] > position[j]), len(seq))
            out += [("move", d, q) for q in sorted({at, by_rank})]
            out += [("swap", d, q) for q in sorted({at, by_rank}) if q < len(seq)]
        return out

    in_order = np.asarray(jobs, dtype=np.intp)  # the jobs by position (a stable sort: sorted(jobs, key=position))
    in_order = in_order[np.argsort(np.asarray(position)[in_order], kind="stable")] if len(jobs) else in_order
    return local_search.improve(
        seqs, finish, float(weight @ sim.energisation(finish)), order=in_order.tolist(),
        pinned=pinned, candidates=candidates, trial=lambda seqs, _finish, _c, _d: sim.finish(seqs),
        cost=lambda finish: float(weight @ sim.energisation(finish)), deadline=deadline)
