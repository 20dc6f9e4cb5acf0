"""The `python -m geo.plan` command line, end to end in a subprocess."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from geo.network import Facility
from tests.test_triage import exact_brute_energisation as brute_energisation

ROOT = Path(__file__).resolve().parents[1]

EXAMPLE = {
    "crews": 2,
    "facilities": [
        {"id": "S", "parent": None, "population": 0},
        {"id": "A", "parent": "S", "population": 0, "damaged": True, "repair_hours": 4},
        {"id": "B", "parent": "A", "population": 12000, "damaged": True, "repair_hours": 1},
        {"id": "C", "parent": "S", "population": 6000, "damaged": True, "repair_hours": 2},
    ],
    "critical_sites": [{"id": "H1", "facility": "B", "kind": "hospital", "weight": 5000}],
}
PLAIN = {**EXAMPLE, "critical_sites": []}  # the 96,000 / 102,000 / 60,000 figures are without H1

# A meshed network: the junction T (1,000 people) is fed by either line L1 (3 h) or L2 (1 h) and feeds U.
#   S -> L1 (3 h) -> T (1,000, undamaged) -> U (3,000, 2 h)
#   S -> L2 (1 h) -'
#   S -> V (2,000, 2 h)
MESHED = {
    "facilities": [
        {"id": "S", "parent": None},
        {"id": "L1", "parent": "S", "damaged": True, "repair_hours": 3},
        {"id": "L2", "parent": "S", "damaged": True, "repair_hours": 1},
        {"id": "T", "parent": ["L1", "L2"], "population": 1000},
        {"id": "U", "parent": "T", "population": 3000, "damaged": True, "repair_hours": 2},
        {"id": "V", "parent": "S", "population": 2000, "damaged": True, "repair_hours": 2},
    ],
}


def run(tmp_path: Path, scenario: object, *args: str) -> subprocess.CompletedProcess[str]:
    """Write the scenario to a file and run the command line on it."""
    path = tmp_path / "scenario.json"
    path.write_text(scenario if isinstance(scenario, str) else json.dumps(scenario))
    return subprocess.run(
        [sys.executable, "-m", "geo.plan", str(path), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )


def plan_of(tmp_path: Path, scenario: dict[str, Any], *args: str) -> dict[str, Any]:
    """The command line's JSON for a good scenario, checked for internal consistency."""
    done = run(tmp_path, scenario, *args)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    out = json.loads(done.stdout)
    ppc = float(args[args.index("--persons-per-customer") + 1]) if "--persons-per-customer" in args else 2.5
    assert_consistent(scenario, out, ppc)
    return out


def facilities_of(scenario: dict[str, Any]) -> list[Facility]:
    """The scenario's facilities as domain values, for the brute-force reachability helpers."""
    out = []
    for f in scenario["facilities"]:
        parent = f.get("parent")
        parents = () if parent is None else (parent,) if isinstance(parent, str) else tuple(parent)
        out.append(Facility(f["id"], parents, f.get("population", 0), f.get("damaged", False), f.get("repair_hours")))
    return out


def sequences(out: dict[str, Any]) -> list[list[tuple[str, float, float]]]:
    """Each crew's (id, start, finish) sequence, crews in a canonical order (they are interchangeable)."""
    return sorted([(j["id"], j["start"], j["finish"]) for j in crew] for crew in out["plan"]["crews"])


