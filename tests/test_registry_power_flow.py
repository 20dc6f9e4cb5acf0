"""The power-flow check of proposed switching steps in the live product (issue 15): a pandapower network imported
by import-facilities is rebuilt from the registry's stored attributes, its power flow is the file's, and
/api/triage's steps carry the verdict of a power flow on the switched network: within limits, or the limit
broken with its element and figure."""

from __future__ import annotations

import json
import uuid
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from geo.pandapower_flow import check_switching
from geo.pandapower_net import read_pandapower
from geo.pandapower_rebuild import rebuild
from tests.conftest import PASSWORD, api_client
from tests.test_import_facilities import ok

OBERRHEIN = Path(__file__).resolve().parent.parent / "data" / "reference" / "oberrhein" / "mv_oberrhein.json"


def quiet(build: Callable[[], Any]) -> Any:
    with warnings.catch_warnings():  # pandapower's notes (numba missing) are warnings; the tests make them errors
        warnings.simplefilter("ignore")
        return build()


@pytest.fixture(scope="module")
def pp() -> Any:
    return quiet(lambda: pytest.importorskip("pandapower"))


def as_stored(path: Path) -> tuple[list[tuple[str, dict[str, Any]]], list[tuple[str, dict[str, Any]]]]:
    """A file's facilities and ties as import-facilities stores them: (external id, attributes), through JSON."""
    imported = read_pandapower(path)
    facilities = [(r.external_id, json.loads(json.dumps(
        {"element": r.element, "pandapower": r.pandapower,
         **({"attached": r.attached, "network": r.network} if r.element == "bus" else {})}, allow_nan=False)))
        for r in imported.frame.itertuples()]
    return facilities, [(t.external_id, json.loads(json.dumps(t.attributes))) for t in imported.ties]


def flows_match(pp: Any, original: Any, rebuilt: Any) -> None:
    quiet(lambda: pp.runpp(original, numba=False))
    quiet(lambda: pp.runpp(rebuilt, numba=False))
    vm = original.res_bus["vm_pu"].reindex(rebuilt.bus.index)
    assert rebuilt.res_bus["vm_pu"].to_numpy() == pytest.approx(vm.to_numpy(), abs=1e-9)
    loading = original.res_line["loading_percent"].reindex(rebuilt.line.index)
    assert rebuilt.res_line["loading_percent"].to_numpy() == pytest.approx(loading.to_numpy(), abs=1e-6)
    if len(rebuilt.trafo):
        trafo = original.res_trafo["loading_percent"].reindex(rebuilt.trafo.index)
        assert rebuilt.res_trafo["loading_percent"].to_numpy() == pytest.approx(trafo.to_numpy(), abs=1e-6)


def test_mv_oberrhein_rebuilt_from_its_stored_attributes_has_the_files_power_flow(pp):
    facilities, ties = as_stored(OBERRHEIN)
    rebuilt = rebuild("mv_oberrhein:", facilities, ties)
    net = quiet(lambda: pp.from_json(str(OBERRHEIN)))
    assert len(rebuilt.net.bus) == len(net.bus) and len(rebuilt.net.line) == len(net.line)
    assert sorted(rebuilt.net.switch.index) == sorted(net.switch.index[~net.switch["closed"]])
    assert not rebuilt.net.switch["closed"].any()
    assert {"bus.geo", "line.geo"} <= set(rebuilt.missing) and not [m for m in rebuilt.missing if "net." in m]
    assert len(rebuilt.net.sgen) == len(net.sgen) == 153
    flows_match(pp, net, rebuilt.net)
    # the same switched network, checked on the file and on the rebuilt one
    on_file = check_switching(net, close=[144], out_of_service={"line:97"})
    assert check_switching(rebuilt.net, close=[144], out_of_service={"line:97"}) == on_file


