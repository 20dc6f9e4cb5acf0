"""The Python vocabulary (geo/taxonomy.py) is the database's: each enum holds the same words in the same order."""

from __future__ import annotations

import inspect
import re

import pytest

from app.repo import reports, triage
from geo import taxonomy

# Database enum -> the taxonomy's words for it.
ENUMS = {
    "facility_kind": taxonomy.FACILITY_KINDS,
    "critical_site_kind": taxonomy.SITE_KINDS,
    "severity": taxonomy.SEVERITIES,
    "operational_status": taxonomy.OPERATIONAL_STATUSES,
    "hazard": taxonomy.HAZARDS,
    "case_status": taxonomy.CASE_STATUSES,
    "report_progress": taxonomy.PROGRESS,
    "user_role": taxonomy.ROLES,
    "population_method": taxonomy.POPULATION_METHODS,
    "link_origin": taxonomy.LINK_ORIGINS,
    "access_state": taxonomy.ACCESS_STATES,
    "crew_status": taxonomy.CREW_STATUSES,
}

LABELS = """
SELECT t.typname AS enum, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid
WHERE n.nspname = 'public'
GROUP BY t.typname"""


@pytest.fixture()
def enums(db) -> dict[str, tuple[str, ...]]:
    """Every enum of the migrated schema with its labels in their sort order."""
    return {row["enum"]: tuple(row["labels"]) for row in db.execute(LABELS).fetchall()}


@pytest.mark.parametrize("enum", sorted(ENUMS))
def test_taxonomy_words_are_the_database_enum_in_its_order(enums, enum):
    assert enums.get(enum) == ENUMS[enum]


def test_every_database_enum_has_its_taxonomy_words(enums):
    assert set(enums) == set(ENUMS)


def test_enum_range_agrees_with_pg_enum(db):
    # enum_range is what SQL itself sees (e.g. max(severity) orders by it).
    row = db.execute("SELECT enum_range(NULL::severity)::text[] AS severity, "
                     "enum_range(NULL::case_status)::text[] AS case_status").fetchone()
    assert tuple(row["severity"]) == taxonomy.SEVERITIES
    assert tuple(row["case_status"]) == taxonomy.CASE_STATUSES


def test_open_and_closed_statuses_split_the_case_statuses():
    open_, closed = set(taxonomy.OPEN_CASE_STATUSES), set(taxonomy.CLOSED_CASE_STATUSES)
    assert open_ | closed == set(taxonomy.CASE_STATUSES)
    assert not open_ & closed
    assert len(open_) == len(taxonomy.OPEN_CASE_STATUSES) and len(closed) == len(taxonomy.CLOSED_CASE_STATUSES)


def test_derived_status_sets_are_subsets_of_the_statuses():
    assert set(taxonomy.DAMAGE_CASE_STATUSES) == set(taxonomy.CASE_STATUSES) - {"rejected", "duplicate"}
    assert set(triage.OPEN_FOR_TRIAGE) == set(taxonomy.OPEN_CASE_STATUSES) - {"temporarily_restored"}


def quoted_statuses(text: str) -> set[str]:
    return set(re.findall(r"'(\w+)'", text)) & set(taxonomy.CASE_STATUSES)


def test_one_open_case_per_facility_index_closes_exactly_the_closed_statuses(db):
    row = db.execute("SELECT pg_get_indexdef('damage_case_one_open_per_facility'::regclass) AS definition").fetchone()
    assert quoted_statuses(row["definition"]) == set(taxonomy.CLOSED_CASE_STATUSES)


def test_open_case_names_the_index_predicate_with_the_closed_statuses():
    # The one status literal left in app/repo: ON CONFLICT must restate the index's predicate to infer it.
    predicate = re.search(r"ON CONFLICT.*?DO NOTHING", inspect.getsource(reports.open_case), flags=re.S)
    assert predicate is not None
    assert quoted_statuses(predicate.group()) == set(taxonomy.CLOSED_CASE_STATUSES)
