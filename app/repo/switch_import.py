"""SQL for loading tie switches (migration 0017) from files and network models: upsert by external id, and the
checks an import makes first."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from app.repo import Conn


def other_regions(conn: Conn, external_ids: Sequence[str], *, region_id: int) -> list[dict[str, Any]]:
    """Those of the tie switch external ids already stored between facilities of another region, with it."""
    return conn.execute("""SELECT t.external_id, r.name AS region FROM tie_switch t
                           JOIN facility a ON a.id = t.facility_a JOIN region r ON r.id = a.region_id
                           WHERE t.external_id = ANY(%(ids)s) AND a.region_id <> %(region)s
                           ORDER BY t.external_id""", {"ids": list(external_ids), "region": region_id}).fetchall()


def upsert_ties(conn: Conn, rows: Sequence[dict[str, Any]], *, dataset_id: int, action: str) -> dict[str, int]:
    """Insert new tie switches and update changed ones by external id (their closed state is kept), an audit
    event each; counts by outcome.

    Rows are dicts of external_id, name, facility_a, facility_b (facility ids), remote, switch_hours,
    attributes (a dict), lon and lat (None: no position).
    """
    found = conn.execute(
        """WITH given AS (
             SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb) AS r(external_id text, name text, facility_a bigint,
                    facility_b bigint, remote boolean, switch_hours float8, attributes jsonb, lon float8, lat float8)),
           stored AS (
             INSERT INTO tie_switch AS t (external_id, name, facility_a, facility_b, remote, switch_hours,
                                          attributes, dataset_id, geom)
             SELECT external_id, name, facility_a, facility_b, coalesce(remote, false), switch_hours,
                    coalesce(attributes, '{}'), %(dataset)s,
                    CASE WHEN lon IS NOT NULL AND lat IS NOT NULL THEN ST_SetSRID(ST_MakePoint(lon, lat), 4326) END
             FROM given
             ON CONFLICT (external_id) DO UPDATE SET
               name = EXCLUDED.name, facility_a = EXCLUDED.facility_a, facility_b = EXCLUDED.facility_b,
               remote = EXCLUDED.remote, switch_hours = EXCLUDED.switch_hours, attributes = EXCLUDED.attributes,
               dataset_id = EXCLUDED.dataset_id, geom = EXCLUDED.geom, updated_at = now()
             WHERE (t.name, t.facility_a, t.facility_b, t.remote, t.switch_hours, t.attributes, ST_AsEWKB(t.geom))
                   IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.facility_a, EXCLUDED.facility_b, EXCLUDED.remote,
                                     EXCLUDED.switch_hours, EXCLUDED.attributes, ST_AsEWKB(EXCLUDED.geom))
             RETURNING t.id, t.name, t.facility_a, t.facility_b, t.remote, t.switch_hours, (xmax = 0) AS created),
           audited AS (
             INSERT INTO audit_event (actor_id, entity, entity_id, action, after, reason)
             SELECT NULL, 'tie_switch', id::text, CASE WHEN created THEN 'created' ELSE 'updated' END,
                    jsonb_build_object('name', name, 'facility_a', facility_a, 'facility_b', facility_b,
                                       'remote', remote, 'switch_hours', switch_hours), %(action)s
             FROM stored)
           SELECT count(*) FILTER (WHERE created) AS created, count(*) FILTER (WHERE NOT created) AS updated
           FROM stored""",
        {"rows": json.dumps(list(rows)), "dataset": dataset_id, "action": action}).fetchone()
    assert found is not None
    created, updated = int(found["created"]), int(found["updated"])
    return {"created": created, "updated": updated, "unchanged": len(rows) - created - updated}


def not_in(conn: Conn, *, dataset_id: int, external_ids: Sequence[str]) -> list[str]:
    """The tie switches loaded earlier from this dataset that these external ids do not include."""
    return [r["external_id"] for r in conn.execute(
        """SELECT external_id FROM tie_switch WHERE dataset_id = %(dataset)s AND external_id <> ALL(%(ids)s)
           ORDER BY external_id""", {"dataset": dataset_id, "ids": list(external_ids)})]
