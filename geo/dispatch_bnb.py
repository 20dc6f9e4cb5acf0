"""The exact dispatch of a small event for several crews: depth-first branch and bound over completion orders.

Public API:
    MAX_JOBS                                  the largest event it is tried on
    branch_and_bound(problem, *, incumbent, deadline, max_nodes) -> Searched   proven optimal when it completes

Why it is exact. Every plan, its repairs taken in the order they finish, is built by appending each repair to its
crew's route in that order, each append timed as geo.dispatch_model times it. Which nodes have power depends
only on the set of repairs done, so a plan's cost is the sum, over appends in finishing order, of (weight
powered after it - weight powered before) x its finish hour. The search appends repairs in any order and
charges max(clock, finish) instead (clock: the latest finish so far): never below a plan's cost and equal to it
in its finishing order, so the least charge over all orders is the optimum, and a partial route's charge only
grows. Pruning keeps that exact:
- dominance: two partial routes with the same repairs done and the same last repair per crew, one no later on
  every crew and on the clock and no costlier, the other is dropped (every append is timed by a non-decreasing
  function of the crew's hour, so whatever follows the other costs at least as much after the first);
- bound: charge so far plus, for every node still without power, its weight times the latest of the clock,
  its energisation when each remaining repair finishes at its earliest (from each capable crew's hour and
  site, the shortest travel, release and shifts) and, on a radial network, the hour by which the crews (free at
  their hours) can have done the remaining work on its path (repair plus least travel into each, preemptive
  water filling); it is never above the charge of any completion, so a branch whose bound reaches the incumbent
  cannot improve it.
Work in progress: each crew's committed head is appended first, in finishing order, and the search goes on from
there. Times are real (not rounded), so a completed search proves the plan optimal among the plans that keep
the commitments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from geo.dispatch_bound import shortest_travel
from geo.dispatch_model import Problem, crew_finish, shift_start, shift_starts

MAX_JOBS = 12
# The search's budget is counted in expanded partial plans, not read from a clock (geo never reads one): this many
# per second of the solver budget (measured with 10 repairs and 3-5 crews: 4,400-5,800 per CPU-second; on the
# shared 2 cores, with a load average of 10, a CPU-second took 7-8 s of wall time), and this share of the budget;
# the rest is left to CP-SAT when the search does not complete.
NODES_PER_SECOND = 4_000
SHARE = 0.7


def nodes_for(seconds: float) -> int:
    """The search's budget in expanded partial plans for `seconds` of solver time."""
    return max(1, int(NODES_PER_SECOND * SHARE * seconds))


@dataclass(frozen=True)
class Searched:
    """The search's best sequences and cost, and whether it completed (then they are optimal)."""

    seqs: list[list[int]]
    cost: float
    optimal: bool
    nodes: int


def _site_travel(problem: Problem) -> np.ndarray:
    """Fewest travel hours between sites over any route (Floyd-Warshall; the matrix may break the triangle
    inequality)."""
    d = problem.between.copy()
    np.fill_diagonal(d, 0.0)
    for v in range(len(d)):
        d = np.minimum(d, d[:, v:v + 1] + d[v:v + 1, :])
    return d


