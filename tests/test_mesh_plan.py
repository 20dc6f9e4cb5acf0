"""The plan on meshed networks (geo.plan with geo.mesh): its objective, ETRs, KPIs and areas' hours are the exact
simulation of its own schedule over the undirected network, never worse than the naive plan, and its lower bound
is below the best plan a brute force finds; `python -m geo.plan` gives the same on a ring scenario file."""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import permutations
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.mesh import exact_network
from geo.network import CriticalSite, Facility, build_network
from geo.plan import area_etr, plan
from tests.test_mesh import brute, hour_of, meshes, ring

ROOT = Path(__file__).resolve().parent.parent


def cost(facilities, finish, weight=None):
    """Brute force: people (or weights) x hour of power over the facilities dark now."""
    hours = hour_of(facilities, finish)
    now = brute(facilities)
    w = weight or {f.id: f.population for f in facilities}
    return sum(w[f.id] * hours[f.id] for f in facilities if f.id not in now)


@settings(max_examples=150, deadline=None)
@given(meshes(), st.integers(1, 3))
def test_the_plans_figures_are_the_exact_simulation_of_its_schedule(case, crews):
    facilities, _ = case
    network = exact_network(build_network(facilities))
    result = plan(network, crews=crews)
    finish = {job.id: job.finish_hours for crew in result.crews for job in crew}
    naive = {job.id: job.finish_hours for crew in result.naive_crews for job in crew}
    assert set(finish) == {f.id for f in facilities if f.damaged}
    exact = cost(facilities, finish)
    assert result.quality.objective == pytest.approx(exact) and result.quality.phu == pytest.approx(exact)
    assert result.quality.naive_objective == pytest.approx(cost(facilities, naive))
    assert result.quality.objective <= result.quality.naive_objective + 1e-9
    hours = hour_of(facilities, finish)
    assert result.etr_hours == pytest.approx({j: hours[j] for j in finish})
    assert area_etr(network, result.etr_hours) == pytest.approx(hours)
    assert result.kpis.phu == pytest.approx(exact)
    assert result.quality.objective_lower_bound <= result.quality.objective + 1e-9


@settings(max_examples=150, deadline=None)
@given(meshes())
def test_the_lower_bound_is_below_the_best_one_crew_order(case):
    facilities, _ = case
    damaged = [f for f in facilities if f.damaged]
    if len(damaged) > 6:
        return
    network = exact_network(build_network(facilities))
    result = plan(network, crews=1)
    best = min((cost(facilities, {f.id: sum(g.repair_hours or 0.0 for g in order[:k + 1])
                                  for k, f in enumerate(order)}) for order in permutations(damaged)), default=0.0)
    assert result.quality.objective_lower_bound <= best + 1e-9
    assert result.quality.objective >= best - 1e-9


def test_critical_sites_weigh_in_the_exact_objective():
    facilities = ring()
    facilities[5] = Facility("L2", ("A",), 0.0, True, 1.0)
    network = exact_network(build_network(facilities))
    result = plan(network, crews=1, critical_sites=[CriticalSite("h", "A", 5000.0)])
    assert result.etr_hours["L2"] == 1.0 and result.quality.objective == pytest.approx(6000.0 * 1.0)
    assert not result.exact and any("exactly over the undirected network" in note for note in result.notes)


def test_the_command_line_plans_a_ring_exactly(tmp_path):
    facilities = ring()
    facilities[5] = Facility("L2", ("A",), 0.0, True, 1.0)
    scenario = tmp_path / "ring.json"
    scenario.write_text(json.dumps({"crews": 1, "facilities": [
        {"id": f.id, "parents": list(f.parents), "population": f.population, "damaged": f.damaged,
         **({"repair_hours": f.repair_hours} if f.damaged else {})} for f in facilities]}))
    done = subprocess.run([sys.executable, "-m", "geo.plan", str(scenario), "--time-limit", "1"], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    out = json.loads(done.stdout)
    gains = {row["id"]: row["gain_now"] for row in out["ranking"]}
    assert gains == {"L1": 1000.0, "L2": 1000.0}  # A comes back through either side
    assert out["quality"]["phu"] == pytest.approx(1000.0)  # L2 first: A back at hour 1
