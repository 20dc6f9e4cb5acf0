"""A pandapower network's open switches as tie switches: which two facilities closing each one joins, and the
lines or transformers they cut that must still be imported (see `open_ties`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pandas as pd

from geo.pandapower_topology import BRANCHES, SWITCHED
from geo.tie_switches import TieSwitch


def open_ties(tables: Mapping[str, pd.DataFrame], *, reached: set[str]) -> tuple[
        list[TieSwitch], dict[str, str], dict[str, int]]:
    """The network's open switches as ties (ids 'switch:<i>' between 'bus:<b>' and 'bus:<b>' or '<element>:<i>'),
    the lines and transformers they cut that the feed graph left out (element -> the bus that still feeds it), and
    the open switches that are no tie, by reason.

    An open bus-bus switch joins its two buses. An open line or transformer switch joins its bus and the element
    itself, which stays fed from its other end (its attributes name it in `closes`, and that bus in
    `other_bus`): so, on the registry's undirected network, closing it restores nobody while the element is
    damaged, and it feeds either way. An element open at all its ends joins nothing.
    """
    switch = tables.get("switch", pd.DataFrame())
    if not len(switch):
        return [], {}, {}
    skipped: Counter[str] = Counter()
    is_open = ~switch["closed"].astype(bool)
    if "in_service" in switch.columns:
        out = is_open & ~switch["in_service"].astype(bool)
        if out.any():
            skipped["out of service"] = int(out.sum())
        is_open &= switch["in_service"].astype(bool)
    chosen = switch[is_open]
    cut_at: dict[str, set[int]] = {}
    for s in chosen[chosen["et"] != "b"].itertuples():
        cut_at.setdefault(f"{SWITCHED.get(str(s.et), str(s.et))}:{int(s.element)}", set()).add(int(s.bus))
    ties, cut = [], {}
    for index, s in chosen.to_dict("index").items():
        et, at = str(s["et"]), int(s["bus"])
        attributes = {k: (v.item() if hasattr(v, "item") else v) for k, v in s.items()
                      if k not in ("closed", "geo") and isinstance(v, str | int | float | bool | np.generic)
                      and not (isinstance(v, float) and np.isnan(v))}
        if et == "b":
            if int(s["element"]) == at:
                skipped["joins a bus to itself"] += 1
                continue
            far = f"bus:{int(s['element'])}"
        elif et in SWITCHED:
            table = SWITCHED[et]
            element = f"{table}:{int(s['element'])}"
            frame = tables.get(table, pd.DataFrame())
            if int(s["element"]) not in frame.index:
                skipped[f"the {table} it switches is not in the network"] += 1
                continue
            record = frame.loc[int(s["element"])]
            if "in_service" in frame.columns and not bool(record["in_service"]):
                skipped[f"the {table} it switches is out of service"] += 1
                continue
            kept = [int(record[c]) for c in BRANCHES[table] if int(record[c]) not in cut_at[element]]
            if not kept:
                skipped[f"the {table} is open at every end: closing one switch joins nothing"] += 1
                continue
            attributes["closes"] = element
            attributes["other_bus"] = f"bus:{kept[0]}"
            if element not in reached and f"bus:{kept[0]}" in reached:
                cut[element] = f"bus:{kept[0]}"
            far = element
        else:
            skipped[f"element type {et!r} not modelled"] += 1
            continue
        remote = s.get("remote")
        label = s.get("name")
        ties.append(TieSwitch(external_id=f"switch:{index}", name=(label if isinstance(label, str) and label.strip()
                                                                   else f"switch:{index}")[:200],
                              facility_a=f"bus:{at}", facility_b=far,
                              remote=bool(remote) if isinstance(remote, bool | np.bool_) else False,
                              attributes=attributes))
    return ties, cut, dict(skipped)


def prefixed(tie: TieSwitch, prefix: str, point: tuple[float, float] | None) -> TieSwitch:
    """A tie with the file's ids ('<file stem>:…') and its position."""
    attributes = dict(tie.attributes)
    for key in ("closes", "other_bus"):
        if key in attributes:
            attributes[key] = prefix + str(attributes[key])
    return replace(tie, external_id=prefix + tie.external_id, facility_a=prefix + tie.facility_a,
                   facility_b=prefix + tie.facility_b, attributes=attributes, point=point)
