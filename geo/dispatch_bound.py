"""A lower bound on every dispatch plan's cost that accounts for travel, release times and crews' start hours.

Public API:
    earliest_finish(problem) -> np.ndarray        the earliest hour each repair can possibly be done
    dispatch_lower_bound(problem, *, weighted=True) -> float
    released_busy_time(problem, ef, *, weighted=True) -> float   one of its terms, with release dates

Work in progress: a crew with a repair under way is on site and finishes it at its repair_hours (remaining) with
no travel, so for these bounds that crew is free at that hour at that site, and the repair under way itself
finishes exactly then; assigned commitments only remove plans, so they are left out (the bounds hold for every
plan that keeps them, and the gap may overstate how far the plan is from the best such plan).
"""

from __future__ import annotations

import heapq
from dataclasses import replace

import numpy as np

from geo.dispatch_model import Problem, shift_starts
from geo.plan import dominated_weight, lower_bound


def shortest_travel(problem: Problem) -> np.ndarray:
    """Fewest travel hours from each crew's base to each site over any route through other sites (crews x sites).

    With great-circle travel this is the direct time (the triangle inequality holds); a matrix need not obey it,
    so routes through other sites are relaxed in (Bellman-Ford over the dense site graph, vectorised).
    """
    dist = problem.from_base.copy()
    for c, i in enumerate(problem.on_site):  # a crew with a repair under way leaves from that site, not its base
        if i >= 0:
            dist[c] = problem.between[i]
            dist[c, i] = 0.0
    for c in range(dist.shape[0]):  # one crew at a time: an m x m step, never k x m x m
        for _ in range(len(problem.ids)):
            via = (dist[c][:, None] + problem.between).min(axis=0)
            if not (via < dist[c]).any():
                break
            dist[c] = np.minimum(dist[c], via)
    return dist


def earliest_finish(problem: Problem) -> np.ndarray:
    """For each job, min over capable crews of the crew's earliest start within its shifts at or after
    max(free hour + fewest travel hours from base, release), plus hours.

    A crew with a repair under way is free once it is done (its remaining hours) at that site, and the repair
    under way itself finishes exactly at its remaining hours.
    """
    free = problem.available.astype(float).copy()
    for c, i in enumerate(problem.on_site):
        if i >= 0:
            free[c] = problem.hours[i]
    reach = np.maximum(free[:, None] + shortest_travel(problem), problem.release[None, :])
    # within each crew's shifts: its start rule is non-decreasing in the hour it is ready, so the earliest ready
    # hour gives the earliest start
    ready = np.stack([shift_starts(problem, c, reach[c], problem.hours) for c in range(len(problem.crews))])
    start = np.where(problem.capable, ready, np.inf).min(axis=0)
    finish = np.asarray(start + problem.hours)
    for i in problem.on_site:
        if i >= 0:
            finish[i] = problem.hours[i]
    return finish


