"""Switching as a way to restore, on the real MV Oberrhein network: a normally-open tie switch that brings a
dark part back from another feeder, the repairs it stands in for, and a power flow that says whether the
switched network stays within its limits."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from geo.pandapower_flow import NOT_POSSIBLE, OUTSIDE, WITHIN, check_switching
from geo.pandapower_net import read_network, read_tables
from geo.switching import elements_of, energised, options
from geo.switching_plan import compare

ROOT = Path(__file__).resolve().parent.parent
OBERRHEIN = ROOT / "data" / "reference" / "oberrhein" / "mv_oberrhein.json"


@pytest.fixture(scope="module")
def network() -> tuple[dict[str, Any], Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandapower's note that numba is missing
        pytest.importorskip("pandapower")
        return read_network(OBERRHEIN)


def unsupplied(net: Any, *, out: set[str], close: tuple[int, ...] = ()) -> set[int]:
    """pandapower's own answer (its topology module): buses with no path to an external grid."""
    import pandapower.topology

    net = copy.deepcopy(net)
    for element in out:
        table, _, index = element.partition(":")
        net[table].loc[int(index), "in_service"] = False
    net.switch.loc[list(close), "closed"] = True
    return {int(b) for b in pandapower.topology.unsupplied_buses(net)}


def test_energisation_is_exact_against_pandapowers_own_topology(network):
    tables, net = network
    buses = {int(b) for b in tables["bus"].index}
    for damage in ({"line:97"}, {"line:62"}, {"line:97", "line:151"}, {"trafo:114"}):
        assert buses - energised(tables, damaged=damage) == unsupplied(net, out=damage)
    assert buses - energised(tables, damaged={"line:97"}, close=[144]) == unsupplied(net, out={"line:97"},
                                                                                         close=(144,))


def test_a_tie_switch_restores_the_dark_part_within_limits_and_beats_waiting_for_the_repair(network):
    tables, net = network
    dark = unsupplied(net, out={"line:97"})
    found = options(tables, {"line:97": 6.0}, people_per_kw=2.0, net=net)
    assert [o.switch for o in found] == ["switch:144"]
    option = found[0]
    assert set(option.restores_buses) == dark and unsupplied(net, out={"line:97"}, close=(144,)) == set()
    loads = tables["load"][tables["load"]["bus"].isin(dark) & tables["load"]["in_service"].astype(bool)]
    people = float(loads["p_mw"].sum()) * 1000 * 2.0
    assert option.people == pytest.approx(people) and option.bridges == ("line:97",)
    # Repairs only: these people wait 6 h; switching first: 0.5 h.
    assert option.people_hours_saved == pytest.approx(people * 6.0 - people * 0.5)
    assert option.flow.status == WITHIN and option.flow.violations == ()
    assert option.flow.max_line_loading_percent is not None and option.flow.max_line_loading_percent <= 100
    assert option.flow.min_vm_pu is not None and option.flow.min_vm_pu >= 0.9
    assert option.sentence.startswith(f"close switch Switch 144: restores {people:,.0f} people in 0.5 h while "
                                      "line:97 is repaired; the power flow stays within limits (lines up to ")


def test_a_switched_network_that_overloads_says_so_naming_the_element(network):
    tables, net = network
    found = options(tables, {"line:62": 6.0}, people_per_kw=2.0, net=net)
    assert {o.switch for o in found} == {"switch:107", "switch:144", "switch:34", "switch:48"}
    for option in found:
        assert option.flow.status == OUTSIDE and option.flow.violations
        assert option.flow.max_line_loading_percent is not None and option.flow.max_line_loading_percent > 100
        assert "the power flow breaks limits: " in option.sentence and " % (limit 100 %)" in option.sentence
    with_limits = copy.deepcopy(net)
    with_limits.line["max_loading_percent"] = 250.0  # the network's own limits are used where it gives them
    with_limits.bus["min_vm_pu"], with_limits.bus["max_vm_pu"] = 0.7, 1.2
    check = check_switching(with_limits, close=[34], out_of_service={"line:62"})
    assert check.status == OUTSIDE and check.violations == ("trafo 114 (HV/MV Transformer 0) loaded 107 % "
                                                            "(limit 100 %)",)
    with_limits.trafo["max_loading_percent"] = 120.0
    assert check_switching(with_limits, close=[34], out_of_service={"line:62"}).status == WITHIN


def test_without_electrical_data_the_check_is_said_to_be_impossible(network):
    tables, net = network
    no_ratings = copy.deepcopy(net)
    no_ratings.line["max_i_ka"] = np.nan
    check = check_switching(no_ratings, close=[144], out_of_service={"line:97"})
    assert check.status == NOT_POSSIBLE and check.reason == ("the power-flow check was not possible: 181 line rows "
                                                              "have no max_i_ka")
    bare = options(read_tables(OBERRHEIN), {"line:97": 6.0}, people_per_kw=2.0)  # tables only, no network
    assert bare[0].flow.status == NOT_POSSIBLE and "not possible: the network has no electrical data" in (
        bare[0].sentence)


