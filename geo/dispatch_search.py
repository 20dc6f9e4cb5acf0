"""Dispatch heuristics: list schedules with travel and release times, then local search re-simulated exactly.

Public API:
    list_schedule(problem, order) -> seqs          each job in order to the capable crew that finishes it first,
                                                   after each crew's committed head
    naive_order(problem), horn_order(problem)       the two orders the plan starts from
    improve(problem, seqs, *, deadline) -> (cost, converged)   first-improvement moves and swaps, in place
    iterate(problem, seqs, *, deadline, seed) -> cost        kicks and local search until the deadline, in place

Every candidate is re-simulated exactly (travel, release, energisation); only the crews a move touches are
recomputed. The search loop is geo.local_search's, shared with the k-crew planner (geo.plan_search). Up to
EXHAUSTIVE_JOBS repairs every move and swap is tried; above, each job tries its neighbours on its crew and, on
every other capable crew, the positions nearest its start time and its rank. Committed jobs (Problem.head) never
move and nothing is put before them: candidates start at each crew's committed prefix.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import numpy as np

from geo import local_search
from geo.dispatch_model import Problem, crew_finish, finish_of, shift_start

EXHAUSTIVE_JOBS = 60


def horn_order(problem: Problem) -> list[int]:
    """The one-crew optimal order without travel (geo.triage's Horn order)."""
    return list(problem.tree.order)


def naive_order(problem: Problem) -> list[int]:
    """The naive order: most people served first (as geo.plan's naive plan), ties by id."""
    served, ids = problem.tree.served, problem.ids
    return sorted(range(len(ids)), key=lambda j: (-served[j], ids[j]))


def list_schedule(problem: Problem, order: Sequence[int]) -> list[list[int]]:
    """Give each job, in order, to the capable crew that would finish it first (ties: lowest crew number); each
    crew first works its committed jobs, which are skipped in `order`."""
    k = len(problem.crews)
    seqs: list[list[int]] = [list(problem.head[c]) if problem.head else [] for c in range(k)]
    free = problem.available.astype(float).copy()
    last = [-1] * k
    kept: set[int] = set()
    if problem.head:
        done = np.zeros(len(problem.ids))
        for h, seq in enumerate(seqs):
            if seq:
                crew_finish(problem, h, seq, done)
                free[h], last[h] = done[seq[-1]], seq[-1]
                kept.update(seq)
    for j in order:
        if j in kept:
            continue
        best_c, best_t = -1, np.inf
        for c in np.flatnonzero(problem.capable[:, j]):
            arrival = free[c] + (problem.from_base[c, j] if last[c] < 0 else problem.between[last[c], j])
            t = shift_start(problem, int(c), max(arrival, problem.release[j]), problem.hours[j]) + problem.hours[j]
            if t < best_t:
                best_c, best_t = int(c), t
        seqs[best_c].append(j)
        free[best_c], last[best_c] = best_t, j
    return seqs


def improve(problem: Problem, seqs: list[list[int]], *, deadline: Callable[[], bool] | None = None,
            position: Sequence[int] | None = None) -> tuple[float, bool]:
    """First-improvement local search on `seqs` in place (geo.local_search with the moves below, a swap only
    between crews capable of both jobs, only the crews a move touches re-timed); returns its cost and whether it
    reached a local optimum."""
    sim, weight, capable = problem.sim, problem.weight, problem.capable
    m = len(problem.ids)
    rank = list(position) if position is not None else list(range(m))
    finish = finish_of(problem, seqs)
    exhaustive = m <= EXHAUSTIVE_JOBS

    def trial(seqs: Sequence[Sequence[int]], finish: np.ndarray, c: int, d: int) -> np.ndarray:
        out = finish.copy()
        crew_finish(problem, c, seqs[c], out)
        if d != c:
            crew_finish(problem, d, seqs[d], out)
        return out

    return local_search.improve(
        seqs, finish, float(weight @ sim.energisation(finish)), order=sorted(range(m), key=rank.__getitem__),
        pinned={j for seq in problem.head for j in seq},
        candidates=lambda seqs, finish, j, c, i: _candidates(problem, seqs, finish, rank, j, c, i, exhaustive),
        allowed=lambda kind, c, d, q, j: kind != "swap" or bool(capable[c, seqs[d][q]] and capable[d, j]),
        trial=trial, cost=lambda finish: float(weight @ sim.energisation(finish)), deadline=deadline)


def _candidates(problem: Problem, seqs: Sequence[Sequence[int]], finish: np.ndarray, rank: Sequence[int],
                j: int, c: int, i: int, exhaustive: bool) -> list[tuple[str, int, int]]:
    """Moves ("move", crew, position) and swaps ("swap", crew, position) to try for job j at seqs[c][i]."""
    out: list[tuple[str, int, int]] = []
    capable = problem.capable
    if exhaustive:
        for d, seq in enumerate(seqs):
            if not capable[d, j]:
                continue
            h = problem.fixed(d)
            out += [("move", d, q) for q in range(h, len(seq) + (d != c)) if (d, q) != (c, i)]
            out += [("swap", d, q) for q in range(h, len(seq)) if (d, q) != (c, i)]
        return out
    seq = seqs[c]
    out += [("swap", c, q) for q in (i - 1, i + 1) if problem.fixed(c) <= q < len(seq)]
    out += [("move", c, q) for q in (i - 2, i + 2) if problem.fixed(c) <= q < len(seq)]
    start = finish[j] - problem.hours[j]
    for d, other in enumerate(seqs):
        if d == c or not capable[d, j]:
            continue
        h = problem.fixed(d)
        at = next((q for q in range(h, len(other)) if finish[other[q]] - problem.hours[other[q]] >= start),
                  len(other))
        by_rank = next((q for q in range(h, len(other)) if rank[other[q]] > rank[j]), len(other))
        for q in sorted({at, by_rank}):
            out.append(("move", d, q))
            if q < len(other):
                out.append(("swap", d, q))
    return out


KICK_JOBS = 3  # jobs a kick moves: enough to leave the local optimum, few enough that the search repairs it fast


def iterate(problem: Problem, seqs: list[list[int]], *, deadline: Callable[[], bool], seed: int = 0,
            position: Sequence[int] | None = None, max_rounds: int = 100_000) -> float:
    """Iterated local search from a local optimum, in place: move a few random jobs to random places on capable
    crews (never a committed one, nor before one), search locally again, keep the result when it is cheaper;
    until the deadline (or max_rounds). Seeded, so a given seed and budget give the same plan."""
    rng = random.Random(seed)
    pinned = {j for seq in problem.head for j in seq}
    movable = [j for j in range(len(problem.ids)) if j not in pinned]
    best = float(problem.weight @ problem.sim.energisation(finish_of(problem, seqs)))
    if not movable:
        return best
    for _ in range(max_rounds):
        if deadline():
            break
        trial = [list(s) for s in seqs]
        for j in rng.sample(movable, min(KICK_JOBS, len(movable))):
            for seq in trial:
                if j in seq:
                    seq.remove(j)
                    break
            d = rng.choice([int(c) for c in np.flatnonzero(problem.capable[:, j])])
            trial[d].insert(rng.randint(problem.fixed(d), len(trial[d])), j)
        value, _ = improve(problem, trial, deadline=deadline, position=position)
        if value < best - 1e-9 * max(1.0, abs(best)):
            best = value
            seqs[:] = trial
    return best
