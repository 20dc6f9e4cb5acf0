"""A report only queues itself for the map; and a crew member may follow up a case assigned to their crew by name.

The map fold (migration 0014) ran inside the transaction of every 64th single report: 22-33 ms of that request
(the slowest requests of POST /api/reports) and 0.34-0.5 ms per report, paid while the report's row and its case
were locked. Now a single-row insert only appends to `map_report_pending`; the app folds the queue in the background
(app/reports/map_folder.py: a thread per server process, every MAP_FOLD_INTERVAL_S while reports arrive, under the
same try-lock, so one folder at a time whatever the number of servers). Snapshots stay exact as before: the readers
add the queued reports to the cells, and a fold moves rows from the queue to the cells in one transaction. Two
folds stay in the database: a statement of 64 reports or more (loads) folds as it did, and every 1024th single
insert still folds, so the queue stays bounded when nothing else folds (reports written by commands, or a server
whose folder thread is not running).

Follow-ups: `ingest_report()` (migration 0018) accepted a follow-up only on a case assigned to the reporter's own
account or one they reported on, but the dispatched plan assigns cases to crews by name (`assigned_crew`), and My
work lists those to every member of the crew. A member of the crew named on the case may now follow it up, and the
function says so in a new OUT column `crew_assigned` (so the app applies the follow-up's progress, as it does for
the assigned account). Any other case is still refused exactly like one that does not exist. The function's text is
0018's with that rule changed (the replacements below are checked to apply once each).

The downgrade restores 0014's trigger function and 0018's `ingest_report()` from their own files.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

import importlib.util
import re
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

INSERTED = """
CREATE OR REPLACE FUNCTION map_report_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  added bigint;
BEGIN
  INSERT INTO map_report_pending (id, case_id, severity, hazards, lon, lat)
  SELECT id, case_id, severity, hazards, ST_X(geom), ST_Y(geom) FROM new_reports;
  GET DIAGNOSTICS added = ROW_COUNT;
  -- Single reports are folded by the app's folder (app/reports/map_folder.py); every 1024th still folds here, so
  -- the queue stays bounded when no folder runs.
  IF added >= 64 OR (added > 0 AND nextval('map_fold_tick') % 1024 = 0) THEN
    PERFORM map_report_fold();
  END IF;
  RETURN NULL;
END
$$;
"""

# 0018's function text -> this migration's: (old, new), each found exactly once.
CREW_RULE = (
    ("OUT assigned_user_id bigint, OUT any_case boolean, OUT report text)",
     "OUT assigned_user_id bigint, OUT any_case boolean, OUT report text, OUT crew_assigned boolean)"),
    ("    SELECT d.id, d.facility_id, d.status::text AS status, d.assigned_user_id INTO v_found FROM damage_case d\n",
     "    SELECT d.id, d.facility_id, d.status::text AS status, d.assigned_user_id,\n"
     "           (d.assigned_crew IS NOT NULL AND EXISTS (\n"
     "              SELECT 1 FROM crew w JOIN crew_member m ON m.crew_id = w.id\n"
     "              WHERE w.name = d.assigned_crew AND m.user_id = p_user_id)) AS of_my_crew\n"
     "    INTO v_found FROM damage_case d\n"),
    ("    IF NOT FOUND OR NOT (any_case OR v_found.assigned_user_id IS NOT DISTINCT FROM p_user_id\n",
     "    -- Assigned to me, or to my crew by its name (as the dispatched plan assigns), or a case I reported on.\n"
     "    IF NOT FOUND OR NOT (any_case OR v_found.assigned_user_id IS NOT DISTINCT FROM p_user_id\n"
     "        OR v_found.of_my_crew\n"),
    ("    assigned_user_id := v_found.assigned_user_id;\n",
     "    assigned_user_id := v_found.assigned_user_id;\n"
     "    crew_assigned := v_found.of_my_crew;\n"),
)

DROP_0018 = """
DROP FUNCTION ingest_report(bigint, text, boolean, text[], integer, integer, text[], double precision, case_status[],
                            crew_status, uuid, bigint, bigint, facility_kind, severity, operational_status,
                            report_progress, text[], hazard[], double precision, integer, text, text,
                            double precision, timestamptz, text, text, double precision, double precision,
                            double precision);
"""


def _migration(name: str) -> ModuleType:
    path = Path(__file__).with_name(name)
    spec = importlib.util.spec_from_file_location(f"migration_{name[:4]}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _0018_ingest() -> str:
    """0018's own CREATE FUNCTION ingest_report statement, as that file has it."""
    found: list[str] = re.findall(r"^CREATE FUNCTION ingest_report\(.*?^END \$\$;$", _migration(
        "0018_ingest_one_statement.py").INGEST, flags=re.S | re.M)
    assert len(found) == 1, "0018 defines ingest_report once"
    return found[0]


def ingest_with_crew_rule() -> str:
    """0018's ingest_report with the follow-up rule that admits the members of the crew the case is assigned to."""
    text = _0018_ingest()
    for old, new in CREW_RULE:
        assert text.count(old) == 1, f"0018's ingest_report holds {old!r} once"
        text = text.replace(old, new)
    return text


def _0014_inserted() -> str:
    found: list[str] = re.findall(r"^CREATE FUNCTION map_report_inserted\(.*?^\$\$;$", _migration(
        "0014_map_aggregates.py").UPGRADE, flags=re.S | re.M)
    assert len(found) == 1, "0014 defines map_report_inserted once"
    return found[0].replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def upgrade() -> None:
    op.execute(INSERTED)
    op.execute(DROP_0018)  # a new OUT column is a new return type, which CREATE OR REPLACE cannot give
    op.execute(ingest_with_crew_rule())


def downgrade() -> None:
    op.execute(_0014_inserted())
    op.execute(DROP_0018)  # the same argument types: the OUT columns are not part of a function's identity
    op.execute(_0018_ingest())
