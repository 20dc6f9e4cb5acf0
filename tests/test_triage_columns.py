"""Networks built by columns (the scenario reader's numpy path) are the networks build_network makes."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from geo.network import (
    Facility,
    ScenarioError,
    build_network,
    energised_at_start,
    network_from_columns,
    population_served,
)
from geo.plan import plan, time_limit
from geo.plan_cli import report
from geo.scenario import parse_scenario
from geo.triage import rank, triage_tree

ROOT = Path(__file__).resolve().parents[1]


def random_facilities(n: int, damaged: int, *, seed: int) -> list[Facility]:
    """A random radial network (parents drawn from earlier facilities, listed in a shuffled order)."""
    rng = random.Random(seed)
    broken = set(rng.sample(range(1, n), damaged))
    out = [Facility("F0")] + [
        Facility(f"F{i}", (f"F{rng.randrange(i)}",), float(rng.randrange(0, 500)), i in broken,
                 float(rng.randint(1, 8)) if i in broken else None)
        for i in range(1, n)
    ]
    rng.shuffle(out)
    return out


def columns(facilities: list[Facility]) -> dict[str, list]:
    return {"ids": [f.id for f in facilities], "parents": [f.parents[0] if f.parents else None for f in facilities],
            "population": [f.population for f in facilities], "damaged": [f.damaged for f in facilities],
            "repair_hours": [f.repair_hours for f in facilities]}


@pytest.mark.parametrize("seed", range(5))
def test_columns_give_the_same_network_ranking_and_plan_as_facilities(seed):
    facilities = random_facilities(400, 40, seed=seed)
    given = build_network(facilities, columns=False)
    assert isinstance(given.children, tuple)  # checked facility by facility
    built = network_from_columns(**columns(facilities))
    assert list(build_network(facilities).facilities) == facilities
    assert list(built.facilities) == facilities and [built.facilities[i] for i in range(400)] == facilities
    assert built.index == given.index and built.order == given.order and built.radial
    assert [built.parents[i] for i in range(400)] == list(given.parents)
    assert [built.children[i] for i in range(400)] == list(given.children)
    assert energised_at_start(built) == energised_at_start(given)
    assert population_served(built, range(400)) == population_served(given, range(400))
    assert rank(built) == rank(given)
    a, b = plan(built, crews=3), plan(given, crews=3)
    assert (a.crews, a.etr_hours, a.quality) == (b.crews, b.etr_hours, b.quality)


def test_vectorised_energisation_matches_the_walk_from_the_sources():
    facilities = random_facilities(300, 60, seed=9)
    network = build_network(facilities)
    on = energised_at_start(network)
    by_id = {f.id: f for f in facilities}
    for f, powered in zip(network.facilities, on, strict=True):
        path, v = [], f
        while True:
            path.append(v)
            if not v.parents:
                break
            v = by_id[v.parents[0]]
        assert powered == (not any(u.damaged for u in path))


BAD = [
    (lambda c: c["ids"].__setitem__(3, c["ids"][4]), "duplicate id"),
    (lambda c: c["parents"].__setitem__(5, "nowhere"), "unknown parent 'nowhere'"),
    (lambda c: c["parents"].__setitem__(5, c["ids"][5]), "cycle in feed links"),
    (lambda c: c["population"].__setitem__(2, -1.0), "population must be a number >= 0"),
    (lambda c: c["population"].__setitem__(2, float("nan")), "population must be a number >= 0"),
]


@pytest.mark.parametrize(("spoil", "reason"), BAD)
def test_bad_columns_raise_what_build_network_raises(spoil, reason):
    facilities = random_facilities(50, 5, seed=2)
    given = columns(facilities)
    spoil(given)
    with pytest.raises(ScenarioError) as by_columns:
        network_from_columns(**given)
    made = [Facility(i, (p,) if p else (), q, d, h) for i, p, q, d, h in zip(*given.values(), strict=True)]
    with pytest.raises(ScenarioError) as by_facilities:
        build_network(made, columns=False)
    with pytest.raises(ScenarioError) as by_default:
        build_network(made)
    assert str(by_columns.value) == str(by_facilities.value) == str(by_default.value)
    assert reason in str(by_columns.value)


def test_a_cycle_found_by_columns_is_named_like_the_checked_path():
    facilities = [Facility("S"), Facility("A", ("C",)), Facility("B", ("A",)), Facility("C", ("B",))]
    with pytest.raises(ScenarioError, match=r"cycle in feed links \(.*A.*\)"):
        network_from_columns(**columns(facilities))


def document(facilities: list[Facility]) -> dict:
    return {"crews": 2, "facilities": [
        {"id": f.id, "parent": f.parents[0] if f.parents else None, "population": f.population,
         **({"damaged": True, "repair_hours": f.repair_hours} if f.damaged else {})} for f in facilities]}


def test_a_scenario_read_by_columns_reports_what_the_checked_path_reports():
    doc = document(random_facilities(300, 30, seed=4))
    fast = parse_scenario(doc)
    doc["facilities"].append({"id": "extra", "parent": ["F0"]})  # a list of parents: the checked path
    slow = parse_scenario(doc)
    assert type(fast.network.facilities).__name__ == "_Columns"
    assert isinstance(slow.network.facilities, tuple)
    doc["facilities"].pop()
    again = parse_scenario(json.loads(json.dumps(doc)))
    assert report(fast.network, crews=2) == report(again.network, crews=2)
    assert report(fast.network, crews=2)["ranking"] == report(build_network(slow.network.facilities[:-1]),
                                                              crews=2)["ranking"]


@pytest.mark.parametrize(("change", "reason"), [
    ({"population": -3}, "field 'population' must be >= 0"),
    ({"population": True}, "field 'population' must be a number"),
    ({"damaged": "yes"}, "field 'damaged' must be true or false"),
    ({"damaged": True}, "field 'repair_hours' is missing"),
    ({"damaged": True, "repair_hours": -1}, "field 'repair_hours' must be >= 0"),
])
def test_wrong_fields_keep_the_checked_paths_message(change, reason):
    doc = document(random_facilities(30, 3, seed=1))
    target = next(f for f in doc["facilities"] if not f.get("damaged") and f["parent"])
    target.update(change)
    with pytest.raises(ScenarioError, match=reason) as raised:
        parse_scenario(doc)
    assert repr(target["id"]) in str(raised.value)


def test_the_triage_tree_is_built_once_for_the_ranking_and_the_plan():
    network = build_network(random_facilities(100, 10, seed=3))
    tree = triage_tree(network)
    rank(network)
    plan(network, crews=2)
    assert triage_tree(network) is tree
    assert triage_tree(network, critical_sites=()) is tree


def test_the_command_line_prints_what_the_standard_library_would(tmp_path):
    path = tmp_path / "s.json"
    facilities = random_facilities(200, 20, seed=5)
    path.write_text(json.dumps(document(facilities)))
    done = subprocess.run([sys.executable, "-m", "geo.plan", str(path), "--time-limit", "0"], cwd=ROOT,
                          capture_output=True, timeout=60, check=True)
    expected = report(parse_scenario(document(facilities)).network, crews=2,
                      deadline=time_limit(0.0, clock=time.perf_counter))
    assert done.stdout.decode() == json.dumps(expected, indent=2, allow_nan=False) + "\n"


def test_nan_in_a_scenario_is_not_json(tmp_path):
    path = tmp_path / "s.json"
    path.write_text('{"facilities": [{"id": "S", "population": NaN}]}')
    done = subprocess.run([sys.executable, "-m", "geo.plan", str(path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2 and "not valid JSON" in done.stderr and "Traceback" not in done.stderr