def test_a_network_with_generators_and_another_frequency_rebuilds_at_its_stored_frequency(pp, tmp_path):
    pn = quiet(lambda: pytest.importorskip("pandapower.networks"))
    net = quiet(pn.case9)  # 60 Hz, generators
    path = tmp_path / "case9.json"
    quiet(lambda: pp.to_json(net, str(path)))
    facilities, ties = as_stored(path)
    rebuilt = rebuild("case9:", facilities, ties)
    assert (len(rebuilt.net.gen), len(rebuilt.net.load), len(rebuilt.net.line)) == (2, 3, 9)
    assert (rebuilt.net.f_hz, rebuilt.net.sn_mva) == (60.0, 100.0)
    flows_match(pp, quiet(lambda: pp.from_json(str(path))), rebuilt.net)
    # A registry imported before the frequency was kept: 50 Hz is taken, said, and the flow differs.
    old = [(e, {k: v for k, v in a.items() if k != "network"}) for e, a in facilities]
    at_50 = rebuild("case9:", old, ties).net
    assert "net.f_hz (50 Hz taken)" in rebuild("case9:", old, ties).missing
    quiet(lambda: pp.runpp(at_50, numba=False))
    assert (at_50.res_bus["vm_pu"] - rebuilt.net.res_bus["vm_pu"]).abs().max() > 1e-3


def test_rows_of_another_network_or_without_data_are_left_out(pp):
    facilities, ties = as_stored(OBERRHEIN)
    others = [("other:bus:1", {"element": "bus", "pandapower": "{}"}), ("mv_oberrhein:bus:x", {"element": "bus"}),
              ("sw-12", {"et": "b"})]
    rebuilt = rebuild("mv_oberrhein:", facilities + others[:2], ties + others[2:])
    assert "other:bus:1" not in rebuilt.elements and len(rebuilt.net.bus) == len(facilities_of(facilities, "bus"))


def facilities_of(facilities: list[tuple[str, dict[str, Any]]], table: str) -> list[str]:
    return [e for e, a in facilities if a["element"] == table]


def imported(app: Any, conn: Any, path: Path) -> tuple[dict[str, int], Any, Any]:
    """Import a network file, give its stations people, and a crew and a coordinator: (ids, crew, coordinator)."""
    ok(app, "import-facilities", path)
    ids = {r["external_id"]: r["id"] for r in conn.execute("SELECT id, external_id FROM facility").fetchall()}
    dataset = conn.execute("INSERT INTO dataset (name, source) VALUES ('people', 'test') RETURNING id").fetchone()
    layer = conn.execute("INSERT INTO population_layer (name, kind, dataset_id, total) VALUES ('people', 'points', "
                         "%s, 0) RETURNING id", (dataset["id"],)).fetchone()["id"]
    conn.execute("""INSERT INTO facility_population (facility_id, layer_id, population, population_served, method)
                    SELECT id, %s, 100, 100, 'given' FROM facility WHERE kind = 'substation'""", (layer,))
    runner = app.test_cli_runner()
    tokens = {}
    for name, role in (("coord", "coordinator"), ("crew", "crew")):
        runner.invoke(args=["create-user", name, "--role", role], env={"GRIDTRIAGE_PASSWORD": PASSWORD})
        tokens[name] = runner.invoke(args=["create-token", name]).output.strip()
    return ids, api_client(app, tokens["crew"]), api_client(app, tokens["coord"])


def damage(crew: Any, facility_id: int) -> None:
    body = {"id": str(uuid.uuid4()), "facility_id": facility_id, "lon": 7.8, "lat": 48.4,
            "observed_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(), "kind": "line",
            "severity": "severe", "status": "out_of_service", "repair_hours": 8}
    assert crew.post("/api/reports", json=body).status_code == 201


