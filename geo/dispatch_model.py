"""The dispatch problem: named crews with bases and skills, damaged sites with release times, travel, timelines.

Public API:
    Crew(id, base, skills, available_from_hours, shift_end_hours, shift_hours, shift_period_hours)   a crew
    Site(id, point, skill, release_hours, kind, severity)           where, by whom and from when a repair can be done
    DispatchError                                                  bad crews, sites or commitments (a ScenarioError)
    build_problem(network, crews, sites, *, travel, critical_sites, commitments) -> Problem
    timeline(problem, seqs) -> (travel_start, arrival, start, finish)   hours per job for crews' sequences
    cost(problem, seqs) -> float                                  weighted people-hours without power
    shift_start(problem, c, ready, hours) -> float                the earliest start within crew c's shifts
    over_shift(problem, c, start, finish) -> bool                 whether a repair runs past its shift's end
    shift_end_at(problem, c, start) -> float                      the end of the shift a start falls in

A crew leaves its base at `available_from_hours`, travels to its first site, repairs, travels on to the next and
never returns. A repair starts at the latest of arrival and the site's release (access clearance, materials) and
takes the facility's repair_hours; energisation is exactly geo.plan's Simulator on geo.triage's outage tree.

Shifts (a hard constraint). A crew with a `shift_end_hours` works in shifts: the current one ends then, and
every `shift_period_hours` (default 24, a daily shift) another one of `shift_hours` (default: from
`available_from_hours` to the shift end) ends, so shift n is [end + n*period - shift_hours, end + n*period].
A repair starts within a shift and must be done by that shift's end, or it waits for the start of the next
shift (the crew travels there as soon as it is free and starts when the shift does). A repair longer than a
whole shift cannot fit any shift: it starts when the crew is ready within a shift (else at the next shift's
start) and runs over, and the plan flags it (`over_shift`). Travel itself is not restricted to shifts. The
start is the earliest such hour, a non-decreasing function of the hour the crew is ready, so every solver's
argument (DP dominance, the bound's earliest finish) holds unchanged. A crew without a shift end works
without a break, as before, and so does a crew whose shifts are as long as their period (back to back).

Work in progress (geo.plan.Commitment) is the head of its crew's sequence, in the given order with the repair
under way first, and every solver keeps it there (`Problem.head`). A repair under way has no travel: the crew is
on site, its travel start, arrival and start are -started_hours_ago, and it finishes at its repair_hours (the
caller puts the remaining hours there), release and the crew's free hour aside; the crew travels on from there.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from geo.message import N_, Code, Text
from geo.network import CriticalSite, Network, ScenarioError
from geo.plan import Commitment, Simulator
from geo.travel import GREAT_CIRCLE, Place, Travel, TravelError, travel_tables
from geo.triage import TriageTree, triage_tree


class DispatchError(ScenarioError):
    """Crews or sites that cannot be dispatched; the message names the crew or facility and the reason."""


@dataclass(frozen=True)
class Crew:
    """A repair crew: its base (lon, lat), skills, the hour it is free from and, optionally, its shifts: when the
    current one ends, how long each lasts (default: from available_from_hours to its end) and how often one
    begins (default 24 h)."""

    id: str
    base: tuple[float, float] | None = None
    skills: frozenset[str] = frozenset()
    available_from_hours: float = 0.0
    shift_end_hours: float | None = None
    shift_hours: float | None = None
    shift_period_hours: float = 24.0

    def shift_length(self) -> float:
        """Hours per shift (infinite without shifts)."""
        if self.shift_end_hours is None:
            return math.inf
        return self.shift_hours if self.shift_hours is not None else self.shift_end_hours - self.available_from_hours


@dataclass(frozen=True)
class Site:
    """A damaged facility's position (lon, lat), required skill (None: any crew), release hour, kind, severity."""

    id: str
    point: tuple[float, float] | None = None
    skill: str | None = None
    release_hours: float = 0.0
    kind: str = "other"
    severity: str = "moderate"