def assert_consistent(scenario: dict[str, Any], out: dict[str, Any], ppc: float) -> None:
    """Plan, ETRs, KPIs and quality agree with each other and with brute-force reachability."""
    facilities = facilities_of(scenario)
    hours = {f.id: f.repair_hours for f in facilities if f.damaged}
    crews = out["plan"]["crews"]
    assert len(crews) == out["crews"]
    finish = {}
    for crew in crews:  # back to back from hour 0, each repair taking its repair hours
        assert not crew or crew[0]["start"] == 0
        assert all(a["finish"] == b["start"] for a, b in itertools.pairwise(crew))
        for job in crew:
            assert job["finish"] - job["start"] == pytest.approx(hours[job["id"]])
            finish[job["id"]] = job["finish"]
    assert sorted(finish) == sorted(hours) == sorted(out["plan"]["etr"]) == sorted(r["id"] for r in out["ranking"])
    assert [r["rank"] for r in out["ranking"]] == list(range(1, len(hours) + 1))
    powered = brute_energisation(facilities, finish)  # hour each facility gets power, by reachability
    assert out["plan"]["etr"] == pytest.approx({fid: powered[fid] for fid in hours})
    before = brute_energisation(facilities, {})
    people = {f.id: f.population for f in facilities if f.id not in before}
    k, q = out["kpis"], out["quality"]
    assert k["affected_population"] == pytest.approx(sum(people.values()))
    assert k["phu"] == pytest.approx(sum(p * powered[fid] for fid, p in people.items())) == q["phu"]
    assert k["customers_interrupted"] == pytest.approx(k["affected_population"] / ppc)
    assert k["cmi"] == pytest.approx(k["phu"] * 60 / ppc)
    assert 0 <= k["t50"] <= k["t90"] <= k["t100"] <= max((powered[fid] for fid in people), default=0)
    assert q["lower_bound"] <= q["phu"] + 1e-6
    assert q["objective_lower_bound"] <= q["objective"] + 1e-6 <= q["naive_objective"] + 2e-6
    assert q["objective_improvement_vs_naive"] >= 0 and q["optimised"] == "objective"


def test_example_scenario_prints_ranking_plan_kpis_and_quality(tmp_path):
    done = run(tmp_path, EXAMPLE)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert [r["id"] for r in out["ranking"]] == ["A", "B", "C"]  # the hospital behind B pulls A, B forward
    assert {"rank", "id", "ratio", "gain_now", "gain_with_blockers", "population_served", "blocked_by",
            "repair_hours", "explanation"} <= set(out["ranking"][0])
    assert out["kpis"]["phu"] == 60000  # two crews from the scenario: C and A in parallel, then B
    assert out["plan"]["etr"] == {"A": 4, "B": 4, "C": 2}
    assert {"affected_population", "phu", "customers_interrupted", "cmi", "t50", "t90", "t100"} <= set(out["kpis"])
    assert {"naive_phu", "lower_bound", "gap", "improvement_vs_naive"} <= set(out["quality"])
    assert out["quality"]["objective"] == 12000 * 4 + 5000 * 4 + 6000 * 2


def test_crews_option_overrides_the_scenario(tmp_path):
    scenario = {**EXAMPLE, "critical_sites": []}
    out = json.loads(run(tmp_path, scenario, "--crews", "1", "--time-limit", "1").stdout)
    assert [r["id"] for r in out["ranking"]] == ["C", "A", "B"]
    assert (out["kpis"]["phu"], out["quality"]["naive_phu"], out["quality"]["lower_bound"]) == (96000, 102000, 96000)
    assert out["exact"] is True and len(out["plan"]["crews"]) == 1