def dispatch_lower_bound(problem: Problem, *, weighted: bool = True) -> float:
    """A lower bound on the cost of every plan of this problem: the largest of three valid bounds ((3) is
    released_busy_time).

    Notation: a = the earliest hour any crew is free, k = number of crews, tau_j = the least travel into site j
    from the base of a crew with its skill or from any other site, p'_j = repair_hours_j + tau_j,
    ef_j = earliest_finish_j.
    Energisation is monotone in finish hours (max over a path, min over feeds), so a lower bound on every
    finish hour gives a lower bound on every node's energisation and, with weights >= 0, on the cost.

    (1) Per node. Each job finishes no earlier than ef_j: the crew doing it (one with the skill) leaves its base
    no earlier than it is free, travels at least the shortest route to the site, starts no earlier than the
    release, within its shifts (the shift rule is non-decreasing in the ready hour, so the earliest ready hour
    gives the earliest start) and then works repair_hours. Also, a node gets power only once every job on some
    feed path is done; each such job costs at least p'_j crew-hours (its repair plus the travel into it, from a
    crew with the skill or another site), and the k crews, crew c working from its free hour a_c, share them:
    even split at will, the last one finishes no earlier than the water level L(P) = min over q of (P + the q
    earliest free hours) / q for P = the sum of p' on the path (at least a + P / k); the path with the least
    sum bounds every path. Cost >= sum over nodes of w x max(energisation(ef), L(min path p')).
    (2) Compression. Take any plan and, on each crew, drop idle time (waiting for release or for a shift, starting
    later than a) and count each travel leg as part of the repair after it. Every job then finishes no later
    than before, minus a, and each leg into j is at least tau_j, so the compressed plan is a k-crew back-to-back plan of
    the no-travel problem with hours p'_j, shifted by a. Every outage node waits for some repair, hence for
    at least a; energisation commutes with the shift, so cost >= a x (total weight) + geo.plan.lower_bound
    on the tree with hours p' (valid for every back-to-back k-crew plan; skills only remove plans).

    Commitments. A repair under way (job i on crew c) finishes at hours_i with no travel into it, and c's next
    leg starts there at hours_i: so ef_i = hours_i exactly, and c counts as free at hours_i from site i in
    ef_j for its other jobs (travel from i, not from its base). For (1)'s path term and for (2), c works from
    hour 0 (the remaining hours, from now: a_c = 0), so a = 0 when some crew has a repair under way (every hour
    is >= 0) and tau_i = 0, p'_i = hours_i: compressing c's route from 0 puts i at [0, hours_i], exactly as planned, and
    every later job j at most at its planned finish, each leg into j still >= tau_j (a leg from site i is one of
    the legs tau_j minimises over). Both arguments then go through unchanged. Assigned commitments only remove
    plans, so a bound over all plans with the repairs under way fixed bounds every plan that keeps them all.
    """
    outage = problem.tree.outage
    w = problem.weight if weighted else problem.people
    k = len(problem.crews)
    m = len(problem.ids)
    if m == 0:
        return 0.0
    under_way = [i for i in problem.on_site if i >= 0]
    a = 0.0 if under_way else float(problem.available.min())
    from_base = np.where(problem.capable, problem.from_base, np.inf)  # only a crew with the skill leaves for j
    into = np.concatenate([from_base, problem.between + np.diag(np.full(m, np.inf))], axis=0)
    tau = into.min(axis=0)
    tau[under_way] = 0.0  # the crew is on site: no travel into a repair under way
    p_dash = problem.hours + tau
    ef = earliest_finish(problem)
    e_first = problem.sim.energisation(ef)
    total = np.zeros(len(outage.node_job))
    for node, ps in enumerate(outage.node_parents):
        j = outage.node_job[node]
        total[node] = min((total[u] for u in ps), default=0.0) + (p_dash[j] if j >= 0 else 0.0)
    # crews free at their own hours (from 0 for a crew with a repair under way, whose hours count as work):
    # the earliest the path's work can be done if it could be split among them at will (water filling)
    free = np.sort(np.where(np.asarray(problem.on_site if problem.on_site else [-1] * k) >= 0, 0.0,
                            problem.available))
    prefix = np.cumsum(free)
    level = ((total[:, None] + prefix[None, :]) / np.arange(1, k + 1)[None, :]).min(axis=1)
    per_node = float(w @ np.maximum(e_first, np.where(total > 0, level, a)))
    compressed = replace(problem.tree, hours=tuple(float(h) for h in p_dash))
    shifted = a * float(w.sum()) + lower_bound(compressed, crews=k, weighted=weighted)
    return max(per_node, shifted, released_busy_time(problem, ef, weighted=weighted))


def released_busy_time(problem: Problem, ef: np.ndarray, *, weighted: bool = True) -> float:
    """(3) of dispatch_lower_bound: Eastman-Even-Isaacs with release dates, by mean busy times (Goemans 1997).

    A node gets power no earlier than its nearest damaged dominator's repair is done (geo.plan.dominated_weight
    gives each job the weight that waits for it). In any plan job j runs, without a break, from its start S_j >=
    es_j = ef_j - hours_j (the earliest start: free hour, travel, release, shifts) to C_j = M_j + hours_j / 2,
    M_j its mean busy time. Seen as one machine that works k crew-hours an hour, the plan is a preemptive
    schedule with release dates es_j, and on such a machine the preemptive WSPT rule (at every moment the released
    job of the highest weight / hours) minimises sum w_j M_j over every preemptive schedule. So cost >= sum w_j
    (M*_j + hours_j / 2), M*_j the mean busy times of that rule with each job's hours / k.
    """
    _, w = dominated_weight(problem.tree, weighted=weighted)
    weight = np.asarray(w, dtype=float)
    hours = problem.hours
    k = len(problem.crews)
    release = ef - hours
    left = hours / k
    busy = np.zeros(len(hours))  # integral of t over each job's processing
    order = sorted(range(len(hours)), key=lambda j: release[j])
    ready: list[tuple[float, int]] = []
    t, i = 0.0, 0
    while i < len(order) or ready:
        if not ready:
            t = max(t, float(release[order[i]]))
        while i < len(order) and release[order[i]] <= t + 1e-12:
            j = order[i]
            heapq.heappush(ready, (-(weight[j] / hours[j]) if hours[j] > 0 else -np.inf, j))
            i += 1
        j = ready[0][1]
        run = min(float(left[j]), (float(release[order[i]]) if i < len(order) else np.inf) - t)
        busy[j] += (t + run / 2) * run
        left[j] -= run
        t += run
        if left[j] <= 1e-12:
            heapq.heappop(ready)
    mean = np.where(hours > 0, busy / np.where(hours > 0, hours / k, 1.0), release)
    return float(weight @ (mean + hours / 2))