@dataclass(frozen=True, eq=False)
class Problem:
    """A validated dispatch problem, indexed by outage job (as geo.triage numbers them) and crew position."""

    tree: TriageTree
    ids: tuple[str, ...]
    crews: tuple[Crew, ...]
    sites: tuple[Site, ...]
    hours: np.ndarray
    release: np.ndarray
    available: np.ndarray
    shift_end: np.ndarray  # per crew, the end of its current shift (inf: no shifts)
    shift_len: np.ndarray  # per crew, hours per shift (inf: no shifts)
    shift_period: np.ndarray  # per crew, hours from one shift's start to the next
    from_base: np.ndarray
    between: np.ndarray
    capable: np.ndarray
    sim: Simulator
    weight: np.ndarray
    people: np.ndarray
    head: tuple[tuple[int, ...], ...] = ()  # per crew, its committed jobs in order (empty: none)
    on_site: tuple[int, ...] = ()  # per crew, the job it has under way, or -1
    started_ago: tuple[float, ...] = ()  # per crew, hours since its repair under way began (0 without one)

    def fixed(self, c: int) -> int:
        """How many jobs at the head of crew c's sequence are committed (never moved, nothing goes before)."""
        return len(self.head[c]) if self.head else 0

    def under_way(self, c: int, j: int) -> bool:
        """Whether job j is crew c's repair under way (then first in its sequence, with no travel)."""
        return bool(self.on_site) and self.on_site[c] == j


def _finite(value: float) -> bool:
    return math.isfinite(value) and value >= 0


def build_problem(network: Network, crews: Sequence[Crew], sites: Mapping[str, Site], *,
                  travel: Travel = GREAT_CIRCLE, critical_sites: Iterable[CriticalSite] = (),
                  commitments: Sequence[Commitment] = ()) -> Problem:
    """Validate crews, sites and commitments into a Problem, or raise DispatchError naming the culprit."""
    if not crews:
        raise DispatchError("crews: at least one crew is needed")
    seen: set[str] = set()
    for crew in crews:
        if not crew.id or crew.id in seen:
            raise DispatchError(f"crew {crew.id!r}: " + ("duplicate id" if crew.id else "empty id"))
        seen.add(crew.id)
        if not _finite(crew.available_from_hours):
            raise DispatchError(f"crew {crew.id!r}: available_from_hours must be a number >= 0")
        _check_shift(crew)
    for sid in sites:
        if sid not in network.index:
            raise DispatchError(f"site {sid!r}: unknown facility")
    if not (travel.matrix_minutes is not None or (_finite(travel.speed_kmh) and travel.speed_kmh > 0
                                                  and _finite(travel.detour) and travel.detour >= 1)):
        raise DispatchError("travel: speed_kmh must be > 0 and detour >= 1")
    tree = triage_tree(network, critical_sites=critical_sites)
    outage = tree.outage
    ids = tuple(network.facilities[v].id for v in outage.jobs)
    job_sites = tuple(sites.get(fid, Site(fid)) for fid in ids)
    capable = np.asarray([[s.skill is None or s.skill in crew.skills for s in job_sites] for crew in crews],
                         dtype=bool).reshape(len(crews), len(ids))
    for j, s in enumerate(job_sites):
        if not _finite(s.release_hours):
            raise DispatchError(f"facility {s.id!r}: release_hours must be a number >= 0")
        if not capable[:, j].any():
            raise DispatchError(Text(N_("facility '{facility}': no crew has the skill '{skill}' it needs"),
                                     facility=s.id, skill=Code(str(s.skill), "skill", spaced=False)))
    try:
        from_base, between = travel_tables(travel, [Place(c.id, c.base) for c in crews],
                                           [Place(s.id, s.point) for s in job_sites])
    except TravelError as e:
        raise DispatchError(str(e)) from None
    if not (np.isfinite(from_base).all() and np.isfinite(between).all()
            and (from_base >= 0).all() and (between >= 0).all()):
        raise DispatchError("travel: every travel time must be a finite number >= 0")
    head, on_site, started_ago = _heads(network, crews, ids, job_sites, capable, commitments)
    return Problem(
        tree=tree, ids=ids, crews=tuple(crews), sites=job_sites,
        hours=np.asarray(tree.hours, dtype=float),
        release=np.asarray([s.release_hours for s in job_sites], dtype=float),
        available=np.asarray([c.available_from_hours for c in crews], dtype=float),
        # shifts as long as their period follow each other with no break: the crew is always on shift
        shift_end=np.asarray([math.inf if c.shift_end_hours is None or c.shift_length() >= c.shift_period_hours
                              else c.shift_end_hours for c in crews]),
        shift_len=np.asarray([c.shift_length() for c in crews], dtype=float),
        shift_period=np.asarray([c.shift_period_hours for c in crews], dtype=float),
        from_base=from_base, between=between, capable=capable,
        sim=Simulator(outage, tree.hours),
        weight=np.asarray(outage.node_weight, dtype=float), people=np.asarray(outage.node_people, dtype=float),
        head=head, on_site=on_site, started_ago=started_ago,
    )


