"""`python -m geo.plan` with crews as records: routes with travel, clock-time ETRs with ranges, errors exit 2."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.test_plan_cli import EXAMPLE, run

DISPATCH: dict[str, Any] = {
    "as_of": "2026-03-01T06:00:00+02:00",
    "crews": [
        {"id": "north", "base": [30.52, 50.45], "skills": ["hv"], "available_from_hours": 0},
        {"id": "south", "base": [30.40, 50.30], "skills": [], "available_from_hours": 1},
    ],
    "travel": {"speed_kmh": 40, "detour": 1.3},
    "facilities": [
        {"id": "S", "parent": None},
        {"id": "A", "parent": "S", "damaged": True, "repair_hours": 4, "lon": 30.6, "lat": 50.5, "skill": "hv",
         "release_hours": 2, "kind": "substation", "severity": "severe"},
        {"id": "B", "parent": "A", "population": 12000, "damaged": True, "repair_hours": 1, "lon": 30.62, "lat": 50.52},
        {"id": "C", "parent": "S", "population": 6000, "damaged": True, "repair_hours": 2, "lon": 30.45, "lat": 50.33},
    ],
    "critical_sites": [{"id": "H1", "facility": "B", "kind": "hospital", "weight": 5000}],
}
AS_OF = datetime.fromisoformat("2026-03-01T04:00:00+00:00")


def strict(text: str) -> Any:
    def refuse(name: str) -> None:
        raise AssertionError(f"non-strict JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def dispatched(tmp_path, scenario: dict[str, Any], *args: str) -> dict[str, Any]:
    done = run(tmp_path, scenario, "--samples", "200", *args)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return strict(done.stdout)


def at(hours: float) -> str:
    return (AS_OF + timedelta(hours=hours)).isoformat(timespec="seconds").replace("+00:00", "Z")


def test_crews_as_records_get_routes_with_travel_release_and_clock_times(tmp_path):
    out = dispatched(tmp_path, DISPATCH)
    assert out["as_of"] == "2026-03-01T04:00:00Z" and out["crews"] == 2
    routes = {c["crew"]: c["jobs"] for c in out["plan"]["crews"]}
    assert "A" in [j["id"] for j in routes["north"]]  # only north has the hv skill A needs
    assert "A" not in [j["id"] for j in routes["south"]]
    release = {"A": 2}
    for crew, jobs in routes.items():
        free = {"north": 0, "south": 1}[crew]
        for j in jobs:
            assert free == pytest.approx(j["travel_start"], abs=1e-5)
            assert j["travel_start"] <= j["arrival"] <= j["start"] <= j["finish"]
            assert j["start"] == pytest.approx(max(j["arrival"], release.get(j["id"], 0)), abs=1e-5)
            for key in ("travel_start", "arrival", "start", "finish"):
                assert j[f"{key}_at"] == at(j[key])
            free = j["finish"]
    a = next(j for j in routes["north"] if j["id"] == "A")
    assert a["start"] >= 2  # not before clearance
    q = out["quality"]
    assert q["optimal"] is True and out["exact"] is True and q["solver"].startswith("OPTIMAL")
    assert q["objective_lower_bound"] <= q["objective"] <= q["naive_objective"]
    assert q["lower_bound"] <= q["phu"]
    cases = out["plan"]["cases"]
    assert sorted(cases) == ["A", "B", "C"] == sorted(out["plan"]["etr"])
    for fid, case in cases.items():
        assert case["etr"] == out["plan"]["etr"][fid]
        assert 0 < case["p50"] <= case["p90"]
        assert case["p90_at"] == at(case["p90"]) and case["etr_at"] == at(case["etr"])
    assert cases["B"]["etr"] >= cases["A"]["etr"]  # B gets power only once its feed A is repaired
    assert set(out["plan"]["areas"]) == {"A", "B", "C"}
    assert out["kpis"]["phu"] == pytest.approx(12000 * cases["B"]["etr"] + 6000 * cases["C"]["etr"], rel=1e-5)
    assert dispatched(tmp_path, DISPATCH) == out  # deterministic, seed included


def test_a_travel_matrix_gives_exact_travel_times(tmp_path):
    crews = [{"id": "c1", "skills": ["hv"]}]
    facilities = [{k: v for k, v in f.items() if k not in ("lon", "lat")} for f in DISPATCH["facilities"]]
    matrix = {"c1": {"A": 30, "B": 60, "C": 90}, "A": {"B": 6, "C": 120}, "B": {"C": 120}, "C": {"A": 120, "B": 120}}
    scenario = {**DISPATCH, "crews": crews, "facilities": facilities, "travel": {"matrix_minutes": matrix}}
    out = dispatched(tmp_path, scenario)
    jobs = out["plan"]["crews"][0]["jobs"]
    assert out["quality"]["optimal"] is True and out["quality"]["solver"].startswith("OPTIMAL")
    # One crew: the subset DP. While A waits for clearance (hour 2) the crew repairs B (arrive 1, done 2), then A
    # (6 minutes back, the reverse of A -> B: 2.1-6.1; B and H1 get power), then C (2 h on): 17,000 x 6.1 +
    # 6,000 x 10.1 = 164,300. A first would give B power only at 7.1 (17,000 x 7.1 + 6,000 x 11.1 = 187,300).
    assert [(j["id"], j["travel_start"], j["arrival"], j["start"], j["finish"]) for j in jobs] == [
        ("B", 0, 1, 1, 2), ("A", 2, 2.1, 2.1, 6.1), ("C", 6.1, 8.1, 8.1, 10.1)]
    assert out["quality"]["objective"] == pytest.approx(164300)


def test_integer_crews_keep_the_old_output_and_say_the_dispatch_keys_are_unused(tmp_path):
    scenario = {**DISPATCH, "crews": 2}
    done = run(tmp_path, scenario, "--time-limit", "1")
    assert done.returncode == 0, done.stderr
    out = strict(done.stdout)
    assert out["plan"]["etr"] == {"A": 4, "B": 4, "C": 2}  # today's plan: no travel, no release
    assert any("unused with an integer 'crews'" in n and "release_hours" in n for n in out["notes"])
    old = strict(run(tmp_path, EXAMPLE).stdout)
    assert not any("unused" in n for n in old["notes"])


def _with(change: dict[str, Any], facility: str | None = None, crew: int | None = None) -> dict[str, Any]:
    scenario = json.loads(json.dumps(DISPATCH))
    if facility is not None:
        for f in scenario["facilities"]:
            if f["id"] == facility:
                f.update(change)
    elif crew is not None:
        scenario["crews"][crew].update(change)
    else:
        scenario.update(change)
    return scenario


@pytest.mark.parametrize(
    ("scenario", "named"),
    [
        (_with({"as_of": "tomorrow"}), "'as_of'"),
        (_with({"as_of": "2026-03-01T06:00:00"}), "UTC offset"),
        (_with({"crews": []}), "'crews' lists no crew"),
        (_with({"base": [30.5]}, crew=0), "crew 'north': field 'base'"),
        (_with({"base": [300, 50]}, crew=0), "crew 'north'"),
        (_with({"skills": "hv"}, crew=1), "crew 'south': field 'skills'"),
        (_with({"available_from_hours": -1}, crew=1), "crew 'south': field 'available_from_hours'"),
        (_with({"id": "north"}, crew=1), "crew 'north': duplicate id"),
        (_with({"release_hours": -2}, facility="A"), "facility 'A': field 'release_hours'"),
        (_with({"release_hours": "later"}, facility="A"), "facility 'A': field 'release_hours'"),
        (_with({"skill": "nuclear"}, facility="C"), "facility 'C': no crew has the skill 'nuclear'"),
        (_with({"lon": None}, facility="C"), "facility 'C': fields 'lon' and 'lat'"),
        (_with({"severity": "bad"}, facility="C"), "facility 'C': field 'severity'"),
        (_with({"travel": {"speed_kmh": 0}}), "'speed_kmh'"),
        (_with({"travel": {"detour": 0.5}}), "'detour'"),
        (_with({"travel": {"speed": 40}}), "travel: unknown field 'speed'"),
        (_with({"travel": {"matrix_minutes": {"north": {"A": 10}}}}), "no time from"),
        (_with({"travel": {"matrix_minutes": {"north": {"A": "far"}}}}), "travel from 'north'"),
    ],
)
def test_bad_dispatch_input_exits_2_naming_the_key_or_facility(tmp_path, scenario, named):
    done = run(tmp_path, scenario)
    assert done.returncode == 2, done.stderr
    assert named in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and done.stdout == ""


def test_crews_option_with_crew_records_is_refused(tmp_path):
    done = run(tmp_path, DISPATCH, "--crews", "3")
    assert done.returncode == 2 and "--crews" in done.stderr and "Traceback" not in done.stderr


def test_shift_keys_on_the_command_line_make_the_crew_wait_for_its_next_shift(tmp_path):
    scenario = {**DISPATCH, "crews": [
        {"id": "north", "base": [30.52, 50.45], "skills": ["hv"], "available_from_hours": 0,
         "available_until_hours": 3, "shift_hours": 10, "shift_period_hours": 24},
        {"id": "south", "base": [30.40, 50.30], "skills": [], "available_from_hours": 1,
         "available_until_hours": 9}]}
    out = dispatched(tmp_path, scenario)
    north = next(r["jobs"] for r in out["plan"]["crews"] if r["crew"] == "north")
    a = next(j for j in north if j["id"] == "A")
    # A (4 h, released at 2 h) cannot fit before north's shift ends at 3 h: its next shift runs 17-27 h
    assert a["start"] == 17 and a["start_at"] == at(17) and a["over_shift"] is False
    assert out["quality"]["optimal"] is True
    bad = run(tmp_path, {**DISPATCH, "crews": [{"id": "x", "available_until_hours": 2, "shift_hours": 30}]})
    assert bad.returncode == 2 and "crew 'x': shift_hours must be > 0 and <= shift_period_hours" in bad.stderr
