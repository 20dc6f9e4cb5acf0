"""The proof contract: up to 10 damaged sites and 5 crews are proven optimal within the 10 s solver budget, and the
proven optimum is the brute-force one wherever brute force is affordable (the same events, fewer sites)."""

from __future__ import annotations

import random

import pytest

from geo.dispatch import Crew, Site, Travel, dispatch
from geo.dispatch_cpsat import solve
from geo.dispatch_model import build_problem, cost
from geo.network import Facility, build_network
from tests.test_dispatch import assert_feasible, brute_optimum, finish_of
from tests.test_triage import brute_cost

SOLVER_SECONDS = 10.0  # the contract: proven within 10 s on 2 cores
WORKERS = 2


def event(damaged: int, crews: int, *, seed: int) -> tuple[list[Facility], list[Crew], dict[str, Site]]:
    """The benchmark's events (bench/bench_dispatch.py): a random radial network with 3 facilities per damaged
    one over a 120 x 80 km box around Kyiv, half the crews with the 'hv' skill a third of the sites need, a
    quarter of the sites released after 2-12 h, repairs of 1-12 h."""
    rng = random.Random(seed)
    n = 3 * damaged + 1
    broken = set(rng.sample(range(1, n), damaged))
    facilities = [Facility("F0")]
    sites = {}
    for i in range(1, n):
        hurt = i in broken
        facilities.append(Facility(f"F{i}", (f"F{rng.randrange(i)}",), rng.randrange(0, 2000) if rng.random() < 0.7
                                   else 0, hurt, rng.choice([1, 2, 3, 4, 6, 8, 12]) if hurt else None))
        if hurt:
            sites[f"F{i}"] = Site(f"F{i}", (30.5 + rng.uniform(-0.85, 0.85), 50.45 + rng.uniform(-0.36, 0.36)),
                                  "hv" if rng.random() < 1 / 3 else None,
                                  rng.uniform(2, 12) if rng.random() < 0.25 else 0.0)
    team = [Crew(f"crew-{c}", (30.5 + rng.uniform(-0.85, 0.85), 50.45 + rng.uniform(-0.36, 0.36)),
                 frozenset({"hv"}) if c % 2 == 0 else frozenset(), rng.choice([0.0, 0.5, 1.0])) for c in range(crews)]
    return facilities, team, sites


# Seeds 1001, 1003 and 1005 with 2 crews and 1001 with 3 and 4 are the events CP-SAT alone did not prove in 10 s.
CASES = [(1, 1001), (2, 1001), (2, 1003), (2, 1005), (3, 1001), (3, 1002), (4, 1001), (4, 1003), (5, 1002),
         (5, 1004)]


@pytest.mark.parametrize(("crews", "seed"), CASES)
def test_ten_sites_are_proven_optimal_within_the_ten_second_budget(crews, seed):
    facilities, team, sites = event(10, crews, seed=seed)
    network = build_network(facilities)
    result = dispatch(network, team, sites, solver_seconds=SOLVER_SECONDS, solver_workers=WORKERS, samples=20)
    q = result.quality
    assert q.optimal, q.solver
    assert q.solver.startswith("OPTIMAL")
    assert_feasible(result, team, sites, facilities, Travel())
    assert q.objective == pytest.approx(brute_cost(facilities, finish_of(result)))
    assert q.objective_lower_bound <= q.objective + 1e-6
    assert q.objective <= q.naive_objective + 1e-6


def test_branch_and_bound_and_cp_sat_agree_where_both_prove():
    """Two independent exact methods: where CP-SAT also proves its optimum, it is the branch and bound's (up to the
    model's rounding to whole seconds)."""
    facilities, team, sites = event(10, 3, seed=1002)
    network = build_network(facilities)
    result = dispatch(network, team, sites, solver_seconds=SOLVER_SECONDS, solver_workers=WORKERS, samples=20)
    assert result.quality.solver == "OPTIMAL (branch and bound)"
    problem = build_problem(network, team, sites)
    solved = solve(problem, seconds=SOLVER_SECONDS, workers=WORKERS)
    assert solved.optimal and solved.seqs is not None
    slack = 3 * 11 / 3600 * sum(f.population for f in facilities)
    assert cost(problem, solved.seqs) == pytest.approx(result.quality.objective, abs=slack)


@pytest.mark.parametrize(("damaged", "crews", "seed"), [
    (5, 1, 7), (5, 2, 1001), (5, 2, 1003), (5, 3, 1001), (4, 4, 1003), (4, 5, 1002), (5, 2, 11), (5, 3, 12),
])
def test_the_proven_optimum_is_the_brute_force_one_on_the_same_events_with_fewer_sites(damaged, crews, seed):
    facilities, team, sites = event(damaged, crews, seed=seed)
    result = dispatch(build_network(facilities), team, sites, solver_seconds=SOLVER_SECONDS, solver_workers=WORKERS,
                      samples=20)
    optimum = brute_optimum(facilities, team, sites, Travel())
    q = result.quality
    assert q.optimal, q.solver
    assert q.objective == pytest.approx(optimum, rel=1e-9)
    assert q.objective_lower_bound <= optimum + 1e-6
