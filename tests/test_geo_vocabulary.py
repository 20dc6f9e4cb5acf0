"""One vocabulary in geo/: the kinds, statuses and progress words are spelled out in geo/taxonomy.py only."""

from __future__ import annotations

import ast
from pathlib import Path

from geo import pandapower_net, records, repair_hours, taxonomy, workflow

GEO = Path(__file__).resolve().parent.parent / "geo"
VOCABULARY = {name: frozenset(value) for name, value in vars(taxonomy).items()
              if name.isupper() and isinstance(value, tuple) and all(isinstance(v, str) for v in value)}


def restated_vocabulary(path: Path) -> list[tuple[int, str]]:
    """Literal tuples, lists and sets of strings in a file that spell out a whole taxonomy vocabulary."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Tuple | ast.List | ast.Set) and len(node.elts) >= 2 and all(
                isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
            words = frozenset(e.value for e in node.elts if isinstance(e, ast.Constant))
            found += [(node.lineno, name) for name, vocabulary in VOCABULARY.items() if words == vocabulary]
    return found


def test_no_geo_module_but_the_taxonomy_spells_out_a_vocabulary():
    offenders = {p.name: restated_vocabulary(p) for p in sorted(GEO.glob("*.py")) if p.name != "taxonomy.py"}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_check_finds_a_restated_vocabulary(tmp_path):
    copy = tmp_path / "copy.py"
    copy.write_text(f"KINDS = {taxonomy.SITE_KINDS!r}\nSOME = ('hospital', 'shelter')\n")
    assert restated_vocabulary(copy) == [(1, "SITE_KINDS")]


def test_record_validation_uses_the_taxonomys_kinds():
    assert records.FACILITY_KINDS is taxonomy.FACILITY_KINDS and records.SITE_KINDS is taxonomy.SITE_KINDS


def test_tables_keyed_by_vocabulary_cover_it_exactly():
    assert set(repair_hours.DEFAULT_REPAIR_HOURS) == set(taxonomy.FACILITY_KINDS)
    assert set(workflow.PROGRESS_TO_STATUS) == set(taxonomy.PROGRESS)
    assert set(pandapower_net.PANDAPOWER_KINDS.values()) <= set(taxonomy.FACILITY_KINDS)
