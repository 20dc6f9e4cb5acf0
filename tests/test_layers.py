"""The dependency rule: geo/ is pure and never imports the web or database layers."""

from __future__ import annotations

import ast
from pathlib import Path

FORBIDDEN = {"flask", "werkzeug", "psycopg", "psycopg_pool", "app", "sqlalchemy", "alembic"}
GEO = Path(__file__).resolve().parent.parent / "geo"


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_geo_never_imports_flask_psycopg_or_app():
    files = sorted(GEO.rglob("*.py"))
    assert files, "geo/ has no modules"
    offenders = {str(p.relative_to(GEO)): sorted(imported_roots(p) & FORBIDDEN) for p in files}
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def test_the_layer_check_catches_a_forbidden_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom psycopg import sql\n")
    assert imported_roots(bad) & FORBIDDEN == {"psycopg"}
