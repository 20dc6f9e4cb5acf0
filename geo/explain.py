"""The sentences that explain a ranking or a plan: one sentence per ranked repair, the plan's notes, the units.

Functions here take plain values (ids, hours, people-equivalents) so that the engine that computes the figures
and the words that explain them can change apart. Each sentence is a geo.message.Text: English as a string, with
the message id and parameters the app needs to say it in the user's language (app/site/sentences.py). A whole
ranking's sentences are also written straight in English, column-wise, by `english_sentences` from the same message
ids (the command line, and the English that geo.triage's deferred Texts carry before their parameters are made).
"""

from __future__ import annotations

import string
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import NamedTuple

from geo.message import N_, Code, Moment, Quantity, Text, english

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
CRITICAL_SITES_UNIT = Text(N_(" people-equivalents (incl. critical sites)"))
MESHED_NOTE = Text(N_("meshed network: the ranking is a heuristic on a shortest-repair spanning tree; "
                      "energisation is simulated exactly by reachability"))
CREWS_NOTE = Text(N_("k >= 2 crews is NP-hard: list schedule plus local search; the gap to the lower bound bounds "
                     "the distance from the optimum"))


def crew_label(n: int) -> Text:
    """The plan's name for the n-th crew it was not given a name for: "Crew 2"."""
    return Text(N_("Crew {n}"), n=Quantity(n, "count"))


def status_source(status: str, share_out: float, *, set_by: str, who: str | None,
                  when: str | datetime | Moment | None, reason: str | None = None, share_given: bool = True,
                  with_date: bool = True) -> Text:
    """Where a case's operational status comes from: "reported degraded (about 30% without supply) at 07:10 UTC
    by crew_a", or "set to operating by coord at 08:00 UTC: generator on site". `when` is a moment (written with
    its date unless `with_date` is false) or text already written."""
    share: object = ""
    if status == "degraded":
        share = (Text(N_(" (about {share} without supply)"), share=Quantity(share_out, "percent")) if share_given
                 else Text(N_(" (share without supply not reported: {share} assumed)"),
                           share=Quantity(share_out, "percent")))
    moment = Moment(when, with_date=with_date) if isinstance(when, datetime) else when
    at = Text(N_(" at {when}"), when=moment) if moment else ""
    by = Text(N_(" by {who}"), who=who) if who else ""
    said = Code(status, "operational")
    if set_by == "coordinator":
        why = Text(N_(": {reason}"), reason=reason.rstrip(".")) if reason else ""
        return Text(N_("set to {status}{share}{by}{at}{reason}"), status=said, share=share, by=by, at=at, reason=why)
    return Text(N_("reported {status}{share}{at}{by}"), status=said, share=share, at=at, by=by)


def status_effect(status: str, share_out: float, dark_people: float) -> Text:
    """What the status means for the people the facility supplies, and so for its repair."""
    if status == "operating":
        return Text(N_("repairing it restores nobody now"))
    if status == "degraded":
        return Text(N_("about {share} of its area is without power ({people} people now); repairing it restores them"),
                    share=Quantity(share_out, "percent"), people=Quantity(dark_people))
    return Text(N_("it supplies nobody: {people} people without power in its area and what it feeds"),
                people=Quantity(dark_people))


def reports_disagree(statuses: Sequence[str], latest: str) -> Text:
    """Reports of one case that give different statuses: all of them, and which one counts."""
    listed = Text.joined(*(Code(s, "operational") for s in statuses), sep=", ")
    return Text(N_("reports disagree ({statuses}); the latest observation counts: {latest}"),
                statuses=listed, latest=Code(latest, "operational"))


def work_in_progress(status: str, crew: str | None, started: str | datetime | Moment | None, *,
                     with_date: bool = True) -> Text | None:
    """A case a crew holds: in repair since when, or assigned (planned first in that crew's sequence)."""
    if status == "in_repair":
        moment = Moment(started, with_date=with_date) if isinstance(started, datetime) else started
        return Text(N_("in repair by {crew}{since}"), crew=crew or Text(N_("a crew")),
                    since=Text(N_(" since {when}"), when=moment) if moment else "")
    if status == "assigned" and crew:
        return Text(N_("assigned to {crew}: first in its sequence until released"), crew=crew)
    return None


