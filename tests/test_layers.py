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


def module_imports(path: Path, *, package: str) -> set[str]:
    """The modules of `package` a file imports when it is imported: module level, not under `__main__`.

    Imports inside functions and under `if __name__ == "__main__":` run later, or only as a script, so they
    cannot close an import cycle.
    """
    found: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names if alias.name.split(".")[0] == package)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module.split(".")[0] == package:
                    found.add(node.module)
                    found.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If) and not _is_main_guard(node.test):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.With):
                visit(node.body)

    visit(ast.parse(path.read_text(), filename=str(path)).body)
    return found


def _is_main_guard(test: ast.expr) -> bool:
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
            and len(test.comparators) == 1 and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value == "__main__")


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Which modules of a package each of its modules imports at import time (`from pkg import mod` included)."""
    modules = {".".join((package, *p.relative_to(root).with_suffix("").parts)).removesuffix(".__init__"): p
               for p in root.rglob("*.py")}
    return {name: module_imports(path, package=package) & (set(modules) - {name}) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """An import cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def walk(module: str, path: list[str]) -> list[str] | None:
        state[module] = 1
        for imported in sorted(graph.get(module, ())):
            if state.get(imported) == 1:
                return [*path[path.index(imported):], imported]
            if imported not in state and (cycle := walk(imported, [*path, imported])):
                return cycle
        state[module] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := walk(start, [start])):
            return cycle
    return None


def test_geo_modules_import_each_other_without_a_cycle():
    assert find_cycle(import_graph(GEO, "geo")) is None


def test_the_cycle_check_catches_a_cycle_and_ignores_main_guards(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg import b\n")
    (package / "b.py").write_text("from pkg.c import thing\n")
    (package / "c.py").write_text("def thing():\n    from pkg import a\n\n\nif __name__ == '__main__':\n"
                                  "    import pkg.a\n")
    assert find_cycle(import_graph(package, "pkg")) is None
    (package / "c.py").write_text("import pkg.a\n")
    assert find_cycle(import_graph(package, "pkg")) == ["pkg.a", "pkg.b", "pkg.c", "pkg.a"]


CLOCK_CALLS = {"now", "utcnow", "today", "time", "time_ns", "perf_counter", "perf_counter_ns", "monotonic",
               "monotonic_ns", "process_time"}


def reads_clock(path: Path) -> bool:
    """Whether the module calls a clock (datetime.now(), time.perf_counter(), …); naming the datetime type is fine."""
    tree = ast.parse(path.read_text(), filename=str(path))
    uses_time = "time" in imported_roots(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in CLOCK_CALLS - {"time"} or (name == "time" and uses_time):
                return True
    return False


def test_only_the_command_line_reads_the_clock():
    clock_readers = {str(p.relative_to(GEO)) for p in sorted(GEO.rglob("*.py")) if reads_clock(p)}
    assert clock_readers <= {"plan_cli.py"}  # the planner takes a deadline; the command line builds it


def test_the_clock_check_sees_a_clock_read(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from datetime import datetime\nNOW = datetime.now()\n")
    assert reads_clock(module)
    module.write_text("from datetime import datetime\ndef f(t: datetime) -> datetime:\n    return t\n")
    assert not reads_clock(module)