def _check_shift(crew: Crew) -> None:
    """DispatchError unless the crew's shifts are consistent: an end no earlier than its free hour, each shift
    0 < length <= period, and the current shift (from the free hour to its end) no longer than a shift."""
    name = f"crew {crew.id!r}"
    if crew.shift_end_hours is None:
        if crew.shift_hours is not None:
            raise DispatchError(f"{name}: shift_hours needs available_until_hours (the current shift's end)")
        return
    end, period = crew.shift_end_hours, crew.shift_period_hours
    if not (math.isfinite(end) and end >= crew.available_from_hours):
        raise DispatchError(f"{name}: available_until_hours must be a number >= available_from_hours")
    if not (math.isfinite(period) and period > 0):
        raise DispatchError(f"{name}: shift_period_hours must be a number > 0")
    length = crew.shift_length()
    if not (math.isfinite(length) and 0 < length <= period):
        raise DispatchError(f"{name}: shift_hours must be > 0 and <= shift_period_hours ({period:g}), got "
                            f"{length:g}" + ("" if crew.shift_hours is not None else
                                             " (give shift_hours when the current shift ends as it begins)"))
    if end - crew.available_from_hours > length + 1e-9:
        raise DispatchError(f"{name}: the current shift (available_from_hours to available_until_hours) is longer "
                            f"than shift_hours ({length:g})")


def shift_start(problem: Problem, c: int, ready: float, hours: float) -> float:
    """The earliest hour >= `ready` at which crew c may start a repair of `hours` (see the module docstring)."""
    first_end = float(problem.shift_end[c])
    if ready < first_end or first_end == math.inf:
        if first_end == math.inf:
            return ready
        end = first_end
    else:
        end = first_end + (math.floor((ready - first_end) / problem.shift_period[c]) + 1) * problem.shift_period[c]
    length = float(problem.shift_len[c])
    begins = end - length
    if ready < begins:
        return begins
    if hours > length or ready + hours <= end + 1e-9:
        return ready
    return end + float(problem.shift_period[c]) - length