# The ranking's sentences, each a message id: `explain` and its helpers make Texts of them (the app says them in
# the request's language); `english_sentences` writes the same ids in English for a whole ranking at once.
RATE = N_("{rate} people/h")
RATE_NOW = N_("immediately (no repair time)")
SUMMARY = N_("{people}{unit} in {hours} h -> {rate}")
HEAD_FEW = N_("{first} with {others}")
HEAD_MANY = N_("{first} with {n} more")
BLOCK = N_("{block} ({summary})")
WHY_FIRST = N_(", more than {other}, so {first} goes first")
WHY_ONLY = N_(", the only repair block")
WHY_AFTER = N_(", no more than {other}, which goes first")
WHY_MESHED = N_(" (meshed network: heuristic order)")
ALONE_RESTORES = N_("{name} restores {people}{unit} in {hours} h -> {rate}")
NOBODY_ALONE = N_("nobody alone")
PEOPLE_ALONE = N_("{people} alone")
WITH_OTHERS = N_("{name} ({hours} h) restores {alone}; with {others} ({others_hours} h) it restores {block}")
ONCE_ONE = N_("{name} ({hours} h) restores {people}{unit} once {blockers} is repaired; its block restores {block}")
ONCE_MANY = N_("{name} ({hours} h) restores {people}{unit} once {blockers} are repaired; its block restores "
               "{block}")
AFTER = N_(" (after {jobs}, ranked earlier)")
FIRST_AND_MORE = N_("{first} and {n} more")


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
    return english(x)


def rate(weight: float, hours: float) -> Text:
    """People-equivalents per repair-hour in words."""
    return Text(RATE, rate=Quantity(weight / hours)) if hours > 0 else Text(RATE_NOW)


def block_summary(weight: float, hours: float, rate_text: str, unit: str = "") -> Text:
    """What a block restores in how long, and its rate (`unit` after the people, if any)."""
    return Text(SUMMARY, people=Quantity(weight), unit=unit, hours=Quantity(hours, "hours"), rate=rate_text)


def _with_unit(summary: str, unit: str) -> str:
    """A block's summary with the unit after its people."""
    if isinstance(summary, Text) and summary.msgid is not None and "unit" in summary.params:
        return Text(summary.msgid, **{**summary.params, "unit": unit})
    return summary.replace(" in ", unit + " in ", 1)


def block_text(job_ids: Sequence[str], summary: str) -> Text:
    """A block named by its head job (and its other jobs, or how many more), with its summary."""
    head: object
    if len(job_ids) == 1:
        head = job_ids[0]
    elif len(job_ids) <= 3:
        head = Text(HEAD_FEW, first=job_ids[0], others=", ".join(job_ids[1:]))
    else:
        head = Text(HEAD_MANY, first=job_ids[0], n=Quantity(len(job_ids) - 1, "count"))
    return Text(BLOCK, block=head, summary=summary)


def why(texts: Sequence[str], b: int, first: str, *, exact: bool) -> Text:
    """Why block `b` sits where it does: its rate compared with its neighbour's (`first`: the first job's id)."""
    if b == 0 and len(texts) > 1:
        reason = Text(WHY_FIRST, other=texts[1], first=first)
    elif b == 0:
        reason = Text(WHY_ONLY)
    else:
        reason = Text(WHY_AFTER, other=texts[b - 1])
    return Text.joined(reason, "" if exact else Text(WHY_MESHED))


def explain(ids: Sequence[str], hours: Sequence[float], weight: Sequence[float], j: int, block: BlockContext,
            chain: tuple[int, ...]) -> Text:
    """One sentence: what job `j` restores, with which block, and why it sits where it does.

    `ids`, `hours` and `weight` are per job; `chain` lists the jobs upstream of `j` on its feed tree.
    """
    name, own_hours, own = ids[j], Quantity(hours[j], "hours"), weight[j]
    inside = [ids[a] for a in chain if a in block.member_set]
    earlier = [ids[a] for a in chain if a not in block.member_set]
    what: Text
    if len(block.members) == 1:
        what = Text(ALONE_RESTORES, name=name, people=Quantity(own), unit=block.unit, hours=own_hours,
                    rate=block.rate)
    elif not inside:
        others = [a for a in block.members if a != j]
        alone = Text(NOBODY_ALONE) if own == 0 else Text(PEOPLE_ALONE, people=Quantity(own))
        what = Text(WITH_OTHERS, name=name, hours=own_hours, alone=alone, others=names(ids, others),
                    others_hours=Quantity(sum(hours[a] for a in others), "hours"),
                    block=_with_unit(block.summary, block.unit))
    else:
        what = Text(ONCE_ONE if len(inside) == 1 else ONCE_MANY, name=name, hours=own_hours, people=Quantity(own),
                    unit=block.unit, blockers=", ".join(inside), block=block.summary)
    after = Text(AFTER, jobs=", ".join(earlier)) if earlier else ""
    return Text.joined(what, after, block.why, ".")