def test_triage_step_carries_the_power_flow_of_the_switched_registry_network(fresh, pp):
    app, conn = fresh
    ids, crew, coordinator = imported(app, conn, OBERRHEIN)
    damage(crew, ids["mv_oberrhein:line:97"])
    steps = {s["external_id"]: s for s in coordinator.get("/api/triage").json["switching"]}
    step = steps["mv_oberrhein:switch:144"]
    net = quiet(lambda: pp.from_json(str(OBERRHEIN)))
    expected = check_switching(net, close=[144], out_of_service={"line:97"})
    flow = step["flow"]
    assert flow["status"] == "within_limits" and flow["converged"] is True and flow["violations"] == []
    assert flow["network"] == "mv_oberrhein"
    assert "line.geo" in flow["not_in_registry"]  # the frequency and the static generators are in it now
    assert not [m for m in flow["not_in_registry"] if m.startswith("net.") or "never imported" in m]
    assert (flow["max_line_loading_percent"], flow["max_trafo_loading_percent"], flow["min_vm_pu"],
            flow["max_vm_pu"]) == (expected.max_line_loading_percent, expected.max_trafo_loading_percent,
                                   expected.min_vm_pu, expected.max_vm_pu)
    assert flow["reason"] == (f"the power flow stays within limits: lines loaded up to "
                              f"{expected.max_line_loading_percent:.1f} %, transformers up to "
                              f"{expected.max_trafo_loading_percent:.1f} %, voltages {expected.min_vm_pu:g}-"
                              f"{expected.max_vm_pu:g} pu")
    planned = coordinator.get("/api/plan?crews=1&time_limit=0.2").json["switching"]["steps"]
    assert next(s for s in planned if s["external_id"] == "mv_oberrhein:switch:144")["flow"] == flow
    uk = coordinator.get("/api/triage", headers={"Accept-Language": "uk"}).json["switching"]
    said = next(s for s in uk if s["external_id"] == "mv_oberrhein:switch:144")["flow"]["reason"]
    assert said.startswith("потокорозподіл залишається в межах") and "66,6" in said


def test_a_switched_network_that_overloads_says_so_naming_the_element_and_figure(fresh, pp, tmp_path, monkeypatch):
    app, conn = fresh
    net = quiet(lambda: pp.from_json(str(OBERRHEIN)))
    net.load["p_mw"] *= 1.1  # within limits as it is; closing switch 144 for line 97 then overloads transformer 1
    net.load["q_mvar"] *= 1.1
    assert check_switching(net, close=[], out_of_service=[]).status == "within_limits"
    path = tmp_path / "heavy.json"
    quiet(lambda: pp.to_json(net, str(path)))
    ids, crew, coordinator = imported(app, conn, path)
    damage(crew, ids["heavy:line:97"])
    step = {s["external_id"]: s for s in coordinator.get("/api/triage").json["switching"]}["heavy:switch:144"]
    flow = step["flow"]
    expected = check_switching(net, close=[144], out_of_service={"line:97"})
    assert flow["status"] == "outside_limits" and flow["converged"] is True
    assert flow["violations"] == list(expected.violations) == ["trafo 142 (HV/MV Transformer 1) loaded 104 % "
                                                               "(limit 100 %)"]
    assert flow["reason"] == ("the power flow breaks limits: transformer 142 (HV/MV Transformer 1) loaded "
                              f"{expected.breaches[0].value:.1f} % (limit 100 %)")
    assert flow["max_trafo_loading_percent"] == expected.max_trafo_loading_percent > 100
    uk = coordinator.get("/api/triage", headers={"Accept-Language": "uk"}).json["switching"]
    said = next(s for s in uk if s["external_id"] == "heavy:switch:144")["flow"]["reason"]
    assert said == ("потокорозподіл виходить за межі: трансформатор 142 (HV/MV Transformer 1) завантажений на "
                    f"{expected.breaches[0].value:.1f} % (межа 100 %)".replace(".", ","))
    from app.coordinator import switching

    monkeypatch.setattr(switching, "CHECKED_STEPS", 0)  # steps past the first CHECKED_STEPS are not checked
    step = {s["external_id"]: s for s in coordinator.get("/api/triage").json["switching"]}["heavy:switch:144"]
    assert step["flow"] == {"status": "not_possible",
                            "reason": "the power-flow check was not run: only the first 0 steps are checked"}



