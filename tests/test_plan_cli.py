"""The `python -m geo.plan` command line, end to end in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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


def run(tmp_path: Path, scenario: object, *args: str) -> subprocess.CompletedProcess[str]:
    """Write the scenario to a file and run the command line on it."""
    path = tmp_path / "scenario.json"
    path.write_text(scenario if isinstance(scenario, str) else json.dumps(scenario))
    return subprocess.run(
        [sys.executable, "-m", "geo.plan", str(path), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )


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
