"""Distribution transformers mounted on a pole of a line (power=pole with transformer=*, as Tag:power=pole asks
mappers to tag them): each is a transformer facility fed from the line it hangs on."""

from __future__ import annotations

from collections.abc import Mapping

from geo.osm_model import Element

POLE_KEYS = ("name", "ref", "operator", "voltage", "transformer", "rating")  # kept
NOT_A_TRANSFORMER = frozenset({"", "no"})


def is_pole_transformer(power: str, transformer: str | None) -> bool:
    """Whether a node's power=* and transformer=* values say a transformer is mounted on a pole."""
    return power == "pole" and (transformer or "").strip().lower() not in NOT_A_TRANSFORMER


def hung_on(transformers: Mapping[int, Element], lines: list[Element],
            cut: Mapping[tuple[int, int], int]) -> list[tuple[Element, list[str]]]:
    """Each pole transformer with the external ids of the lines it hangs on: every line through or ending at its
    node, leaving out one a tie cuts off there unless no other line is left; none when it stands on no line."""
    wanted = set(transformers)
    at: dict[int, list[int]] = {}
    for j, line in enumerate(lines):
        for n in dict.fromkeys(line.nodes):
            if n in wanted:
                at.setdefault(n, []).append(j)
    hung = []
    for n, element in sorted(transformers.items()):
        on = at.get(n, [])
        joined = [j for j in on if (j, n) not in cut] or on[:1]
        hung.append((element, [f"osm:{lines[j].osm_id}" for j in joined]))
    return hung
