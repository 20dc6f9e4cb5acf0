"""The crews of a plan: work they already have (commitments), their labels, and their timed sequences.

Public API:
    Commitment(job, crew, in_progress, started_hours_ago=0.0)   work a crew has, kept first in its sequence
    CommitmentError                                        commitments the plan cannot keep (a ValueError)
    CrewJob(id, start_hours, finish_hours, commitment=None)  one repair in a crew's sequence
    crew_slots(network, commitments, crews) -> (labels, heads)   crew labels and each crew's committed jobs
    Schedule(seqs, finish, hours, ids, committed)           crew sequences timed: CrewJobs or columns, on demand
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geo import explain
from geo.network import Network

IN_PROGRESS, ASSIGNED = "in_progress", "assigned"  # CrewJob.commitment of a committed job


class CommitmentError(ValueError):
    """Commitments the plan cannot keep; the message names the jobs or the crew and the reason."""


@dataclass(frozen=True)
class Commitment:
    """Work a crew already has: a damaged facility's repair under way (`in_progress`) or assigned to it.

    For a repair under way the network's repair_hours are its remaining hours and `started_hours_ago` says how
    long ago it began; an assigned repair has not started (0).
    """

    job: str
    crew: str
    in_progress: bool
    started_hours_ago: float = 0.0


@dataclass(frozen=True)
class CrewJob:
    """One repair in a crew's sequence, in hours from now (a repair under way started in the past: negative).

    `commitment` is "in_progress" or "assigned" for a job kept from a Commitment, None for a planned one.
    """

    id: str
    start_hours: float
    finish_hours: float
    commitment: str | None = None


@dataclass(frozen=True, eq=False)
class Schedule:
    """Crews' job sequences with their finish hours; the CrewJobs are made on first use (`jobs`), and a writer
    that needs only ids and hours reads `columns` without them. Two schedules are equal when their jobs are."""

    seqs: Sequence[Sequence[int]]
    finish: np.ndarray
    hours: np.ndarray
    ids: Sequence[str]
    committed: Mapping[int, Commitment]
    made: list[tuple[tuple[CrewJob, ...], ...]] = field(default_factory=list, repr=False)

    def jobs(self) -> tuple[tuple[CrewJob, ...], ...]:
        """Each crew's sequence with start and finish hours; a repair under way started `started_hours_ago`
        ago."""
        if not self.made:
            self.made.append(tuple(
                tuple(CrewJob(fid, start, end) if kind is None else CrewJob(fid, start, end, kind)
                      for fid, start, end, kind in zip(*self._crew_columns(seq), strict=True))
                for seq in self.seqs))
        return self.made[0]

    def columns(self) -> list[tuple[list[str], list[float], list[float]]]:
        """Per crew: job ids, start hours and finish hours (what `jobs` says, without the objects)."""
        return [self._crew_columns(seq)[:3] for seq in self.seqs]

    def _crew_columns(self, seq: Sequence[int]) -> tuple[list[str], list[float], list[float], list[str | None]]:
        idx = np.asarray(seq, dtype=np.intp)
        finish = self.finish[idx]
        start = (finish - self.hours[idx]).tolist()
        kinds: list[str | None] = [None] * len(seq)
        if self.committed:
            for position, j in enumerate(seq):
                c = self.committed.get(j)
                if c is not None:
                    kinds[position] = IN_PROGRESS if c.in_progress else ASSIGNED
                    if c.in_progress:
                        start[position] = 0.0 - c.started_hours_ago
        ids = self.ids
        return [ids[j] for j in seq], start, finish.tolist(), kinds

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Schedule) and self.jobs() == other.jobs()

    def __hash__(self) -> int:
        return hash(self.jobs())


def crew_slots(network: Network, commitments: Sequence[Commitment],
               crews: int) -> tuple[tuple[str, ...], list[list[Commitment]]]:
    """Crew labels (committed crews first, in order of first appearance) and each crew's committed jobs in order.

    Raises CommitmentError for a job that is not a damaged facility, a job committed twice, a crew with two
    repairs under way (a crew works one repair at a time) or a bad label or start.
    """
    seen: dict[str, int] = {}
    for c in commitments:
        seen[c.job] = seen.get(c.job, 0) + 1
    twice = [job for job, n in seen.items() if n > 1]
    if twice:
        raise CommitmentError(f"committed more than once: {_listed(twice)}")
    unknown = [c.job for c in commitments if c.job not in network.index]
    undamaged = [c.job for c in commitments
                 if c.job in network.index and not network.arrays.damaged[network.index[c.job]]]
    if unknown or undamaged:
        which = ([f"unknown {_listed(unknown)}"] if unknown else []) + (
            [f"not damaged {_listed(undamaged)}"] if undamaged else [])
        raise CommitmentError(f"commitments must name damaged facilities: {'; '.join(which)}")
    heads: dict[str, list[Commitment]] = {}
    for c in commitments:
        if not c.crew.strip():
            raise CommitmentError(f"commitment of {c.job!r}: the crew label is empty")
        if not (math.isfinite(c.started_hours_ago) and c.started_hours_ago >= 0):
            raise CommitmentError(f"commitment of {c.job!r}: started_hours_ago must be a number >= 0, "
                                  f"got {c.started_hours_ago!r}")
        if not c.in_progress and c.started_hours_ago != 0:
            raise CommitmentError(f"commitment of {c.job!r}: assigned, not started, but started_hours_ago is "
                                  f"{c.started_hours_ago!r}")
        heads.setdefault(c.crew, []).append(c)
    for crew, head in heads.items():
        under_way = [c.job for c in head if c.in_progress]
        if len(under_way) > 1:
            raise CommitmentError(f"crew {crew!r} has {len(under_way)} repairs in progress ({_listed(under_way)}); "
                                  "a crew works one repair at a time")
        head.sort(key=lambda c: not c.in_progress)  # stable: the repair under way, then the assigned ones in order
    labels = list(heads)
    n = 0
    while len(labels) < crews:
        n += 1
        if f"Crew {n}" not in heads:  # the plan's own name for a crew it was not given one for
            labels.append(explain.crew_label(n))
    return tuple(labels), [heads.get(label, []) for label in labels]


def _listed(jobs: Collection[str]) -> str:
    return ", ".join(repr(j) for j in jobs)
