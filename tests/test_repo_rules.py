"""app/repo/ owns the SQL and nothing of the web: it imports no web framework and no app module outside itself,
builds no statement from pieces of text, and spells out no set of the vocabulary (geo/taxonomy.py holds those)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from geo import taxonomy

REPO = Path(__file__).resolve().parent.parent / "app" / "repo"
WEB = {"flask", "werkzeug", "flask_login", "flask_wtf", "flask_babel", "jinja2"}
# Methods whose first argument is SQL: psycopg's connection/cursor execute, executemany and copy, and sql.SQL.
SQL_TAKERS = {"execute", "executemany", "copy", "SQL"}
# Where a vocabulary may still be spelled out in SQL, and why: ON CONFLICT infers its arbiter index only from the
# index's own literal predicate (tests/test_vocabulary.py checks that one against the taxonomy).
LITERAL_ALLOWED = {("reports.py", "open_case")}
VOCABULARIES = {name: frozenset(value) for name, value in vars(taxonomy).items()
                if name.isupper() and isinstance(value, tuple) and all(isinstance(v, str) for v in value)}


def forbidden_imports(path: Path) -> list[str]:
    """Modules the file imports that app/repo must not: the web, or app modules outside app.repo."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level > 1:  # relative imports above app/repo reach app itself
                found.append("." * node.level + (node.module or ""))
                continue
            names = [node.module or ""] if node.level == 0 else []
        else:
            continue
        for name in names:
            root = name.split(".")[0]
            if root in WEB or (root == "app" and name != "app.repo" and not name.startswith("app.repo.")):
                found.append(name)
    return found


def _is_text(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def _assembled(node: ast.AST, names: dict[str, ast.AST]) -> bool:
    """Whether an expression builds text: an f-string, `+`/`%` with text, or str.format (a name is followed to
    its module-level value)."""
    if isinstance(node, ast.Name) and node.id in names:
        return _assembled(names[node.id], names)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        sides = (node.left, node.right)
        return any(_is_text(side) or _assembled(side, names) for side in sides) or all(
            isinstance(side, ast.Name) for side in sides)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return _is_text(node.func.value) or _assembled(node.func.value, names)
    return False


def assembled_sql(path: Path) -> list[int]:
    """Lines where SQL handed to execute/executemany/copy/sql.SQL is assembled from pieces of text."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = {target.id: node.value for node in tree.body if isinstance(node, ast.Assign)
             for target in node.targets if isinstance(target, ast.Name)}
    lines = [node.lineno for node in ast.walk(tree)
             if isinstance(node, ast.Call) and node.args and (
                 (isinstance(node.func, ast.Attribute) and node.func.attr in SQL_TAKERS)
                 or (isinstance(node.func, ast.Name) and node.func.id in SQL_TAKERS))
             and _assembled(node.args[0], names)]
    # Module-level statements (ITEMS = {...}, REPORTS = sql.SQL(...)) built from text are assembled SQL too.
    lines += [value.lineno for value in names.values() if _assembled(value, {})]
    return sorted(lines)


def spelled_vocabulary(path: Path) -> list[tuple[int, str]]:
    """Where a literal (a tuple/list/set of strings, or quoted words in a SQL string) names two or more words of one
    vocabulary, outside LITERAL_ALLOWED: those sets come from geo.taxonomy as parameters."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    allowed = {id(inner) for fn in ast.walk(tree)
               if isinstance(fn, ast.FunctionDef) and (path.name, fn.name) in LITERAL_ALLOWED
               for inner in ast.walk(fn)}
    found = []
    for node in ast.walk(tree):
        if id(node) in allowed:
            continue
        if isinstance(node, ast.Tuple | ast.List | ast.Set) and node.elts and all(
                isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
            words = {e.value for e in node.elts if isinstance(e, ast.Constant)}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            words = set(re.findall(r"'(\w+)'", node.value))
        else:
            continue
        found += [(node.lineno, name) for name, vocabulary in VOCABULARIES.items() if len(words & vocabulary) >= 2]
    return sorted(set(found))


def repo_files() -> list[Path]:
    files = sorted(REPO.rglob("*.py"))
    assert files, "app/repo/ has no modules"
    return files


def test_repo_imports_neither_the_web_nor_app_modules_outside_it():
    offenders = {str(p.relative_to(REPO)): forbidden_imports(p) for p in repo_files()}
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def test_repo_builds_no_sql_from_pieces_of_text():
    offenders = {str(p.relative_to(REPO)): assembled_sql(p) for p in repo_files()}
    assert {name: lines for name, lines in offenders.items() if lines} == {}


def test_repo_takes_vocabulary_sets_from_the_taxonomy():
    offenders = {str(p.relative_to(REPO)): spelled_vocabulary(p) for p in repo_files()}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_checks_catch_what_they_forbid(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from flask import request\n"
        "import app.parse\n"
        "from app.repo import Conn\n"
        "from .. import db\n"
        "BASE = 'SELECT * FROM facility'\n"
        "def a(conn, t, w): conn.execute(f'SELECT * FROM {t}')\n"
        "def b(conn, w): conn.execute(BASE + ' WHERE ' + w)\n"
        "def c(conn, t): conn.execute('SELECT * FROM %s' % t)\n"
        "def d(conn, t): conn.execute('SELECT * FROM {}'.format(t))\n"
        "def e(conn): conn.execute(\"SELECT 1 FROM damage_case WHERE status IN ('repaired', 'rejected')\")\n"
        "CLOSED = ('repaired', 'duplicate')\n"
        "def ok(conn, i): conn.execute('SELECT * FROM facility WHERE id = %(id)s', {'id': i})\n")
    assert forbidden_imports(bad) == ["flask", "app.parse", ".."]
    assert assembled_sql(bad) == [6, 7, 8, 9]
    assert spelled_vocabulary(bad) == [(10, "CASE_STATUSES"), (10, "CLOSED_CASE_STATUSES"),
                                       (11, "CASE_STATUSES"), (11, "CLOSED_CASE_STATUSES")]
