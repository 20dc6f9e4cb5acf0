"""The repair hours a case is planned with: override, else the crew's estimate, else a labelled default."""

from __future__ import annotations

from decimal import Decimal

import pytest

from geo.repair_hours import DEFAULT_REPAIR_HOURS, RepairHours, default_repair_hours, repair_hours, worst_severity
from geo.taxonomy import FACILITY_KINDS, SEVERITIES


def test_a_coordinators_override_beats_the_crews_estimate():
    chosen = repair_hours(override=Decimal("6.5"), estimate=3, kind="line", severities=["minor"])
    assert chosen == RepairHours(6.5, "coordinator override") and not chosen.is_default
    assert isinstance(chosen.hours, float)


def test_the_crews_latest_estimate_beats_the_default():
    assert repair_hours(override=None, estimate=Decimal("3"), kind="line", severities=["destroyed"]) == (
        3.0, "crew estimate")


def test_an_override_or_estimate_of_zero_hours_still_counts():
    assert repair_hours(override=0, estimate=5, kind="line", severities=[]).hours == 0.0
    assert repair_hours(override=None, estimate=0, kind="line", severities=[]).source == "crew estimate"


def test_without_figures_the_default_for_the_kind_and_worst_severity_is_used_and_says_so():
    chosen = repair_hours(override=None, estimate=None, kind="substation", severities=["minor", "severe", "moderate"])
    assert chosen == RepairHours(48.0, "default for a severe substation") and chosen.is_default
    hours, source = repair_hours(override=None, estimate=None, kind="transformer", severities=[])
    assert (hours, source) == (8.0, "default for a moderate transformer")  # no severity reported: moderate


def test_an_unknown_kind_gets_the_default_of_other():
    assert default_repair_hours("windmill", "minor") == DEFAULT_REPAIR_HOURS["other"][0]


@pytest.mark.parametrize("kind", FACILITY_KINDS)
def test_defaults_grow_with_severity_for_every_kind(kind):
    hours = [default_repair_hours(kind, s) for s in SEVERITIES]
    assert hours == sorted(hours) and hours[0] > 0
    assert worst_severity(reversed(SEVERITIES)) == "destroyed"
