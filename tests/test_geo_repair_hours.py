"""The repair hours a case is planned with: override, else the crew's estimate, else a labelled default."""

from __future__ import annotations

from decimal import Decimal

import pytest

from geo.repair_hours import (
    DEFAULT_REPAIR_HOURS,
    MIN_REPAIR_HOURS,
    RepairHours,
    default_repair_hours,
    plausible_range,
    remaining,
    repair_hours,
    worst_severity,
)
from geo.taxonomy import FACILITY_KINDS, SEVERITIES


def test_a_coordinators_override_beats_the_crews_estimate():
    chosen = repair_hours(override=Decimal("6.5"), estimate=3, kind="line", severities=["minor"])
    assert chosen == RepairHours(6.5, "coordinator override") and not chosen.is_default
    assert isinstance(chosen.hours, float)


def test_the_crews_latest_estimate_beats_the_default():
    assert repair_hours(override=None, estimate=Decimal("20"), kind="line", severities=["destroyed"]) == (
        20.0, "crew estimate", None)


def test_no_figure_plans_a_repair_shorter_than_the_minimum():
    assert repair_hours(override=0, estimate=5, kind="line", severities=[]).hours == MIN_REPAIR_HOURS
    tiny = repair_hours(override=None, estimate=5e-324, kind="line", severities=[])
    assert tiny.hours == MIN_REPAIR_HOURS and tiny.source == "crew estimate"


def test_an_implausible_estimate_is_used_but_flagged_until_a_coordinator_accepts_that_figure():
    assert plausible_range("substation", "moderate") == (3.0, 48.0)
    low = repair_hours(override=None, estimate=0.5, kind="substation", severities=["moderate"])
    assert low.hours == 0.5 and low.source == "crew estimate"
    assert low.flag == ("the crew's estimate of 0.5 h is far below the plausible 3–48 h for a moderate substation: "
                        "used until a coordinator accepts or overrides it")
    high = repair_hours(override=None, estimate=900, kind="substation", severities=["moderate"])
    assert high.flag is not None and "far above" in high.flag
    assert repair_hours(override=None, estimate=0.5, kind="substation", severities=["moderate"],
                        accepted=0.5).flag is None
    # a later, different estimate is flagged again; an override needs no acceptance
    assert repair_hours(override=None, estimate=0.4, kind="substation", severities=["moderate"],
                        accepted=0.5).flag is not None
    assert repair_hours(override=0.5, estimate=0.4, kind="substation", severities=["moderate"]).flag is None


def test_without_figures_the_default_for_the_kind_and_worst_severity_is_used_and_says_so():
    chosen = repair_hours(override=None, estimate=None, kind="substation", severities=["minor", "severe", "moderate"])
    assert chosen == RepairHours(48.0, "default for a severe substation") and chosen.is_default
    hours, source, _ = repair_hours(override=None, estimate=None, kind="transformer", severities=[])
    assert (hours, source) == (8.0, "default for a moderate transformer")  # no severity reported: moderate


def test_an_unknown_kind_gets_the_default_of_other():
    assert default_repair_hours("windmill", "minor") == DEFAULT_REPAIR_HOURS["other"][0]


@pytest.mark.parametrize("kind", FACILITY_KINDS)
def test_defaults_grow_with_severity_for_every_kind(kind):
    hours = [default_repair_hours(kind, s) for s in SEVERITIES]
    assert hours == sorted(hours) and hours[0] > 0
    assert worst_severity(reversed(SEVERITIES)) == "destroyed"


def test_a_repair_under_way_is_planned_with_what_is_left_and_flagged_when_overdue():
    planned = repair_hours(override=None, estimate=4, kind="substation", severities=["moderate"])
    left = remaining(planned, 1.5)
    assert left.hours == 2.5 and left.flag is None
    assert left.source == "crew estimate: 2.5 h of 4 h left after 1.5 h of repair"
    late = remaining(planned, 5.5)
    assert late.hours == MIN_REPAIR_HOURS
    assert late.flag == "overdue: in repair for 5.5 h, over its 4 h (crew estimate); planned with 0.25 h left"
    assert remaining(planned, -1).hours == 4  # a clock a little behind the database's: nothing elapsed yet
