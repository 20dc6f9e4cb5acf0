"""`flask --app app import-crews FILE`: crews from CSV or GeoJSON, upserted by name; bad input names the file, row
and column and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from flask import Flask

from tests.conftest import create_accounts, make_app, run

HEADER = "name,lon,lat,skills,shift_start,shift_end,time_zone,status,members\n"


@pytest.fixture(scope="module")
def own(new_database) -> Iterator[tuple[Flask, str]]:
    url = new_database()
    app = make_app(url)
    create_accounts(app, {"ann": "crew", "bob": "crew", "cid": "crew", "lead": "coordinator"})
    yield app, url
    app.extensions["db_pool"].close()


@pytest.fixture()
def fresh(own) -> Iterator[tuple[Flask, psycopg.Connection]]:
    """The module's app and a connection, with no crews."""
    app, url = own
    with psycopg.connect(url, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
        conn.execute("DELETE FROM crew")
        yield app, conn


def invoke(app: Flask, *args: object):
    return app.test_cli_runner().invoke(args=[str(a) for a in args])


def error_line(result) -> str:
    """The command's one-line error (after the progress bar's label, when it got that far)."""
    assert result.exit_code != 0 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    return errors[0]


def crews(conn) -> dict[str, dict]:
    rows = conn.execute("""SELECT c.name, ST_X(c.base) AS lon, ST_Y(c.base) AS lat, c.skills, c.shift_start::text AS
                                  shift_start, c.shift_end::text AS shift_end, c.time_zone, c.status::text AS status,
                                  coalesce(array_agg(u.username ORDER BY u.username)
                                           FILTER (WHERE u.id IS NOT NULL), '{}') AS members
                           FROM crew c LEFT JOIN crew_member m ON m.crew_id = c.id
                           LEFT JOIN app_user u ON u.id = m.user_id GROUP BY c.id""").fetchall()
    return {r.pop("name"): r for r in rows}


def csv_file(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "crews.csv"
    path.write_text(HEADER + "".join(row + "\n" for row in rows), encoding="utf-8")
    return path


GOOD = ('Alpha,-6.26,53.35,"line; hv",07:00,19:00,Europe/Kyiv,,ann',
        'Bravo,-6.30,53.40,substation,22:00,06:00,UTC,off_shift,"bob, cid"')


def test_a_csv_creates_the_crews_and_a_second_load_updates_them(fresh, tmp_path):
    app, conn = fresh
    out = run(app, "import-crews", csv_file(tmp_path, *GOOD))
    assert "crews: 2 new, 0 updated, 0 unchanged" in out
    found = crews(conn)
    assert found["Alpha"] == {"lon": -6.26, "lat": 53.35, "skills": ["hv", "line"], "shift_start": "07:00:00",
                              "shift_end": "19:00:00", "time_zone": "Europe/Kyiv", "status": "available",
                              "members": ["ann"]}
    assert found["Bravo"]["status"] == "off_shift" and found["Bravo"]["members"] == ["bob", "cid"]
    assert "2 unchanged" in run(app, "import-crews", csv_file(tmp_path, *GOOD))
    # cid moves from Bravo to Alpha in one file; Bravo's blank status keeps its status
    moved = run(app, "import-crews", csv_file(tmp_path, 'Alpha,-6.26,53.35,line,07:00,19:00,Europe/Kyiv,,"ann;cid"',
                                              "Bravo,-6.30,53.40,substation,22:00,06:00,UTC,,bob"))
    assert "0 new, 2 updated" in moved
    found = crews(conn)
    assert found["Alpha"]["members"] == ["ann", "cid"] and found["Alpha"]["skills"] == ["line"]
    assert found["Bravo"]["members"] == ["bob"] and found["Bravo"]["status"] == "off_shift"
    actions = [r["action"] for r in conn.execute("SELECT action FROM audit_event WHERE entity = 'crew' "
                                                 "AND reason = 'import-crews crews.csv' ORDER BY id").fetchall()]
    assert actions == ["created", "created", "changed", "changed"]


def test_a_geojson_with_points_and_lists(fresh, tmp_path):
    app, conn = fresh
    path = tmp_path / "crews.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [30.52, 50.45]},
         "properties": {"name": "Kyiv 1", "skills": ["generation", "hv"], "shift_start": "08:00",
                        "shift_end": "20:00", "time_zone": "Europe/Kyiv", "status": "en_route", "members": ["bob"]}},
    ]}), encoding="utf-8")
    assert "1 new" in run(app, "import-crews", path)
    assert crews(conn)["Kyiv 1"] == {"lon": 30.52, "lat": 50.45, "skills": ["generation", "hv"],
                                     "shift_start": "08:00:00", "shift_end": "20:00:00", "time_zone": "Europe/Kyiv",
                                     "status": "en_route", "members": ["bob"]}