def branch_and_bound(problem: Problem, *, incumbent: Sequence[Sequence[int]], incumbent_cost: float,
                     deadline: Callable[[], bool] | None = None, max_nodes: int = 2_000_000) -> Searched:
    """Search every plan (see the module docstring); stops at the deadline or after max_nodes appends."""
    m, k = len(problem.ids), len(problem.crews)
    sim, weight = problem.sim, problem.weight
    outage = problem.tree.outage
    n_nodes = len(outage.node_job)
    full = (1 << m) - 1
    bits = ((np.arange(1 << m)[:, None] >> np.arange(m)) & 1).astype(bool)
    unpowered = np.stack([~np.isfinite(sim.energisation(np.where(row, 0.0, np.inf))) for row in bits])
    powered_w = (~unpowered) @ weight
    base_travel, site_travel = shortest_travel(problem), _site_travel(problem)
    for c, i in enumerate(problem.on_site):  # shortest_travel starts such a crew at its site; the search at its base
        if i >= 0:
            base_travel[c] = problem.from_base[c]
    into = np.concatenate([problem.from_base, problem.between + np.diag(np.full(m, np.inf))], axis=0).min(axis=0)
    work = problem.hours + into
    radial = all(len(ps) <= 1 for ps in outage.node_parents)
    path_jobs = np.zeros(n_nodes, dtype=np.int64)
    if radial:
        for n, ps in enumerate(outage.node_parents):
            j = outage.node_job[n]
            path_jobs[n] = (path_jobs[ps[0]] if ps else 0) | ((1 << j) if j >= 0 else 0)
    path_bits = ((path_jobs[:, None] >> np.arange(m)) & 1).astype(bool)  # nodes x jobs
    hours, release, capable = problem.hours, problem.release, problem.capable
    from_base, between = problem.from_base, problem.between

    # the committed heads, appended in finishing order
    seqs: list[list[int]] = [list(problem.head[c]) if problem.head else [] for c in range(k)]
    t = [float(problem.available[c]) for c in range(k)]
    last = [-1] * k
    done, clock, charge = 0, 0.0, 0.0
    out = np.zeros(m)
    heads = []
    for c, seq in enumerate(seqs):
        if seq:
            crew_finish(problem, c, seq, out)
            t[c], last[c] = float(out[seq[-1]]), seq[-1]
            heads += [(float(out[j]), j) for j in seq]
    for f, j in sorted(heads):
        after = done | 1 << j
        charge += (powered_w[after] - powered_w[done]) * max(clock, f)
        done, clock = after, max(clock, f)

    best_cost = float(incumbent_cost)
    best = [list(s) for s in incumbent]
    front: dict[tuple[int, tuple[int, ...]], list[tuple[float, tuple[float, ...], float]]] = {}
    nodes = 0
    stopped = False

    shifted = [c for c in range(k) if np.isfinite(problem.shift_end[c])]
    crews_q = np.arange(1, k + 1, dtype=float)

    path_t = path_bits.T.astype(float)  # jobs x nodes

    def bounds(done: int, t: Sequence[float], last: Sequence[int], clock: float, js: np.ndarray, cs: np.ndarray,
               fs: np.ndarray, charges: np.ndarray) -> np.ndarray:
        """The bound of every child (job js[i] appended to crew cs[i], done at fs[i]), all at once."""
        free = np.asarray(t, dtype=float)
        lasts = np.asarray(last)
        travel = np.where((lasts < 0)[:, None], base_travel, site_travel[np.maximum(lasts, 0)])
        reach = np.maximum(free[:, None] + travel, release[None, :])
        for c in shifted:
            reach[c] = shift_starts(problem, c, reach[c], hours)
        per_crew = np.where(capable, reach + hours, np.inf)  # crews x jobs: each crew's earliest finish
        if k > 1:  # the best finish of the other crews, for each crew
            order = np.argsort(per_crew, axis=0)
            first = np.take_along_axis(per_crew, order[:1], axis=0)[0]
            second = np.take_along_axis(per_crew, order[1:2], axis=0)[0]
            others = np.where(order[0][None, :] == np.arange(k)[:, None], second[None, :], first[None, :])
        else:
            others = np.full((1, m), np.inf)
        child = np.maximum(fs[:, None] + site_travel[js], release[None, :])  # the appending crew from its new site
        for c in shifted:
            rows = cs == c
            if rows.any():
                child[rows] = shift_starts(problem, c, child[rows], hours)
        child = np.where(capable[cs], child + hours, np.inf)
        ef = np.minimum(others[cs], child)
        after = done | (1 << js)
        left = ~bits[after]
        finish = np.where(left, ef, 0.0)
        if radial:
            e = (finish[:, None, :] * path_bits[None, :, :]).max(axis=2)
            remaining = (left * work[None, :]) @ path_t  # children x nodes: the work left on each node's path
            hours_free = np.repeat(free[None, :], len(js), axis=0)
            hours_free[np.arange(len(js)), cs] = fs
            prefix = np.cumsum(np.sort(hours_free, axis=1), axis=1)
            level = ((remaining[:, :, None] + prefix[:, None, :]) / crews_q[None, None, :]).min(axis=2)
            e = np.maximum(e, np.where(remaining > 0, level, 0.0))
        else:
            e = np.stack([sim.energisation(row) for row in finish])
        e = np.maximum(e, np.maximum(clock, fs)[:, None])
        return np.asarray(charges + (unpowered[after] * e) @ weight)

    def search(done: int, t: list[float], last: list[int], clock: float, charge: float) -> None:
        nonlocal best_cost, best, nodes, stopped
        if done == full:
            if charge < best_cost - 1e-9 * max(1.0, abs(best_cost)):
                best_cost, best = charge, [list(s) for s in seqs]
            return
        if stopped:
            return
        nodes += 1
        if nodes >= max_nodes or (nodes % 256 == 0 and deadline is not None and deadline()):
            stopped = True
            return
        children = []
        for j in range(m):
            if done >> j & 1:
                continue
            after = done | 1 << j
            gain = powered_w[after] - powered_w[done]
            for crew in np.flatnonzero(capable[:, j]):
                c = int(crew)
                arrival = t[c] + (from_base[c, j] if last[c] < 0 else between[last[c], j])
                f = shift_start(problem, c, max(arrival, release[j]), hours[j]) + hours[j]
                children.append((charge + gain * max(clock, f), f, j, c))
        children.sort()
        arr = np.asarray(children)
        limits = bounds(done, t, last, clock, arr[:, 2].astype(np.intp), arr[:, 3].astype(np.intp), arr[:, 1],
                        arr[:, 0])
        for (new_charge, f, j, c), limit in zip(children, limits, strict=True):
            if new_charge >= best_cost or limit >= best_cost - 1e-9 * max(1.0, abs(best_cost)):
                continue
            after = done | 1 << j
            t2 = t.copy()
            t2[c] = f
            last2 = last.copy()
            last2[c] = j
            clock2 = max(clock, f)
            key = (after, tuple(last2))
            labels = front.setdefault(key, [])
            tt = tuple(t2)
            if any(o[0] <= clock2 and o[2] <= new_charge and all(a <= b for a, b in zip(o[1], tt, strict=True))
                   for o in labels):
                continue
            labels[:] = [o for o in labels if not (clock2 <= o[0] and new_charge <= o[2]
                                                   and all(a <= b for a, b in zip(tt, o[1], strict=True)))]
            labels.append((clock2, tt, new_charge))
            seqs[c].append(j)
            search(after, t2, last2, clock2, new_charge)
            seqs[c].pop()
            if stopped:
                return

    if m == 0 or done == full:
        return Searched(seqs, charge, True, 0)
    search(done, t, last, clock, charge)
    return Searched(best, best_cost, not stopped, nodes)
