"""A one-crew plan that switches first, then repairs, against the plan that only repairs: people-hours without
power for each, with energisation simulated exactly after every step (`geo.switching.energised`).

Switching steps are chosen greedily: the open switch that saves the most people-hours given the switches already
closed, as long as its power flow does not break a limit (a step whose check was not possible is kept, and says
so). Each switching step takes the crew `switch_hours`; the repairs follow in the given order, each taking its
repair hours. Switches stay closed after the repairs: closing them back is not counted, since nobody is dark then.

Run: python -m geo.switching_plan NETWORK.json --damaged line:7=6 [--damaged trafo:1=12] [--switch-hours H]
[--people-per-kw F] prints the switching options and the plan that switches first, then repairs in the order the
damage is given, as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from geo.errors import DataError
from geo.pandapower_flow import OUTSIDE
from geo.pandapower_net import read_network
from geo.switching import REMOTE_HOURS, SWITCH_HOURS, SwitchingOption, energised, options, people_at


@dataclass(frozen=True)
class Step:
    """One step of a plan: what is done, when it is finished, and how many people are still dark after it."""

    action: str  # 'close switch:144' or 'repair line:97'
    done_at_hours: float
    dark_people: float


@dataclass(frozen=True)
class Comparison:
    """The plan that only repairs and the one that switches first, step by step, in people-hours without power."""

    repairs_only: tuple[Step, ...]
    with_switching: tuple[Step, ...]
    repairs_only_people_hours: float
    with_switching_people_hours: float
    switching: tuple[SwitchingOption, ...]  # the switching steps, with their power-flow checks


def switching_steps(tables: Mapping[str, pd.DataFrame], repair_hours: Mapping[str, float], *, people_per_kw: float,
                    net: Any = None, switch_hours: float = SWITCH_HOURS,
                    remote: Iterable[int] = (), remote_hours: float = REMOTE_HOURS) -> tuple[SwitchingOption, ...]:
    """Open switches to close, one after another, each the best given the ones before, skipping any whose power
    flow breaks a limit."""
    chosen: list[SwitchingOption] = []
    while True:
        closed = [int(o.switch.partition(":")[2]) for o in chosen]
        found = [o for o in options(tables, repair_hours, people_per_kw=people_per_kw, net=net,
                                    switch_hours=switch_hours, closed=closed, remote=remote,
                                    remote_hours=remote_hours)
                 if o.flow.status != OUTSIDE and o.people > 0]
        if not found:
            return tuple(chosen)
        chosen.append(found[0])


def _run(tables: Mapping[str, pd.DataFrame], actions: Sequence[tuple[str, float]], damaged: set[str],
         people: Mapping[int, float]) -> tuple[tuple[Step, ...], float]:
    """Simulate steps (action, hours) from the damaged state; the steps and the people-hours without power."""
    normal = energised(tables)
    left: set[str] = set(damaged)
    closed: list[int] = []

    def dark() -> float:
        return float(sum(people.get(b, 0.0) for b in normal - energised(tables, damaged=left, close=closed)))

    clock, total, now = 0.0, 0.0, dark()
    steps: list[Step] = []
    for action, hours in actions:
        total += now * hours
        clock += hours
        verb, _, element = action.partition(" ")
        if verb == "close":
            closed.append(int(element.partition(":")[2]))
        else:
            left.discard(element)
        now = dark()
        steps.append(Step(action=action, done_at_hours=clock, dark_people=now))
    return tuple(steps), total


def compare(tables: Mapping[str, pd.DataFrame], repair_hours: Mapping[str, float], *, order: Sequence[str],
            people_per_kw: float, net: Any = None, switch_hours: float = SWITCH_HOURS,
            remote: Iterable[int] = (), remote_hours: float = REMOTE_HOURS) -> Comparison:
    """The repairs in `order` alone, and the same repairs after the switching steps, for one crew."""
    if sorted(order) != sorted(repair_hours):
        raise ValueError("order must name every damaged element once")
    people = people_at(tables, people_per_kw)
    repairs = [(f"repair {e}", float(repair_hours[e])) for e in order]
    switching = switching_steps(tables, repair_hours, people_per_kw=people_per_kw, net=net, switch_hours=switch_hours,
                                remote=tuple(remote), remote_hours=remote_hours)
    only, only_total = _run(tables, repairs, set(repair_hours), people)
    both, both_total = _run(tables, [(f"close {o.switch}", o.hours) for o in switching] + repairs,
                            set(repair_hours), people)
    return Comparison(repairs_only=only, with_switching=both, repairs_only_people_hours=only_total,
                      with_switching_people_hours=both_total, switching=switching)


def _switch(text: str) -> int:
    number = text.removeprefix("switch:")
    if not number.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: expected switch:INDEX, e.g. switch:144")
    return int(number)


def _damage(text: str) -> tuple[str, float]:
    element, _, hours = text.partition("=")
    try:
        return element, float(hours)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected ELEMENT=HOURS, e.g. line:7=6") from None


def main(argv: list[str] | None = None) -> int:
    """The command line: the switching options of a pandapower network with the given damage and the plan that
    uses them, as JSON."""
    parser = argparse.ArgumentParser(prog="python -m geo.switching_plan", description=__doc__.splitlines()[0])
    parser.add_argument("network")
    parser.add_argument("--damaged", type=_damage, action="append", default=[], metavar="ELEMENT=HOURS")
    parser.add_argument("--switch-hours", type=float, default=SWITCH_HOURS)
    parser.add_argument("--remote", type=_switch, action="append", default=[], metavar="switch:INDEX",
                        help="a remote-controlled switch (closed in --remote-hours)")
    parser.add_argument("--remote-hours", type=float, default=REMOTE_HOURS)
    parser.add_argument("--people-per-kw", type=float, default=1.0)
    args = parser.parse_args(argv)
    damage = dict(args.damaged)
    try:
        tables, net = read_network(args.network)
        timing = {"switch_hours": args.switch_hours, "remote": args.remote, "remote_hours": args.remote_hours}
        found = options(tables, damage, people_per_kw=args.people_per_kw, net=net, **timing)
        plans = compare(tables, damage, order=[e for e, _ in args.damaged], people_per_kw=args.people_per_kw,
                        net=net, **timing)
    except (DataError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    plan = {"repairs_only_people_hours": round(plans.repairs_only_people_hours, 1),
            "with_switching_people_hours": round(plans.with_switching_people_hours, 1),
            "steps": [{"action": s.action, "done_at_hours": s.done_at_hours, "dark_people": round(s.dark_people, 1)}
                      for s in plans.with_switching]}
    json.dump({"options": [o.as_json() for o in found], "plan": plan}, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