def names(ids: Sequence[str], jobs: Sequence[int]) -> str:
    """Job ids for a sentence: up to four, else the first three and how many more."""
    listed = [ids[a] for a in jobs]
    if len(listed) <= 4:
        return ", ".join(listed)
    return Text(FIRST_AND_MORE, first=", ".join(listed[:3]), n=Quantity(len(listed) - 3, "count"))


def english_sentences(ids: Sequence[str], hours: Sequence[float], weight: Sequence[float],
                      order: Sequence[int], blocks: Sequence[tuple[int, int, float, float]],
                      chain: Sequence[tuple[int, ...]], chain_ids: Sequence[tuple[str, ...]],
                      units: Sequence[bool], *, exact: bool) -> list[str]:
    """`explain`'s sentence for every job of a ranking, in rank order, as English strings only (the same message
    ids and numbers, written as `str` of the Texts would say them; tests/test_plan_speed_equivalence.py holds
    them to it). `chain[j]`: the jobs upstream of j, `chain_ids[j]` their ids; `units[b]`: whether block b's
    people-equivalents include critical sites."""
    (write_rate, write_summary, write_head_few, write_head_many, write_block, write_why_first, write_why_after,
     write_alone, write_after, write_first_and_more, write_people_alone, write_with_others, write_once_one,
     write_once_many) = _WRITERS
    unit_text = str(CRITICAL_SITES_UNIT)
    meshed = "" if exact else WHY_MESHED
    figures: list[tuple[str, str, str, str, str]] = []  # per block: people, hours, rate, summary, head
    texts: list[str] = []
    for start, end, w, p in blocks:
        people, hours_text = english(w), f"{p:g}"
        rate_text = write_rate(rate=english(w / p)) if p > 0 else RATE_NOW
        summary = write_summary(people=people, unit="", hours=hours_text, rate=rate_text)
        size = end - start
        head = (ids[order[start]] if size == 1 else
                write_head_few(first=ids[order[start]], others=", ".join([ids[a] for a in order[start + 1:end]]))
                if size <= 3 else write_head_many(first=ids[order[start]], n=size - 1))
        figures.append((people, hours_text, rate_text, summary, head))
        texts.append(write_block(block=head, summary=summary))
    first = ids[order[0]] if len(order) else ""
    out: list[str] = []
    for b, (start, end, _, _) in enumerate(blocks):
        people, hours_text, rate_text, summary, head = figures[b]
        why_text = (write_why_after(other=texts[b - 1]) if b else
                    write_why_first(other=texts[1], first=first) if len(texts) > 1 else WHY_ONLY) + meshed
        unit = unit_text if units[b] else ""
        if end - start == 1:  # the block is its job: its people and hours are the job's own
            above = chain_ids[order[start]]
            after = write_after(jobs=", ".join(above)) if above else ""
            out.append(write_alone(name=head, people=people, unit=unit, hours=hours_text, rate=rate_text)
                       + after + why_text + ".")
            continue
        members = order[start:end]
        member_set = set(members)
        for j in members:
            inside = [ids[a] for a in chain[j] if a in member_set]
            earlier = [ids[a] for a in chain[j] if a not in member_set]
            own = weight[j]
            if not inside:
                others = [a for a in members if a != j]
                listed = [ids[a] for a in others]
                others_text = (", ".join(listed) if len(listed) <= 4 else
                               write_first_and_more(first=", ".join(listed[:3]), n=len(listed) - 3))
                what = write_with_others(
                    name=ids[j], hours=f"{hours[j]:g}",
                    alone=NOBODY_ALONE if own == 0 else write_people_alone(people=english(own)),
                    others=others_text, others_hours=f"{sum(hours[a] for a in others):g}",
                    block=summary.replace(" in ", unit + " in ", 1))
            else:
                what = (write_once_one if len(inside) == 1 else write_once_many)(
                    name=ids[j], hours=f"{hours[j]:g}", people=english(own), unit=unit,
                    blockers=", ".join(inside), block=summary)
            after = write_after(jobs=", ".join(earlier)) if earlier else ""
            out.append(what + after + why_text + ".")
    return out


def _writer(msgid: str) -> Callable[..., str]:
    """A message id's English as a function of its fields: the id itself compiled once as an f-string, which
    writes the same string as `msgid.format(**fields)` several times faster (10^5 sentences in a ranking)."""
    fields = dict.fromkeys(name for _, name, _, _ in string.Formatter().parse(msgid) if name)
    if any(not name.isidentifier() for name in fields):
        raise ValueError(f"message id {msgid!r}: fields must be plain names")
    writer: Callable[..., str] = eval(f"lambda {', '.join(fields)}: f{msgid!r}")  # noqa: S307 (our own ids)
    return writer


