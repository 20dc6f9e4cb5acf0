"""The one first-improvement local search both planners run: moves and swaps of jobs within and between crews.

Public API:
    improve(seqs, finish, best, *, order, pinned, candidates, trial, cost, allowed=None, deadline=None)
        -> (cost, converged)   in place on `seqs`

The planners differ in what they try and how they time it, and pass those in: geo.plan_search (crews working back
to back from hour 0, every job re-timed) and geo.dispatch_search (travel, release times, shifts and skills, only
the crews a move touches re-timed). The loop is the same: jobs in `order` (commitments in `pinned` never move),
each trying its candidates in turn until one lowers the cost by more than a relative 1e-9, which is kept; passes
repeat until one changes nothing (a local optimum, converged) or `deadline()` is true before a trial.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

import numpy as np

Move = tuple[str, int, int]  # ("move" | "swap", crew, position)


def improve(
    seqs: list[list[int]], finish: np.ndarray, best: float, *, order: Sequence[int], pinned: Collection[int],
    candidates: Callable[[Sequence[Sequence[int]], np.ndarray, int, int, int], Sequence[Move]],
    trial: Callable[[Sequence[Sequence[int]], np.ndarray, int, int], np.ndarray],
    cost: Callable[[np.ndarray], float],
    allowed: Callable[[str, int, int, int, int], bool] | None = None,
    deadline: Callable[[], bool] | None = None,
) -> tuple[float, bool]:
    """Improve `seqs` in place from `finish` (its finish hours) and `best` (its cost); returns the cost and
    whether a local optimum was reached.

    `candidates(seqs, finish, j, c, i)`: the moves to try for job j at seqs[c][i]; `allowed(kind, c, d, q, j)`:
    whether a candidate may be tried (skipped otherwise, after the deadline is checked); `trial(seqs, finish, c,
    d)`: the finish hours once crews c and d changed; `cost(finish)`: the cost of finish hours.
    """
    improved = True
    while improved:
        improved = False
        crew_of = {j: c for c, seq in enumerate(seqs) for j in seq}
        for j in order:
            if j in pinned:
                continue
            c = crew_of[j]
            i = seqs[c].index(j)
            for kind, d, q in candidates(seqs, finish, j, c, i):
                if deadline is not None and deadline():
                    return best, False
                if allowed is not None and not allowed(kind, c, d, q, j):
                    continue
                before = ([*seqs[c]], [*seqs[d]])
                if kind == "move":
                    seqs[c].pop(i)
                    seqs[d].insert(q, j)
                else:
                    seqs[c][i], seqs[d][q] = seqs[d][q], seqs[c][i]
                timed = trial(seqs, finish, c, d)
                value = cost(timed)
                if value < best - 1e-9 * max(1.0, abs(best)):
                    best, finish, improved = value, timed, True
                    crew_of.update({x: c for x in seqs[c]} | {x: d for x in seqs[d]})
                    break
                seqs[c], seqs[d] = before
    return best, True
