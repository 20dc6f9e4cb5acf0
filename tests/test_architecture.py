"""The layout's rules, read from the source: the tree shows the architecture, and these keep it so.

- app/ top level holds only the factory, config, db, errors, the edge parsers and the OpenAPI assembly;
- no import cycles anywhere in app/ or geo/ (function-local imports count; `__main__` blocks do not);
- views (modules that define a blueprint) never execute SQL: statements live in app/repo/;
- an area never imports another area's views;
- geo/ imports nothing of the app (tests/test_layers.py) and app/repo/ nothing of the web (test_repo_rules.py).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOP_LEVEL = {"__init__.py", "config.py", "db.py", "errors.py", "parse.py", "openapi.py"}
AREAS = {"auth", "field", "reports", "cases", "coordinator", "ogc", "admin", "imports", "site", "repo", "crews"}
# Statements as this project writes them (keywords in capitals), not English that starts with "with" or "select".
SQL = re.compile(r"^\s*(SELECT\b.*\bFROM\b|INSERT INTO|UPDATE \w+ SET|DELETE FROM|WITH \w+ AS|COPY \w+)", re.S)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(*packages: str) -> dict[str, Path]:
    return {module_name(p): p for package in packages for p in sorted((ROOT / package).rglob("*.py"))}


def _is_main_guard(node: ast.AST) -> bool:
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__")


def imported(path: Path, known: set[str]) -> set[str]:
    """The project modules `path` imports, anywhere in it except under `if __name__ == "__main__":`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {id(n) for guard in ast.walk(tree) if _is_main_guard(guard) for n in ast.walk(guard)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from app.x import y` imports app.x.y when y is a module, else app.x.
            found.update(f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in known else node.module
                         for alias in node.names)
    return {name for name in found if name in known}


def graph() -> dict[str, set[str]]:
    found = modules("app", "geo")
    known = set(found)
    return {name: imported(path, known) - {name} for name, path in found.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def defines_blueprint(path: Path) -> bool:
    return bool(re.search(r"^bp = Blueprint\(", path.read_text(encoding="utf-8"), flags=re.M))


def area_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "app" else None


def test_app_top_level_holds_only_the_factory_config_db_errors_parsers_and_openapi():
    assert {p.name for p in (ROOT / "app").glob("*.py")} == TOP_LEVEL
    packages = {p.name for p in (ROOT / "app").iterdir() if (p / "__init__.py").exists()}
    assert packages == AREAS


def test_no_import_cycles_in_app_or_geo():
    assert find_cycle(graph()) is None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_views_never_execute_sql():
    offenders = []
    for name, path in modules("app").items():
        if not defines_blueprint(path):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
                    "execute", "executemany"):
                offenders.append(f"{name}:{node.lineno} calls .{node.func.attr}()")
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value):
                offenders.append(f"{name}:{node.lineno} holds SQL")
    assert offenders == []


def test_areas_never_import_each_others_views():
    found = modules("app")
    views = {name for name, path in found.items() if defines_blueprint(path)}
    edges = graph()
    offenders = [f"{name} imports {other}" for name in found if (area := area_of(name))
                 for other in edges[name] if other in views and area_of(other) not in (None, area)]
    assert offenders == []


def test_the_layout_is_written_down_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    for area in AREAS:
        assert f"app/{area}/" in layout
    for module in sorted(TOP_LEVEL - {"__init__.py"}):
        assert f"app/{module}" in layout
    assert "geo/" in layout