_WRITERS = tuple(_writer(msgid) for msgid in (
    RATE, SUMMARY, HEAD_FEW, HEAD_MANY, BLOCK, WHY_FIRST, WHY_AFTER, ALONE_RESTORES, AFTER, FIRST_AND_MORE,
    PEOPLE_ALONE, WITH_OTHERS, ONCE_ONE, ONCE_MANY))


def time_limit_note(time_limit_s: float | None) -> Text:
    """The note of a plan whose local search ran out of time (`time_limit_s` None: a budget of unknown length)."""
    if time_limit_s is None:
        return Text(N_("local search stopped at the time limit before reaching a local optimum"))
    return Text(N_("local search stopped at the time limit ({seconds} s) before reaching a local optimum"),
                seconds=Quantity(time_limit_s, "hours"))


def critical_sites_note(*, objective: float, naive_objective: float, phu: float, naive_phu: float) -> Text:
    """The note of a plan that leaves plain people without power longer than the naive plan, for critical sites."""
    return Text(N_("critical sites: the plan minimises people-equivalent-hours ({objective}, naive plan "
                   "{naive_objective}) and so leaves plain people without power longer than the naive plan "
                   "({phu} vs {naive_phu} people-hours)"),
                objective=Quantity(objective, "whole"), naive_objective=Quantity(naive_objective, "whole"),
                phu=Quantity(phu, "whole"), naive_phu=Quantity(naive_phu, "whole"))


def committed_crews_note(*, committed_crews: int, crews: int) -> Text:
    """The note of a plan with more crews holding committed work than the crews it was asked for."""
    return Text(N_("{committed} crews have work in progress or assigned but the plan was asked for {crews}: "
                   "it plans {committed} crews, so that no crew is pulled off its work"),
                committed=Quantity(committed_crews, "count"), crews=Quantity(crews, "count"))


def commitments_note(*, in_progress: int, assigned: int) -> Text:
    """The note of a plan that keeps work in progress and assigned repairs at the head of their crews."""
    return Text(N_("work in progress ({in_progress} repair under way, {assigned} assigned) stays first on its crews "
                   "and the rest is planned around it; the lower bound ignores these commitments, so the gap may "
                   "overstate the distance from the best plan that keeps them") if in_progress == 1 else
                N_("work in progress ({in_progress} repairs under way, {assigned} assigned) stays first on its crews "
                   "and the rest is planned around it; the lower bound ignores these commitments, so the gap may "
                   "overstate the distance from the best plan that keeps them"),
                in_progress=Quantity(in_progress, "count"), assigned=Quantity(assigned, "count"))


def dispatch_notes(*, commitments: int, under_way: int, optimal: bool, dp: bool, status: str,
                   late: Sequence[tuple[str, float, Sequence[str]]]) -> list[Text]:
    """The dispatch plan's notes: the work in progress it keeps, whether it is proven optimal and by what, the
    crews that work past their shift end (crew, shift end in hours, the jobs), and where its ETR ranges come from."""
    notes = []
    if commitments:
        notes.append(Text(N_("work in progress kept: {under_way} repair(s) under way and {assigned} assigned stay "
                             "first on their crews; the lower bound holds for every plan that keeps them"),
                          under_way=Quantity(under_way, "count"), assigned=Quantity(commitments - under_way, "count")))
    if optimal:
        among = Text(N_(" among the plans that keep the work in progress")) if commitments else ""
        notes.append(Text(N_("proven optimal by the one-crew subset DP{among}"), among=among) if dp else
                     Text(N_("proven optimal by CP-SAT (times rounded down to whole seconds in the model){among}"),
                          among=among))
    else:
        notes.append(Text(N_("heuristic plan (solver: {status}): list schedules with travel plus local search; the "
                             "gap to the lower bound bounds how far from optimal it can be"), status=status))
    for crew, shift_end, jobs in late:
        notes.append(Text(N_("crew {crew} works past its shift end ({hours} h) on {jobs}"), crew=repr(crew),
                          hours=Quantity(shift_end, "hours"), jobs=", ".join(repr(x) for x in jobs)))
    notes.append(Text(N_("ETR ranges: P50/P90 from lognormal repair-time spreads by kind and severity (geo.etr), "
                         "travel and release times as given")))
    return notes
