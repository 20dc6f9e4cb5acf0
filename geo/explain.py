"""The sentences that explain a ranking or a plan: one sentence per ranked repair, the plan's notes, the units.

Functions here take plain values (ids, hours, people-equivalents) so that the engine that computes the figures
and the words that explain them can change apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

OBJECTIVE_UNIT = "people-equivalent-hours without power (people plus critical-site weights)"
PHU_UNIT = "people-hours without power (plain people, no critical-site weights)"
RATIO_UNIT = "people-equivalents restored per repair-hour of the facility's block"
GAIN_UNIT = "people"
COMPARISON = (
    "The plan minimises objective (people plus critical-site weights): objective_lower_bound <= objective <= "
    "naive_objective always holds, objective_gap bounds its distance from the optimum and "
    "objective_improvement_vs_naive is its saving against the naive plan. phu, naive_phu, lower_bound, gap and "
    "improvement_vs_naive are the same figures in plain people, for information: lower_bound <= phu holds too, "
    "but with critical sites the plan may leave plain people without power longer than the naive plan "
    "(improvement_vs_naive < 0); without critical sites both sets are equal."
)
CRITICAL_SITES_UNIT = " people-equivalents (incl. critical sites)"
MESHED_NOTE = ("meshed network: the ranking is a heuristic on a shortest-repair spanning tree; "
               "energisation is simulated exactly by reachability")
CREWS_NOTE = ("k >= 2 crews is NP-hard: list schedule plus local search; the gap to the lower bound bounds "
              "the distance from the optimum")


def status_source(status: str, share_out: float, *, set_by: str, who: str | None, when: str | None,
                  reason: str | None = None, share_given: bool = True) -> str:
    """Where a case's operational status comes from: "reported degraded (about 30% without supply) at 07:10 by
    crew_a", or "set to operating by coord at 08:00: generator on site"."""
    said = status.replace("_", " ")
    if status == "degraded":
        said += (f" (about {share_out:.0%} without supply)" if share_given
                 else f" (share without supply not reported: {share_out:.0%} assumed)")
    at = f" at {when}" if when else ""
    by = f" by {who}" if who else ""
    if set_by == "coordinator":
        return f"set to {said}{by}{at}" + (f": {reason.rstrip('.')}" if reason else "")
    return f"reported {said}{at}{by}"


def status_effect(status: str, share_out: float, dark_people: float) -> str:
    """What the status means for the people the facility supplies, and so for its repair."""
    if status == "operating":
        return "repairing it restores nobody now"
    if status == "degraded":
        return (f"about {share_out:.0%} of its area is without power ({number(dark_people)} people now); "
                "repairing it restores them")
    return f"it supplies nobody: {number(dark_people)} people without power in its area and what it feeds"


def reports_disagree(statuses: Sequence[str], latest: str) -> str:
    """Reports of one case that give different statuses: all of them, and which one counts."""
    listed = ", ".join(s.replace("_", " ") for s in statuses)
    return f"reports disagree ({listed}); the latest observation counts: {latest.replace('_', ' ')}"


def work_in_progress(status: str, crew: str | None, started: str | None) -> str | None:
    """A case a crew holds: in repair since when, or assigned (planned first in that crew's sequence)."""
    if status == "in_repair":
        return f"in repair by {crew or 'a crew'}" + (f" since {started}" if started else "")
    if status == "assigned" and crew:
        return f"assigned to {crew}: first in its sequence until released"
    return None


class BlockContext(NamedTuple):
    """A repair block as its explanations see it: member jobs, their ids, unit, figures and why it sits there."""

    members: Sequence[int]
    member_set: set[int]
    names: tuple[str, ...]
    unit: str
    summary: str
    rate: str
    why: str


def number(x: float) -> str:
    """A count of people for a sentence: whole numbers with separators, small fractions to 3 digits."""
    return f"{x:,.0f}" if abs(x) >= 100 or float(x).is_integer() else f"{x:,.3g}"


def rate(weight: float, hours: float) -> str:
    """People-equivalents per repair-hour in words."""
    return f"{number(weight / hours)} people/h" if hours > 0 else "immediately (no repair time)"


def block_summary(weight: float, hours: float, rate_text: str) -> str:
    """What a block restores in how long, and its rate."""
    return f"{number(weight)} in {hours:g} h -> {rate_text}"