def test_a_dry_run_reports_and_changes_nothing(fresh, tmp_path):
    app, conn = fresh
    out = run(app, "import-crews", csv_file(tmp_path, *GOOD), "--dry-run")
    assert "2 new" in out and "dry run: nothing was changed" in out
    assert crews(conn) == {}


@pytest.mark.parametrize(("row", "column", "reason"), [
    ("Charlie,-6.2,53.3,line,07:00,19:00,Mars/Olympus,,", "time_zone", "IANA time zone"),
    ("Charlie,-6.2,53.3,welding,07:00,19:00,UTC,,", "skills", "unknown value 'welding'"),
    ("Charlie,-6.2,53.3,line,7 am,19:00,UTC,,", "shift_start", "HH:MM"),
    ("Charlie,-6.2,53.3,line,07:00,19:00,UTC,asleep,", "status", "must be one of"),
    ("Charlie,-6.2,53.3,line,07:00,19:00,UTC,,nobody", "members", "there is no account 'nobody'"),
    ("Charlie,-6.2,53.3,line,07:00,19:00,UTC,,lead", "members", "is not an active crew account"),
    ("Charlie,,,line,07:00,19:00,UTC,,", "lon", "no base"),
    ("Charlie,-600,53.3,line,07:00,19:00,UTC,,", "lon", "not a coordinate"),
    ("Alpha,-6.2,53.3,line,07:00,19:00,UTC,,", "name", "named again (first in row 2)"),
])
def test_a_bad_row_names_its_row_and_column_and_nothing_changes(fresh, tmp_path, row, column, reason):
    app, conn = fresh
    run(app, "import-crews", csv_file(tmp_path, GOOD[1]))
    before = crews(conn)
    events = conn.execute("SELECT count(*) AS n FROM audit_event").fetchone()["n"]
    path = csv_file(tmp_path, GOOD[0], row)
    line = error_line(invoke(app, "import-crews", path))
    assert line.startswith(f"error: {path}, row 3, column '{column}': ") and reason in line
    assert crews(conn) == before
    assert conn.execute("SELECT count(*) AS n FROM audit_event").fetchone()["n"] == events


def test_an_account_in_a_crew_the_file_does_not_name_is_refused(fresh, tmp_path):
    app, conn = fresh
    run(app, "import-crews", csv_file(tmp_path, GOOD[1]))
    path = csv_file(tmp_path, "Delta,-6.2,53.3,line,07:00,19:00,UTC,,bob")
    line = error_line(invoke(app, "import-crews", path))
    assert line.startswith(f"error: {path}, row 2, column 'members': 'bob' already belongs to crew 'Bravo'")
    assert set(crews(conn)) == {"Bravo"}


@pytest.mark.parametrize("content", [b"\x00\xff\xfe garbage {{{", b'{"type": "FeatureCollection", "features": [',
                                     b""])
def test_a_corrupted_file_is_one_line_naming_the_file(fresh, tmp_path, content):
    app, conn = fresh
    path = tmp_path / "broken.geojson"
    path.write_bytes(content)
    result = invoke(app, "import-crews", path)
    assert result.exit_code != 0
    assert result.output.startswith(f"error: {path}") and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert crews(conn) == {}


def test_a_file_without_a_required_column_says_which(fresh, tmp_path):
    app, _ = fresh
    path = tmp_path / "crews.csv"
    path.write_text("name,lon,lat,shift_start,shift_end\nAlpha,-6.2,53.3,07:00,19:00\n", encoding="utf-8")
    result = invoke(app, "import-crews", path)
    assert result.exit_code != 0 and result.output.startswith(f"error: {path}, column 'time_zone': missing column")