def test_a_damaged_switch_is_not_proposed_and_each_option_bridges_only_its_own_repairs(network):
    tables, net = network
    both = options(tables, {"line:97": 6.0, "line:29": 3.0}, people_per_kw=1.0)
    assert {o.switch: o.bridges for o in both} == {"switch:144": ("line:97",), "switch:48": ("line:29",)}
    assert options(tables, {"line:97": 6.0, "switch:144": 2.0}, people_per_kw=1.0) == []
    assert options(tables, {}, people_per_kw=1.0) == []
    with pytest.raises(ValueError, match="'line:9999': not in the network"):
        options(tables, {"line:9999": 1.0}, people_per_kw=1.0)


def test_the_command_prints_the_options_as_json_and_refuses_unknown_elements(network):
    run = [sys.executable, "-W", "ignore", "-m", "geo.switching_plan", str(OBERRHEIN)]
    done = subprocess.run([*run, "--damaged", "line:97=6", "--people-per-kw", "2"], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    (option,) = answer["options"]
    assert option["switch"] == "switch:144" and option["flow"]["status"] == WITHIN and option["hours"] == 0.5
    assert [s["action"] for s in answer["plan"]["steps"]] == ["close switch:144", "repair line:97"]
    assert answer["plan"]["with_switching_people_hours"] == round(option["people"] * 0.5, 1)
    assert answer["plan"]["repairs_only_people_hours"] == round(option["people"] * 6.0, 1)
    bad = subprocess.run([*run, "--damaged", "line:9999=6"], capture_output=True, text=True, cwd=ROOT, check=False)
    assert bad.returncode == 1 and "'line:9999': not in the network" in bad.stderr and "Traceback" not in bad.stderr


def test_the_plan_that_switches_first_beats_the_one_that_only_repairs_simulated_exactly(network):
    tables, net = network
    damage = {"line:97": 6.0, "line:29": 3.0}

    def people(buses: set[int]) -> float:
        load = tables["load"][tables["load"]["bus"].isin(buses) & tables["load"]["in_service"].astype(bool)]
        return float(load["p_mw"].sum()) * 1000 * 2.0

    both = unsupplied(net, out=set(damage))
    plans = compare(tables, damage, order=["line:29", "line:97"], people_per_kw=2.0, net=net)
    assert [s.action for s in plans.repairs_only] == ["repair line:29", "repair line:97"]
    assert plans.repairs_only_people_hours == pytest.approx(
        people(both) * 3.0 + people(unsupplied(net, out={"line:97"})) * 6.0)
    first, second = (o.switch for o in plans.switching)
    assert {first, second} == {"switch:144", "switch:48"}
    assert all(o.flow.status == WITHIN for o in plans.switching)
    assert [s.action for s in plans.with_switching] == [f"close {first}", f"close {second}", "repair line:29",
                                                        "repair line:97"]
    after_first = unsupplied(net, out=set(damage), close=(int(first.partition(":")[2]),))
    assert plans.with_switching_people_hours == pytest.approx(people(both) * 0.5 + people(after_first) * 0.5)
    assert [s.dark_people for s in plans.with_switching] == [pytest.approx(people(after_first)), 0, 0, 0]
    assert plans.with_switching_people_hours < plans.repairs_only_people_hours / 5


def test_a_switching_step_that_breaks_a_limit_is_not_taken(network):
    tables, net = network
    plans = compare(tables, {"line:62": 6.0}, order=["line:62"], people_per_kw=2.0, net=net)
    assert plans.switching == () and plans.with_switching_people_hours == plans.repairs_only_people_hours
    unchecked = compare(tables, {"line:62": 6.0}, order=["line:62"], people_per_kw=2.0)  # no electrical data
    assert len(unchecked.switching) == 1 and unchecked.switching[0].flow.status == NOT_POSSIBLE


def test_damaged_registry_facilities_map_to_the_networks_elements(network):
    tables, net = network
    damage, others = elements_of({"mv_oberrhein:line:97": 6.0, "mv_oberrhein:load:3": 1.0, "dublin:S1": 2.0},
                                 prefix="mv_oberrhein:")
    assert damage == {"line:97": 6.0} and others == ("dublin:S1",)
    assert [o.switch for o in options(tables, damage, people_per_kw=1.0)] == ["switch:144"]


def test_a_remote_controlled_switch_is_closed_in_minutes(network):
    tables, _ = network
    (manual,) = options(tables, {"line:97": 6.0}, people_per_kw=2.0)
    (remote,) = options(tables, {"line:97": 6.0}, people_per_kw=2.0, remote=[144])
    assert remote.hours == 0.1 and remote.remote and not manual.remote
    assert remote.people_hours_saved == pytest.approx(manual.people * (6.0 - 0.1))
    assert remote.sentence.startswith(f"close switch Switch 144 (remote): restores {manual.people:,.0f} people in "
                                      "0.1 h while line:97 is repaired")
    marked = {**tables, "switch": tables["switch"].assign(remote=tables["switch"].index == 144)}
    (by_column,) = options(marked, {"line:97": 6.0}, people_per_kw=2.0)
    assert by_column.remote and by_column.hours == 0.1
    plans = compare(tables, {"line:97": 6.0}, order=["line:97"], people_per_kw=2.0, remote=[144], remote_hours=0.05)
    assert plans.with_switching_people_hours == pytest.approx(manual.people * 0.05)
