"""The exact one-crew dispatch: a dynamic programme over subsets of repairs, with Pareto labels for release times.

Public API:
    one_crew(problem) -> (sequence, cost) | None     the optimal route of a single crew, None when too large

Which nodes have power depends only on the set of repairs done, so repairing j at hour f after set S adds
(weight powered by S + j - weight powered by S) x f to the cost. A state is (repairs done, last repair) with
labels (hour, cost so far); one label dominates another when it is no later and no costlier, since every
later finish hour is a non-decreasing function of the current hour (travel adds, release takes a max, the shift
rule of geo.dispatch_model.shift_start is non-decreasing in the hour the crew is ready). Keeping
every non-dominated label is therefore exact, with real (unrounded) times, meshed networks included. A committed
head (Problem.head) is walked first, timed as geo.dispatch_model does (a repair under way has no travel), and the
programme starts from the state it leaves, so the optimum is over the plans that keep it.
"""

from __future__ import annotations

import numpy as np

from geo.dispatch_model import Problem, crew_finish, shift_start

MAX_JOBS = 11  # 2^11 x 11 states: well under a second in pure Python


def one_crew(problem: Problem) -> tuple[list[int], float] | None:
    """The optimal sequence for one crew and its cost, or None (several crews, or more than MAX_JOBS repairs)."""
    m = len(problem.ids)
    if len(problem.crews) != 1 or m > MAX_JOBS:
        return None
    bits = ((np.arange(1 << m)[:, None] >> np.arange(m)) & 1).astype(bool)
    powered = np.asarray([float(problem.weight[np.isfinite(problem.sim.energisation(np.where(row, 0.0, np.inf)))]
                                .sum()) for row in bits])
    hours, release = problem.hours.tolist(), problem.release.tolist()
    first, between = problem.from_base[0].tolist(), problem.between.tolist()
    Label = tuple[float, float, object, int]  # hour, cost, previous label, job
    start: Label = (float(problem.available[0]), 0.0, None, -1)
    head_done, head_last = 0, -1
    if problem.fixed(0):  # the committed head, in its order, then the programme from where it leaves the crew
        head = problem.head[0]
        out = np.zeros(m)
        crew_finish(problem, 0, head, out)
        for j in head:
            f = float(out[j])
            start = (f, start[1] + (powered[head_done | 1 << j] - powered[head_done]) * f, start, j)
            head_done, head_last = head_done | 1 << j, j
    fronts: dict[tuple[int, int], list[Label]] = {(head_done, head_last): [start]}
    full = (1 << m) - 1
    for done in range(full):  # the full set's labels stay for the answer
        for last in [-1] if done == 0 else [j for j in range(m) if done >> j & 1]:
            for label in fronts.pop((done, last), []):
                t, c = label[0], label[1]
                for j in range(m):
                    if done >> j & 1:
                        continue
                    f = shift_start(problem, 0, max(t + (first[j] if last < 0 else between[last][j]), release[j]),
                                    hours[j]) + hours[j]
                    after = done | 1 << j
                    new: Label = (f, c + (powered[after] - powered[done]) * f, label, j)
                    front = fronts.setdefault((after, j), [])
                    if any(o[0] <= new[0] and o[1] <= new[1] for o in front):
                        continue
                    front[:] = [o for o in front if not (new[0] <= o[0] and new[1] <= o[1])]
                    front.append(new)
    finals = [label for j in range(m) for label in fronts.get((full, j), [])] if m else [start]
    best = min(finals, key=lambda label: label[1])
    seq: list[int] = []
    node: object = best
    while isinstance(node, tuple) and node[3] >= 0:
        seq.append(node[3])
        node = node[2]
    return seq[::-1], float(best[1])