def test_worked_example_one_crew_values(tmp_path):
    out = plan_of(tmp_path, PLAIN, "--crews", "1", "--time-limit", "1")
    # Ranking: C restores 6,000 in 2 h = 3,000/h; A (4 h, nobody alone) with B (1 h, 12,000) = 12,000 / 5 h
    # = 2,400/h, so C, then A, then B. A restores nobody even with its blockers (B is still broken below it).
    rows = {r["id"]: r for r in out["ranking"]}
    assert [r["id"] for r in out["ranking"]] == ["C", "A", "B"]
    figures = ("rank", "ratio", "gain_now", "gain_with_blockers", "population_served", "blocked_by", "repair_hours")
    assert {fid: tuple(r[f] for f in figures) for fid, r in rows.items()} == {
        "C": (1, 3000, 6000, 6000, 6000, [], 2),
        "A": (2, 2400, 0, 0, 12000, [], 4),
        "B": (3, 2400, 0, 12000, 12000, ["A"], 1),
    }
    assert "nobody alone" in rows["A"]["explanation"] and "2,400 people/h" in rows["A"]["explanation"]
    assert "3,000 people/h" in rows["C"]["explanation"] and "C goes first" in rows["C"]["explanation"]
    assert out["ranking_exact"] is True and out["exact"] is True
    # One crew: C 0-2, A 2-6, B 6-7; C's 6,000 wait 2 h, B's 12,000 wait 7 h: 12,000 + 84,000 = 96,000.
    assert sequences(out) == [[("C", 0, 2), ("A", 2, 6), ("B", 6, 7)]]
    assert out["plan"]["etr"] == {"A": 6, "B": 7, "C": 2}
    # 18,000 affected = 7,200 customers at 2.5; CMI = 96,000 h x 60 / 2.5 = 2,304,000. 6,000 of 18,000 (33 %)
    # are back at hour 2, everybody at hour 7: t50 = t90 = t100 = 7.
    assert out["kpis"] == {"affected_population": 18000, "phu": 96000, "customers_interrupted": 7200,
                           "cmi": 2_304_000, "t50": 7, "t90": 7, "t100": 7}
    # Naive (by population served: A 12,000, B 12,000, C 6,000): A 0-4, B 4-5, C 5-7: 12,000 x 5 + 6,000 x 7
    # = 102,000. One crew on a radial network is exact, so the bound is the optimum: gap 0.
    q = out["quality"]
    assert (q["phu"], q["naive_phu"], q["lower_bound"], q["gap"]) == (96000, 102000, 96000, 0)
    assert q["improvement_vs_naive"] == pytest.approx(6000 / 102000, abs=1e-6)
    assert (q["objective"], q["naive_objective"], q["objective_lower_bound"]) == (96000, 102000, 96000)
    assert out["notes"] == []


def test_persons_per_customer_option_changes_customers_and_cmi_only(tmp_path):
    out = plan_of(tmp_path, PLAIN, "--crews", "1", "--persons-per-customer", "2")
    # 18,000 people / 2 = 9,000 customers; 96,000 people-hours x 60 / 2 = 2,880,000 customer-minutes.
    assert (out["kpis"]["customers_interrupted"], out["kpis"]["cmi"]) == (9000, 2_880_000)
    assert (out["kpis"]["phu"], out["kpis"]["affected_population"]) == (96000, 18000)
    assert run(tmp_path, PLAIN, "--persons-per-customer", "0").returncode != 0


def test_worked_example_two_crew_values(tmp_path):
    out = plan_of(tmp_path, PLAIN, "--time-limit", "1")  # crews: 2 from the scenario
    # C (0-2) then B (2-3) on one crew, A (0-4) on the other: C's 6,000 back at 2, B's 12,000 at 4 (when A is
    # done): 12,000 + 48,000 = 60,000.
    assert sequences(out) == [[("A", 0, 4)], [("C", 0, 2), ("B", 2, 3)]]
    assert out["plan"]["etr"] == {"A": 4, "B": 4, "C": 2}
    assert out["kpis"] == {"affected_population": 18000, "phu": 60000, "customers_interrupted": 7200,
                           "cmi": 1_440_000, "t50": 4, "t90": 4, "t100": 4}
    # Naive list schedule (A, B, C to whichever crew is free first): A 0-4 | B 0-1, C 1-3; B waits for A until 4,
    # C is back at 3: 48,000 + 18,000 = 66,000. Lower bound (paths): B's 12,000 wait at least A's 4 h, C's 6,000
    # at least its 2 h: 60,000, so this plan is optimal (gap 0).
    q = out["quality"]
    assert (q["phu"], q["naive_phu"], q["lower_bound"], q["gap"]) == (60000, 66000, 60000, 0)
    assert q["improvement_vs_naive"] == pytest.approx(6000 / 66000, abs=1e-6)
    assert out["exact"] is False and any("NP-hard" in n for n in out["notes"])