def test_a_switched_network_that_cannot_carry_its_load_is_said_not_to_converge(pp):
    from app.coordinator.switching import flow_json

    net = quiet(lambda: pp.from_json(str(OBERRHEIN)))
    net.load["p_mw"] *= 3.0
    net.load["q_mvar"] *= 3.0
    said = flow_json(check_switching(net, close=[144], out_of_service={"line:97"}))
    assert (said["status"], said["converged"]) == ("outside_limits", False)
    assert said["reason"] == ("the power flow does not converge: the switched network cannot carry the load "
                              "(voltage collapse)")


def test_a_step_through_a_switch_not_from_the_network_says_the_check_was_not_possible(fresh, pp):
    app, conn = fresh
    ids, crew, coordinator = imported(app, conn, OBERRHEIN)
    # A mobile generator registered by hand (no electrical data), tied to the bus switch 144 would back-feed.
    source = conn.execute("INSERT INTO facility (external_id, name, kind, geom) VALUES ('genset', 'Genset', "
                          "'power_plant', ST_Point(7.8, 48.4, 4326)) RETURNING id").fetchone()["id"]
    bus = conn.execute("SELECT b.external_id FROM tie_switch t JOIN facility b ON b.id = t.facility_a "
                       "WHERE t.external_id = 'mv_oberrhein:switch:144'").fetchone()["external_id"]
    conn.execute("INSERT INTO tie_switch (external_id, name, facility_a, facility_b, remote, switch_hours) "
                 "VALUES ('genset-tie', 'Genset tie', %s, %s, true, 0.05)", (source, ids[bus]))
    damage(crew, ids["mv_oberrhein:line:97"])
    steps = {s["external_id"]: s for s in coordinator.get("/api/triage").json["switching"]}
    assert "mv_oberrhein:switch:144" not in steps  # the quicker tie feeds the same dark part
    assert steps["genset-tie"]["flow"] == {
        "status": "not_possible", "reason": "the power-flow check was not possible: this switch and its two ends "
                                            "are not all from one network with electrical data"}


def test_a_switch_recorded_closed_is_closed_in_the_next_steps_power_flow(fresh, pp):
    app, conn = fresh
    ids, crew, coordinator = imported(app, conn, OBERRHEIN)
    damage(crew, ids["mv_oberrhein:line:97"])
    damage(crew, ids["mv_oberrhein:line:62"])
    first, second = coordinator.get("/api/triage").json["switching"]  # in the order to do them
    assert {first["external_id"], second["external_id"]} == {"mv_oberrhein:switch:34", "mv_oberrhein:switch:144"}
    net = quiet(lambda: pp.from_json(str(OBERRHEIN)))
    out = {"line:97", "line:62"}
    both = check_switching(net, close=[34, 144], out_of_service=out)
    alone = check_switching(net, close=[int(first["external_id"].rpartition(":")[2])], out_of_service=out)
    assert alone.max_trafo_loading_percent != both.max_trafo_loading_percent
    assert first["flow"]["max_trafo_loading_percent"] == alone.max_trafo_loading_percent
    assert second["flow"]["max_trafo_loading_percent"] == both.max_trafo_loading_percent  # the earlier step closed
    assert coordinator.post(f"/api/switches/{first['switch_id']}/close", json={}).json["changed"] is True
    (left,) = coordinator.get("/api/triage").json["switching"]
    assert left["external_id"] == second["external_id"]
    assert left["flow"]["max_trafo_loading_percent"] == both.max_trafo_loading_percent
    assert left["flow"]["violations"] == list(both.violations)
