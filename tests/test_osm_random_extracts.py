"""geo.osm on random small extracts: lines over shared nodes, stations, pole transformers, switches of every
state and junction tag; the import never raises, its feed links have no cycle, and every normally-open switch is a
tie between two distinct imported facilities or is reported."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo import feeds
from geo.osm import read_osm
from tests.test_osm_import import write_extract

SIDE = 5  # nodes on a SIDE x SIDE grid, 1 km apart
SWITCH_TAGS = st.fixed_dictionaries(
    {"switch:state": st.sampled_from(["open", "closed", "normally_open", "x"])},
    optional={"ref": st.sampled_from(["A", "B"]), "voltage": st.sampled_from(["20000", "400", "20000;400"]),
              "line_management": st.sampled_from(["branch", "split", "cross", "branch|transition"])})
LINE_TAGS = st.fixed_dictionaries(
    {"power": st.sampled_from(["line", "minor_line", "cable"])},
    optional={"ref": st.sampled_from(["A", "B"]), "voltage": st.sampled_from(["20000", "400", "20000;400", "bad"])})
counter = itertools.count()


@st.composite
def extracts(draw: st.DrawFn) -> tuple[dict[int, tuple[float, float, dict[str, str]]],
                                       dict[int, tuple[list[int], dict[str, str]]]]:
    cells = [(x, y) for x in range(SIDE) for y in range(SIDE)]
    nodes: dict[int, tuple[float, float, dict[str, str]]] = {
        1 + i: (x * 1000.0, y * 1000.0, {}) for i, (x, y) in enumerate(cells)}
    for i in draw(st.sets(st.sampled_from(sorted(nodes)), max_size=6)):
        x, y, _ = nodes[i]
        nodes[i] = (x, y, {"power": "switch", **draw(SWITCH_TAGS)})
    for i in draw(st.sets(st.sampled_from(sorted(nodes)), max_size=3)):
        x, y, tags = nodes[i]
        nodes[i] = (x, y, {**tags, "power": tags.get("power", "pole"), "transformer": "distribution"})
    for k, i in enumerate(draw(st.sets(st.sampled_from(sorted(nodes)), max_size=3))):
        x, y, _ = nodes[i]
        nodes[1000 + k] = (x + 10.0, y, {"power": draw(st.sampled_from(["plant", "substation"])),
                                        "voltage": "20000"})
    ways = {}
    for w in range(draw(st.integers(1, 8))):
        path = draw(st.lists(st.sampled_from(sorted(i for i in nodes if i < 1000)), min_size=2, max_size=5))
        ways[100 + w] = (path, draw(LINE_TAGS))
    return nodes, ways


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(extract=extracts())
def test_random_extracts_import_without_error_or_cycle_and_every_open_switch_is_a_tie_or_reported(tmp_path, extract):
    nodes, ways = extract
    imported = read_osm(write_extract(tmp_path / f"random{next(counter)}.osm.pbf", nodes, ways))
    frame = imported.frame
    ids = set(frame["external_id"])
    links = [(p, c) for p, c in zip(frame["parent_external_id"], frame["external_id"], strict=True)
             if isinstance(p, str)]
    links += list(imported.extra_links)
    assert feeds.find_cycle(links) is None
    assert all(p in ids for p, _ in links)
    for tie in imported.ties:
        assert tie.facility_a != tie.facility_b and {tie.facility_a, tie.facility_b} <= ids
    tied = {t.external_id for t in imported.ties}
    counted = sum(int(m.group(1)) for line in imported.report
                  if (m := re.match(r"tie switches skipped (\d+): ", line)))
    opened = sum(1 for _, _, tags in nodes.values() if tags.get("switch:state") in ("open", "normally_open"))
    assert len(tied) == len(imported.ties) and len(tied) + counted == opened
    named = [line for line in imported.report if line.startswith("tie switch skipped osm:n")]
    assert len(named) == min(counted, 50) and not tied & {line.split()[3].rstrip(":") for line in named}


def test_a_way_through_the_same_node_twice_and_a_closed_ring_import(tmp_path: Path):
    nodes = {1: (0.0, 0.0, {"power": "plant", "voltage": "20000"}), 2: (10.0, 0.0, {}), 3: (1000.0, 0.0, {}),
             4: (1000.0, 1000.0, {"power": "switch", "switch:state": "open"}), 5: (0.0, 1000.0, {})}
    ways = {10: ([2, 3, 4, 5, 3], {"power": "minor_line", "voltage": "20000"}),
            11: ([3, 4, 5, 3], {"power": "cable", "voltage": "20000"})}
    imported = read_osm(write_extract(tmp_path / "loops.osm.pbf", nodes, ways))
    assert feeds.find_cycle(list(imported.extra_links) + [
        (p, c) for p, c in zip(imported.frame["parent_external_id"], imported.frame["external_id"], strict=True)
        if isinstance(p, str)]) is None