def shift_starts(problem: Problem, c: int, ready: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """shift_start for arrays of ready hours and repair hours (the same rule, vectorised)."""
    first_end = float(problem.shift_end[c])
    if first_end == math.inf:
        return ready
    period, length = float(problem.shift_period[c]), float(problem.shift_len[c])
    n = np.where(ready < first_end, 0.0, np.floor((ready - first_end) / period) + 1)
    end = first_end + n * period
    begins = end - length
    fits = (hours > length) | (ready + hours <= end + 1e-9)
    return np.asarray(np.where(ready < begins, begins, np.where(fits, ready, end + period - length)))


def shift_end_at(problem: Problem, c: int, start: float) -> float:
    """The end of crew c's shift that a repair started at `start` falls in (inf without shifts)."""
    first_end = float(problem.shift_end[c])
    if first_end == math.inf or start < first_end:
        return first_end
    period = float(problem.shift_period[c])
    return first_end + (math.floor((start - first_end) / period) + 1) * period


def over_shift(problem: Problem, c: int, start: float, finish: float) -> bool:
    """Whether a repair started at `start` by crew c runs past the end of the shift it started in."""
    return finish > shift_end_at(problem, c, start) + 1e-9


def _heads(network: Network, crews: Sequence[Crew], ids: Sequence[str], job_sites: Sequence[Site],
           capable: np.ndarray,
           commitments: Sequence[Commitment]) -> tuple[tuple[tuple[int, ...], ...], tuple[int, ...],
                                                      tuple[float, ...]]:
    """Each crew's committed jobs (the repair under way first, then the assigned ones in the given order), the
    job it has under way (-1: none) and how long ago that began; DispatchError names a bad commitment."""
    if not commitments:
        return (), (), ()
    job_of = {fid: j for j, fid in enumerate(ids)}
    crew_of = {crew.id: c for c, crew in enumerate(crews)}
    heads: list[list[Commitment]] = [[] for _ in crews]
    seen: set[str] = set()
    for cm in commitments:
        name = f"commitment of {cm.job!r} to crew {cm.crew!r}"
        if cm.job in seen:
            raise DispatchError(f"{name}: {cm.job!r} is committed more than once")
        seen.add(cm.job)
        if cm.job not in job_of:
            raise DispatchError(f"{name}: " + ("not a damaged facility" if cm.job in network.index
                                               else "unknown facility"))
        if cm.crew not in crew_of:
            raise DispatchError(f"{name}: no such crew among the crews planned")
        if not (math.isfinite(cm.started_hours_ago) and cm.started_hours_ago >= 0):
            raise DispatchError(f"{name}: started_hours_ago must be a number >= 0, got {cm.started_hours_ago!r}")
        if not cm.in_progress and cm.started_hours_ago != 0:
            raise DispatchError(f"{name}: assigned, not started, but started_hours_ago is {cm.started_hours_ago!r}")
        c = crew_of[cm.crew]
        if not capable[c, job_of[cm.job]]:
            raise DispatchError(f"{name}: the crew lacks the skill {job_sites[job_of[cm.job]].skill!r} it needs")
        heads[c].append(cm)
    on_site, started_ago = [-1] * len(crews), [0.0] * len(crews)
    for c, head in enumerate(heads):
        under_way = [cm.job for cm in head if cm.in_progress]
        if len(under_way) > 1:
            raise DispatchError(f"crew {crews[c].id!r} has {len(under_way)} repairs in progress ("
                                + ", ".join(repr(x) for x in under_way) + "); a crew works one repair at a time")
        head.sort(key=lambda cm: not cm.in_progress)  # stable: the repair under way, then the assigned in order
        if under_way:
            on_site[c], started_ago[c] = job_of[under_way[0]], head[0].started_hours_ago
    return (tuple(tuple(job_of[cm.job] for cm in head) for head in heads), tuple(on_site), tuple(started_ago))


def crew_finish(problem: Problem, c: int, seq: Sequence[int], out: np.ndarray) -> None:
    """Write the finish hour of each job of crew c's sequence into `out` (the inner loop of every search)."""
    t = float(problem.available[c])
    hours, release, between = problem.hours, problem.release, problem.between
    prev = -1
    for j in seq:
        if prev < 0 and problem.under_way(c, j):
            t = float(hours[j])  # on site already: the remaining hours from now
        else:
            arrival = t + (problem.from_base[c, j] if prev < 0 else between[prev, j])
            t = shift_start(problem, c, max(arrival, release[j]), hours[j]) + hours[j]
        out[j] = t
        prev = j


def finish_of(problem: Problem, seqs: Sequence[Sequence[int]]) -> np.ndarray:
    """Finish hour of every job for the crews' sequences."""
    out = np.zeros(len(problem.ids))
    for c, seq in enumerate(seqs):
        crew_finish(problem, c, seq, out)
    return out


def cost(problem: Problem, seqs: Sequence[Sequence[int]], *, weighted: bool = True) -> float:
    """People(-equivalent)-hours without power under the crews' sequences."""
    e = problem.sim.energisation(finish_of(problem, seqs))
    return float((problem.weight if weighted else problem.people) @ e)


def timeline(problem: Problem, seqs: Sequence[Sequence[int]]) -> tuple[np.ndarray, ...]:
    """Travel start, arrival, repair start and finish hour of every job (a crew leaves as soon as it is done and
    starts within its shifts)."""
    m = len(problem.ids)
    travel_start, arrival, start, finish = (np.zeros(m) for _ in range(4))
    for c, seq in enumerate(seqs):
        t = float(problem.available[c])
        prev = -1
        for j in seq:
            if prev < 0 and problem.under_way(c, j):  # on site since it began, finishing in its remaining hours
                travel_start[j] = arrival[j] = start[j] = -problem.started_ago[c]
                t = finish[j] = problem.hours[j]
                prev = j
                continue
            travel_start[j] = t
            arrival[j] = t + (problem.from_base[c, j] if prev < 0 else problem.between[prev, j])
            start[j] = shift_start(problem, c, max(arrival[j], problem.release[j]), problem.hours[j])
            t = finish[j] = start[j] + problem.hours[j]
            prev = j
    return travel_start, arrival, start, finish


def check_sequences(problem: Problem, seqs: Sequence[Sequence[int]]) -> None:
    """Assert the sequences cover every job once, each on a crew with the skill, committed heads kept (a guard for
    solver output)."""
    done = sorted(j for seq in seqs for j in seq)
    if done != list(range(len(problem.ids))):
        raise AssertionError("sequences must cover every job exactly once")
    for c, seq in enumerate(seqs):
        if not all(problem.capable[c, j] for j in seq):
            raise AssertionError(f"crew {problem.crews[c].id!r} was given a job outside its skills")
        if problem.head and tuple(seq[:len(problem.head[c])]) != problem.head[c]:
            raise AssertionError(f"crew {problem.crews[c].id!r} lost its committed jobs at the head")