def test_hospital_weight_enters_the_objective_but_phu_stays_in_plain_people(tmp_path):
    out = plan_of(tmp_path, EXAMPLE, "--crews", "1")
    # H1 adds 5,000 people-equivalents at B: block A+B restores 17,000 in 5 h = 3,400/h > C's 3,000/h.
    assert [(r["id"], r["ratio"]) for r in out["ranking"]] == [("A", 3400), ("B", 3400), ("C", 3000)]
    assert sequences(out) == [[("A", 0, 4), ("B", 4, 5), ("C", 5, 7)]]
    assert out["plan"]["etr"] == {"A": 4, "B": 5, "C": 7}
    # Objective: 17,000 x 5 + 6,000 x 7 = 127,000 (optimal, = its bound, = naive which has the same order).
    # phu counts people only: 12,000 x 5 + 6,000 x 7 = 102,000, above the plain optimum 96,000 (C first).
    q = out["quality"]
    assert (q["objective"], q["naive_objective"], q["objective_lower_bound"], q["objective_gap"]) == (
        127000, 127000, 127000, 0)
    assert (q["phu"], q["naive_phu"], q["lower_bound"], q["gap"]) == (102000, 102000, 96000, 0.0625)
    assert (q["improvement_vs_naive"], q["objective_improvement_vs_naive"]) == (0, 0)
    # B's 12,000 of 18,000 (67 %) are back at hour 5, C's 6,000 at 7.
    assert (out["kpis"]["t50"], out["kpis"]["t90"], out["kpis"]["t100"]) == (5, 7, 7)
    assert out["kpis"]["cmi"] == 102000 * 60 / 2.5

    two = plan_of(tmp_path, EXAMPLE)  # two crews: C, B | A again; objective 17,000 x 4 + 6,000 x 2 = 80,000
    q = two["quality"]
    assert (q["objective"], q["naive_objective"], q["objective_lower_bound"]) == (80000, 86000, 80000)
    assert (q["phu"], q["naive_phu"]) == (60000, 66000)  # naive: B at 4, C at 3 -> 17,000 x 4 + 6,000 x 3
    assert q["objective_improvement_vs_naive"] == pytest.approx(6000 / 86000, abs=1e-6)


def test_a_critical_site_can_cost_plain_people_hours_and_the_output_says_which_figure_is_compared(tmp_path):
    scenario = {
        "facilities": [
            {"id": "S", "parent": None},
            {"id": "X", "parent": "S", "population": 0, "damaged": True, "repair_hours": 1},
            {"id": "Y", "parent": "S", "population": 6000, "damaged": True, "repair_hours": 1},
        ],
        "critical_sites": [{"id": "H", "facility": "X", "kind": "hospital", "weight": 100000}],
    }
    out = plan_of(tmp_path, scenario)
    # The plan repairs X (hospital, 100,000 people-equivalents) first: objective 100,000 x 1 + 6,000 x 2 = 112,000
    # against the naive order (Y serves more people): 6,000 x 1 + 100,000 x 2 = 206,000. In plain people the plan
    # costs 12,000 against naive's 6,000: worse, and reported as such, next to the objective that improved.
    assert sequences(out) == [[("X", 0, 1), ("Y", 1, 2)]]
    q = out["quality"]
    assert (q["objective"], q["naive_objective"], q["objective_lower_bound"]) == (112000, 206000, 112000)
    assert q["objective_improvement_vs_naive"] == pytest.approx(94000 / 206000, abs=1e-6)
    assert (q["phu"], q["naive_phu"], q["improvement_vs_naive"]) == (12000, 6000, -1)
    assert q["optimised"] == "objective"
    assert "minimises objective" in q["comparison"] and "for information" in q["comparison"]
    assert "plain people" in q["unit"] and "critical-site weights" in q["objective_unit"]
    assert any("critical sites" in n and "12,000 vs 6,000" in n for n in out["notes"])