def block_text(job_ids: Sequence[str], summary: str) -> str:
    """A block named by its head job (and its other jobs, or how many more), with its summary."""
    if len(job_ids) == 1:
        head = job_ids[0]
    else:
        rest = job_ids[1:]
        head = f"{job_ids[0]} with {', '.join(rest) if len(job_ids) <= 3 else f'{len(rest)} more'}"
    return f"{head} ({summary})"


def why(texts: Sequence[str], b: int, first: str, *, exact: bool) -> str:
    """Why block `b` sits where it does: its rate compared with its neighbour's (`first`: the first job's id)."""
    if b == 0 and len(texts) > 1:
        reason = f", more than {texts[1]}, so {first} goes first"
    elif b == 0:
        reason = ", the only repair block"
    else:
        reason = f", no more than {texts[b - 1]}, which goes first"
    return reason + (" (meshed network: heuristic order)" if not exact else "")


def explain(ids: Sequence[str], hours: Sequence[float], weight: Sequence[float], j: int, block: BlockContext,
            chain: tuple[int, ...]) -> str:
    """One sentence: what job `j` restores, with which block, and why it sits where it does.

    `ids`, `hours` and `weight` are per job; `chain` lists the jobs upstream of `j` on its feed tree.
    """
    name, own_hours, own = ids[j], hours[j], weight[j]
    inside = [ids[a] for a in chain if a in block.member_set]
    earlier = [ids[a] for a in chain if a not in block.member_set]
    if len(block.members) == 1:
        what = f"{name} restores {number(own)}{block.unit} in {own_hours:g} h -> {block.rate}"
    elif not inside:
        others = [a for a in block.members if a != j]
        alone = "nobody alone" if own == 0 else f"{number(own)} alone"
        what = (f"{name} ({own_hours:g} h) restores {alone}; with {names(ids, others)} "
                f"({sum(hours[a] for a in others):g} h) it restores "
                f"{block.summary.replace(' in ', block.unit + ' in ', 1)}")
    else:
        what = (f"{name} ({own_hours:g} h) restores {number(own)}{block.unit} once {', '.join(inside)} "
                f"{'is' if len(inside) == 1 else 'are'} repaired; its block restores {block.summary}")
    if earlier:
        what += f" (after {', '.join(earlier)}, ranked earlier)"
    return what + block.why + "."


def names(ids: Sequence[str], jobs: Sequence[int]) -> str:
    """Job ids for a sentence: up to four, else the first three and how many more."""
    listed = [ids[a] for a in jobs]
    return ", ".join(listed) if len(listed) <= 4 else f"{', '.join(listed[:3])} and {len(listed) - 3} more"


def time_limit_note(time_limit_s: float | None) -> str:
    """The note of a plan whose local search ran out of time (`time_limit_s` None: a budget of unknown length)."""
    budget = f" ({time_limit_s:g} s)" if time_limit_s is not None else ""
    return f"local search stopped at the time limit{budget} before reaching a local optimum"


def critical_sites_note(*, objective: float, naive_objective: float, phu: float, naive_phu: float) -> str:
    """The note of a plan that leaves plain people without power longer than the naive plan, for critical sites."""
    return (f"critical sites: the plan minimises people-equivalent-hours ({objective:,.0f}, naive plan "
            f"{naive_objective:,.0f}) and so leaves plain people without power longer than the naive plan "
            f"({phu:,.0f} vs {naive_phu:,.0f} people-hours)")


def committed_crews_note(*, committed_crews: int, crews: int) -> str:
    """The note of a plan with more crews holding committed work than the crews it was asked for."""
    return (f"{committed_crews} crews have work in progress or assigned but the plan was asked for {crews}: "
            f"it plans {committed_crews} crews, so that no crew is pulled off its work")


def commitments_note(*, in_progress: int, assigned: int) -> str:
    """The note of a plan that keeps work in progress and assigned repairs at the head of their crews."""
    return (f"work in progress ({in_progress} repair{'s' * (in_progress != 1)} under way, {assigned} assigned) "
            "stays first on its crews and the rest is planned around it; the lower bound ignores these "
            "commitments, so the gap may overstate the distance from the best plan that keeps them")
