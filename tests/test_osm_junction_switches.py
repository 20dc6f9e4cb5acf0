"""OpenStreetMap normally-open switches where a line ends on another or three or more lines meet: a tie where a
documented rule says which line the switch breaks (geo/osm_junctions.py), reported with its node id and the reason
where none does or the rules disagree; imported through import-facilities, and the triage on it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from geo.osm import read_osm
from tests.conftest import PASSWORD, api_client
from tests.test_import_facilities import ok
from tests.test_osm_import import at, links, write_extract

OPEN = {"power": "switch", "switch": "disconnector", "switch:state": "open"}
MV = {"power": "minor_line", "voltage": "20000"}

# Node id -> (x m, y m, tags). Each junction stands kilometres from the others.
NODES: dict[int, tuple[float, float, dict[str, str]]] = {
    # A, the branch rule: feeder F1 from plant P1 through substation D ends on line T (P2 -> G) at switch 100.
    1: (0, 0, {"power": "plant", "voltage": "20000", "name": "P1"}),
    2: (5000, 0, {"power": "substation", "voltage": "20000", "name": "D"}),
    3: (10000, 10000, {"power": "plant", "voltage": "20000", "name": "P2"}),
    4: (10000, -10000, {"power": "substation", "voltage": "20000", "name": "G"}),
    11: (20, 0, {}), 12: (4980, 0, {}), 13: (5020, 0, {}),
    14: (10000, 9980, {}), 15: (10000, 5000, {"power": "pole"}), 16: (10000, -9980, {}),
    100: (10000, 0, dict(OPEN)),
    # B, name/ref (and the main line continuing through a branch support): ways L20, L20 and L21 end at 200.
    # Fed: plant P3 - L20 - 200 - L20 - substation H; and plant P4 - w23 - substation K - L21 (the branch) - 200.
    200: (30000, 0, {**OPEN, "ref": "L21", "line_management": "branch"}),
    201: (27000, 0, {}), 202: (33000, 0, {}), 203: (30000, 3000, {}),
    210: (26980, 0, {"power": "plant", "voltage": "20000", "name": "P3"}),
    211: (33020, 0, {"power": "substation", "voltage": "20000", "name": "H"}),
    212: (30000, 3020, {"power": "substation", "voltage": "20000", "name": "K"}),
    213: (30000, 8000, {"power": "plant", "voltage": "20000", "name": "P4"}),
    214: (30000, 7980, {}), 215: (30000, 3040, {}),
    # C, voltage: a pole with a transformer; its 20 kV disconnector breaks the 20 kV line, not the two 0.4 kV ones.
    300: (50000, 0, {"power": "pole", "transformer": "distribution", "switch": "disconnector", "voltage": "20000",
                     "switch:state": "open"}),
    301: (47000, 0, {}), 302: (50300, 200, {}), 303: (50300, -200, {}),
    # D, ambiguous: three 20 kV ways end at 400, nothing says which the switch breaks.
    400: (70000, 0, dict(OPEN)), 401: (67000, 0, {}), 410: (66990, 0, {"power": "substation", "voltage": "20000"}),
    402: (73000, 0, {}), 403: (70000, 3000, {}),
    # E, the rules disagree: the switch's ref names the line passing through, and the other line ends there.
    500: (90000, 0, {**OPEN, "ref": "Y"}), 501: (87000, 0, {}), 502: (93000, 0, {}), 503: (90000, 3000, {}),
    # F, line_management=split: no single line branches off.
    600: (110000, 0, {**OPEN, "line_management": "split"}), 601: (107000, 0, {}), 602: (113000, 0, {}),
    603: (110000, 3000, {}),
    # G, the rule's line passes through the node: which side the others join is not given.
    700: (130000, 0, {**OPEN, "ref": "Q"}), 701: (127000, 0, {}), 702: (133000, 0, {}), 703: (130000, 3000, {}),
    704: (130000, -3000, {}),
}
WAYS: dict[int, tuple[list[int], dict[str, str]]] = {
    10: ([11, 12], {**MV, "name": "F1a"}),
    11: ([13, 100], {**MV, "name": "F1b"}),
    12: ([14, 15, 100, 16], {**MV, "name": "T"}),  # passes through the switch's node
    20: ([201, 200], {**MV, "ref": "L20"}), 21: ([200, 202], {**MV, "ref": "L20"}),
    22: ([200, 203], {**MV, "ref": "L21"}), 23: ([214, 215], {**MV, "ref": "K1"}),
    30: ([301, 300], {**MV, "name": "X1"}),
    31: ([300, 302], {"power": "minor_line", "voltage": "400", "name": "X2"}),
    32: ([300, 303], {"power": "minor_line", "voltage": "400", "name": "X3"}),
    40: ([401, 400], dict(MV)), 41: ([400, 402], dict(MV)), 42: ([400, 403], dict(MV)),
    50: ([501, 500, 502], {**MV, "ref": "Y"}), 51: ([500, 503], {**MV, "ref": "Z"}),
    60: ([601, 600, 602], dict(MV)), 61: ([600, 603], dict(MV)),
    70: ([701, 700, 702], {**MV, "ref": "Q"}), 71: ([700, 703], dict(MV)), 72: ([700, 704], dict(MV)),
}


def ties(conn: Any) -> dict[str, tuple[str, str, dict[str, Any]]]:
    rows = conn.execute("""SELECT t.external_id, a.external_id AS a, b.external_id AS b, t.attributes
                           FROM tie_switch t JOIN facility a ON a.id = t.facility_a
                           JOIN facility b ON b.id = t.facility_b""").fetchall()
    return {r["external_id"]: (r["a"], r["b"], r["attributes"]) for r in rows}


def test_a_switch_where_a_line_ends_on_others_is_a_tie_on_the_line_a_rule_names_else_reported(fresh, tmp_path):
    app, conn = fresh
    path = write_extract(tmp_path / "junctions.osm.pbf", NODES, WAYS)
    out = ok(app, "import-facilities", path)
    assert "Traceback" not in out and "tie switches: 3 (normally open)" in out
    assert "tie switches: 3 new, 0 updated, 0 unchanged" in out
    assert "tie switches: 0 new, 0 updated, 3 unchanged" in ok(app, "import-facilities", path)
    assert ("tie switches where a line ends on another or three or more lines meet: 3 (the line each breaks found "
            "by rule: branch 1, main line continues 1, name/ref 1, voltage 1)") in out
    stored = ties(conn)
    assert {k: v[:2] for k, v in stored.items()} == {
        "osm:n100": ("osm:w11", "osm:w12"),  # F1's end, joined to T, the line passing through
        "osm:n200": ("osm:w22", "osm:w20"),  # the branch L21, joined to the main line L20
        "osm:n300": ("osm:w30", "osm:w31")}  # the 20 kV line, joined to the transformer's 0.4 kV side
    assert stored["osm:n100"][2]["rule"] == "branch: the only line that ends at the switch"
    assert stored["osm:n200"][2]["rule"].startswith("name/ref: the switch's name or ref; main line continues")
    assert stored["osm:n300"][2]["breaks"] == "osm:w30" and stored["osm:n300"][2]["lines_joined"] == "osm:w31; osm:w32"
    assert ("tie switches skipped 4: where a line ends on another or three or more lines meet, and which one it "
            "breaks is not clear: taken as closed, the lines stay joined (each listed below)") in out
    for line in (
            "tie switch skipped osm:n400: where 3 lines meet (osm:w40, osm:w41, osm:w42): no rule says which it "
            "breaks (no single line ends there, and no name, ref or voltage matches one line only)",
            "tie switch skipped osm:n500: where 2 lines meet (osm:w50, osm:w51): the rules disagree (osm:w50 by "
            "name/ref: the switch's name or ref; osm:w51 by branch: the only line that ends at the switch)",
            "tie switch skipped osm:n600: where 2 lines meet (osm:w60, osm:w61), tagged line_management=split: no "
            "single line branches off there",
            "tie switch skipped osm:n700: where 3 lines meet (osm:w70, osm:w71, osm:w72): it breaks osm:w70, which "
            "passes through the node, so which side the other lines join is not given"):
        assert line in out
    parents: dict[str, set[str]] = {}
    for parent, child in links(conn):
        parents.setdefault(child, set()).add(parent)
    # F1 is fed from P1 only, T and G from P2 only: the switch is not a path, and T is not cut at it.
    assert parents["osm:w10"] == {"osm:n1"} and parents["osm:n2"] == {"osm:w10"} and parents["osm:w11"] == {"osm:n2"}
    assert parents["osm:w12"] == {"osm:n3"} and parents["osm:n4"] == {"osm:w12"}
    assert "osm:w12:2" not in parents and "osm:w11" not in parents.get("osm:w12", set())
    # An ambiguous switch is taken as closed: its lines stay joined, fed from substation n410 at w40's far end.
    assert parents["osm:w40"] == {"osm:n410"} and parents["osm:w41"] == parents["osm:w42"] == {"osm:w40"}


def test_closing_a_junction_tie_back_feeds_the_broken_lines_side_in_the_triage(fresh, tmp_path):
    """F1a and w23 out: substations D (1,000 people) and K (300) are dark; G (800) keeps power from P2 through T,
    H (200) from P3 through both L20 ways. Closing n100 back-feeds D through F1b from T, closing n200 back-feeds K
    through the branch L21 from the main line. Had the importer broken another line, G or H would be dark; had it
    ignored the switches, D and K would be lit."""
    app, conn = fresh
    ok(app, "import-facilities", write_extract(tmp_path / "junctions.osm.pbf", NODES, WAYS))
    ids = {r["external_id"]: r["id"] for r in conn.execute("SELECT id, external_id FROM facility").fetchall()}
    dataset = conn.execute("INSERT INTO dataset (name, source) VALUES ('people', 'test') RETURNING id").fetchone()
    layer = conn.execute("INSERT INTO population_layer (name, kind, dataset_id, total) VALUES ('people', 'points', "
                         "%s, 2300) RETURNING id", (dataset["id"],)).fetchone()["id"]
    people = {"osm:n2": 1000, "osm:n4": 800, "osm:n212": 300, "osm:n211": 200}
    for name, count in people.items():
        conn.execute("INSERT INTO facility_population (facility_id, layer_id, population, population_served, "
                     "method) VALUES (%s, %s, %s, %s, 'given')", (ids[name], layer, count, count))
    runner = app.test_cli_runner()
    tokens = {}
    for name, role in (("coord", "coordinator"), ("crew", "crew")):
        runner.invoke(args=["create-user", name, "--role", role], env={"GRIDTRIAGE_PASSWORD": PASSWORD})
        tokens[name] = runner.invoke(args=["create-token", name]).output.strip()
    crew, coord = api_client(app, tokens["crew"]), api_client(app, tokens["coord"])
    for line, where in (("osm:w10", at(2500, 0)), ("osm:w23", at(30000, 5000))):
        body = {"id": str(uuid.uuid4()), "facility_id": ids[line], "lon": where[0], "lat": where[1],
                "observed_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(), "kind": "line",
                "severity": "severe", "status": "out_of_service", "repair_hours": 8}
        assert crew.post("/api/reports", json=body).status_code == 201
    triage = coord.get("/api/triage").json
    assert triage["summary"]["people_without_power"] == 1300  # D and K: G and H keep their feeds
    steps = {s["external_id"]: s for s in triage["switching"]}
    assert set(steps) == {"osm:n100", "osm:n200"}
    assert (steps["osm:n100"]["people_restored"], steps["osm:n200"]["people_restored"]) == (1000, 300)
    assert ids["osm:n2"] in steps["osm:n100"]["restores_facility_ids"]
    assert ids["osm:n212"] in steps["osm:n200"]["restores_facility_ids"]
    assert not {ids["osm:n4"], ids["osm:n211"]} & {f for s in steps.values() for f in s["restores_facility_ids"]}
    closed = []
    try:
        for external_id, left in (("osm:n200", 1000), ("osm:n100", 0)):
            switch = steps[external_id]["switch_id"]
            assert coord.post(f"/api/switches/{switch}/close", json={"reason": "test"}).json["changed"] is True
            closed.append(switch)
            after = coord.get("/api/triage").json
            assert after["summary"]["people_without_power"] == left
        assert after["switching"] == []
    finally:
        for switch in closed:
            assert coord.post(f"/api/switches/{switch}/open", json={}).json["changed"] is True


@pytest.mark.parametrize(("extra", "expected"), [
    ({"pole:type": "branch"}, ("osm:w22", "osm:w20")),  # the older tag, as line_management=branch
    ({"line_management": "branch|transition"}, ("osm:w22", "osm:w20")),
    ({}, None),  # without a branch tag, three ways ending and no name: nothing says which
])
def test_the_main_line_continues_through_a_branch_support(tmp_path, extra, expected):
    nodes = {200: (0.0, 0.0, {**OPEN, **extra}), 201: (-3000.0, 0.0, {}), 202: (3000.0, 0.0, {}),
             203: (0.0, 3000.0, {})}
    ways = {20: ([201, 200], {**MV, "ref": "L20"}), 21: ([200, 202], {**MV, "ref": "L20"}),
            22: ([200, 203], {**MV, "ref": "L21"})}
    imported = read_osm(write_extract(tmp_path / "branch.osm.pbf", nodes, ways))
    assert [(t.facility_a, t.facility_b) for t in imported.ties] == ([expected] if expected else [])
    if expected is None:
        assert any(line.startswith("tie switch skipped osm:n200: where 3 lines meet") for line in imported.report)