def test_meshed_scenario_ranks_heuristically_with_reachability_gains_and_a_consistent_plan(tmp_path):
    out = plan_of(tmp_path, MESHED, "--time-limit", "1")  # one crew
    assert out["ranking_exact"] is False and out["exact"] is False
    assert any("meshed" in n and "heuristic" in n for n in out["notes"])
    assert all("(meshed network: heuristic order)" in r["explanation"] for r in out["ranking"])
    # The ranking works on a spanning tree where T keeps its shorter feed, L2. Blocks: L2 with U restore
    # 1,000 + 3,000 in 1 + 2 h = 1,333.3/h; V 2,000 in 2 h = 1,000/h; L1 restores nothing in the tree (0/h).
    # Gains are by reachability in the real network: L1 or L2 alone each re-energise T (1,000); U alone nobody
    # (T is dark), U with L2 4,000. population_served counts everything downstream: L1, L2 4,000 each.
    figures = ("rank", "ratio", "gain_now", "gain_with_blockers", "population_served", "blocked_by", "repair_hours")
    assert {r["id"]: tuple(r[f] for f in figures) for r in out["ranking"]} == {
        "L2": (1, pytest.approx(4000 / 3, abs=1e-6), 1000, 1000, 4000, [], 1),
        "U": (2, pytest.approx(4000 / 3, abs=1e-6), 0, 4000, 3000, ["L2"], 2),
        "V": (3, 1000, 2000, 2000, 2000, [], 2),
        "L1": (4, 0, 1000, 1000, 4000, [], 3),
    }
    facilities = facilities_of(MESHED)
    population = {f.id: f.population for f in facilities}
    before = set(brute_energisation(facilities, {}))
    for r in out["ranking"]:  # every gain is what reachability says
        alone = set(brute_energisation(facilities, {r["id"]: 0})) - before
        with_blockers = set(brute_energisation(facilities, dict.fromkeys([r["id"], *r["blocked_by"]], 0))) - before
        assert r["gain_now"] == sum(population[f] for f in alone)
        assert r["gain_with_blockers"] == sum(population[f] for f in with_blockers)
    # One crew, Horn order L2 0-1, U 1-3, V 3-5, L1 5-8: T back at 1, U at 3, V at 5:
    # 1,000 x 1 + 3,000 x 3 + 2,000 x 5 = 20,000 (the optimum: brute force over the orders of L2, U, V).
    assert sequences(out) == [[("L2", 0, 1), ("U", 1, 3), ("V", 3, 5), ("L1", 5, 8)]]
    assert out["plan"]["etr"] == {"L2": 1, "U": 3, "V": 5, "L1": 8}
    # 6,000 affected; 4,000 (67 %) back by hour 3, all by hour 5 (L1's own repair at 8 restores nobody new).
    assert out["kpis"] == {"affected_population": 6000, "phu": 20000, "customers_interrupted": 2400,
                           "cmi": 480_000, "t50": 3, "t90": 5, "t100": 5}
    # Naive by population served (L1 4,000, L2 4,000, U 3,000, V 2,000): L1 0-3, L2 3-4, U 4-6, V 6-8:
    # T at 3, U at 6, V at 8: 3,000 + 18,000 + 16,000 = 37,000. Paths bound: T waits at least L2's 1 h, U at
    # least L2 + U = 3 h, V at least 2 h: 1,000 + 9,000 + 4,000 = 14,000 (a better bound may be higher, but
    # never above the optimum 20,000).
    q = out["quality"]
    assert (q["phu"], q["naive_phu"]) == (20000, 37000)
    assert 14000 <= q["lower_bound"] <= 20000
    assert q["improvement_vs_naive"] == pytest.approx(17000 / 37000, abs=1e-6)


def test_meshed_scenario_with_two_crews(tmp_path):
    out = plan_of(tmp_path, MESHED, "--crews", "2", "--time-limit", "1")
    # L2 0-1 then V 1-3 | U 0-2 then L1 2-5: T back at 1 (via L2), U at 2, V at 3: 1,000 + 6,000 + 6,000
    # = 13,000. Optimal: T cannot beat 1 h; with L2 first on one crew, the other does U first (13,000) or V
    # first (U at 3: 1,000 + 9,000 + 4,000 = 14,000).
    assert sequences(out) == [[("L2", 0, 1), ("V", 1, 3)], [("U", 0, 2), ("L1", 2, 5)]]
    assert out["plan"]["etr"] == {"L2": 1, "U": 2, "V": 3, "L1": 5}
    assert (out["kpis"]["phu"], out["kpis"]["t50"], out["kpis"]["t100"]) == (13000, 2, 3)
    # Naive: L1 0-3 | L2 0-1, U 1-3 | V 3-5 (crew 1 free first at 3, ties to the first crew): T at 1, U at 3,
    # V at 5: 1,000 + 9,000 + 10,000 = 20,000.
    q = out["quality"]
    assert (q["phu"], q["naive_phu"]) == (13000, 20000)
    assert q["lower_bound"] <= 13000
    assert out["ranking_exact"] is False and any("meshed" in n for n in out["notes"])


@pytest.mark.parametrize(
    ("change", "named", "reason"),
    [
        # L1 fed by S or U, U fed through T by L1: the cycle L1 <- U <- T <- L1 goes through a list parent.
        ({"id": "L1", "parent": ["S", "U"]}, "'L1'", "cycle"),
        ({"id": "T", "parent": ["L1", "T"]}, "'T'", "cycle"),
        ({"id": "T", "parent": ["L1", "Nowhere"]}, "'T'", "unknown parent 'Nowhere'"),
        ({"id": "T", "parent": ["L1", 7]}, "'T'", "parent"),
    ],
)
def test_bad_meshed_scenario_exits_non_zero_naming_the_facility(tmp_path, change, named, reason):
    facilities = [{**f, **change} if f["id"] == change["id"] else f for f in MESHED["facilities"]]
    done = run(tmp_path, {**MESHED, "facilities": facilities})
    assert done.returncode == 1
    assert named in done.stderr and reason in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("change", "named", "reason"),
    [
        ({"id": "B", "parent": "Nowhere"}, "'B'", "unknown parent"),
        ({"id": "A", "parent": "B"}, "'A'", "cycle"),
        ({"id": "C", "repair_hours": -2}, "'C'", "repair_hours"),
        ({"id": "C", "repair_hours": None}, "'C'", "repair_hours"),
        ({"id": "C", "repair_hours": "soon"}, "'C'", "repair_hours"),
    ],
)
def test_bad_scenario_exits_non_zero_naming_the_facility_without_a_traceback(tmp_path, change, named, reason):
    facilities = [{**f, **change} if f["id"] == change["id"] else f for f in EXAMPLE["facilities"]]
    done = run(tmp_path, {**EXAMPLE, "facilities": facilities})
    assert done.returncode != 0
    assert named in done.stderr and reason in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert done.stdout == ""


def test_unreadable_or_invalid_file_exits_non_zero_with_one_line(tmp_path):
    missing = subprocess.run(
        [sys.executable, "-m", "geo.plan", str(tmp_path / "nope.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert missing.returncode != 0 and "nope.json" in missing.stderr and "Traceback" not in missing.stderr
    broken = run(tmp_path, "{not json")
    assert broken.returncode != 0 and "not valid JSON" in broken.stderr and "Traceback" not in broken.stderr
