"""The engine's fast paths say what the plain ones say: sentences, numbers, orders, bounds, parents, files.

Issue 17 made `python -m geo.plan` fast by writing the ranking's sentences column-wise (explain.english_sentences),
converting JSON numbers by numpy, sorting Horn's single-job blocks once, reusing the triage order in the bound,
joining parents by hashes and decoding plain files with msgspec. Each is held here to the slow, obvious way of
computing the same thing: the Texts of rank(), `_num` one value at a time, a heap of every block, a dict.
"""

from __future__ import annotations

import copy
import heapq
import math
import pickle
import random

import orjson
import pytest

from geo.message import Text
from geo.network import CriticalSite, Facility, ScenarioError, build_network, network_from_columns
from geo.plan import lower_bound, plan, time_limit
from geo.plan_cli import _num, _nums, plan_to_json, ranking_to_json, report
from geo.plan_simulator import Simulator, _levels
from geo.scenario import parse_scenario
from geo.scenario_file import read_scenario
from geo.triage import _texts, horn_order, rank, ranked_rows, ratio_key, triage_tree


def tree(n: int, damaged: int, *, seed: int, fractional: bool = False, zero_hours: bool = False,
         chains: bool = False) -> list[Facility]:
    """A random radial network; `chains` makes long feeders (deep blocks with many members)."""
    rng = random.Random(seed)
    broken = set(rng.sample(range(1, n), damaged))
    out = [Facility("F0")]
    for i in range(1, n):
        up = i - 1 if chains and rng.random() < 0.8 else rng.randrange(i)
        people = rng.random() * 3 if fractional else float(rng.choice([0, 0, rng.randrange(1, 400)]))
        hours = float(rng.choice([0, 1, 2, 3])) if zero_hours else (
            rng.uniform(0.1, 9) if fractional else float(rng.randint(1, 8)))
        out.append(Facility(f"F{i}", (f"F{up}",), people, i in broken, hours if i in broken else None))
    return out


def meshed(n: int, damaged: int, *, seed: int) -> list[Facility]:
    """A random network where one facility in five has two feeds."""
    rng = random.Random(seed)
    base = tree(n, damaged, seed=seed)
    return [Facility(f.id, tuple(dict.fromkeys((*f.parents, f"F{rng.randrange(i)}")))
                     if i > 1 and rng.random() < 0.2 else f.parents, f.population, f.damaged, f.repair_hours)
            for i, f in enumerate(base)]


CASES = [
    ("integers", lambda s: tree(300, 60, seed=s), ()),
    ("fractions", lambda s: tree(300, 80, seed=s, fractional=True), ()),
    ("zero hours", lambda s: tree(200, 70, seed=s, zero_hours=True), ()),
    ("long feeders", lambda s: tree(300, 120, seed=s, chains=True), ()),
    ("critical sites", lambda s: tree(300, 60, seed=s), (CriticalSite("H", "F7", 5000.0, "hospital"),
                                                        CriticalSite("W", "F19", 800.0, "water"))),
    ("meshed", lambda s: meshed(300, 60, seed=s), ()),
]


def chains_and_units(t):
    chain = [()] * len(t.parent)
    for j in t.order:
        if t.parent[j] >= 0:
            chain[j] = (*chain[t.parent[j]], t.parent[j])
    return chain, [w > sum(t.people[a] for a in t.order[start:end]) for start, end, w, _ in t.blocks]


@pytest.mark.parametrize(("name", "make", "sites"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("seed", range(4))
def test_english_sentences_are_the_texts_rank_says(name, make, sites, seed):
    network = build_network(make(seed))
    ranked = rank(network, critical_sites=sites)
    rows = ranked_rows(network, critical_sites=sites, english=True)
    t = triage_tree(network, critical_sites=sites)
    chain, units = chains_and_units(t)
    texts = _texts(t, [network.arrays.ids[v] for v in t.outage.jobs], chain, units)  # the Texts, made one by one
    assert [str.__str__(text) for text in texts] == [row[-1] for row in rows]
    assert all(type(row[-1]) is str for row in rows)
    for r, text in zip(ranked, texts, strict=True):  # the app's Texts: made on first use, the same as one by one
        assert isinstance(r.explanation, Text) and r.explanation == text
        assert (r.explanation.msgid, r.explanation.params, r.explanation.parts, r.explanation.sep) == \
            (text.msgid, text.params, text.parts, text.sep)
    assert [(r.rank, r.id, r.repair_hours, r.ratio, r.gain_now, r.gain_with_blockers, r.population_served,
             r.blocked_by, r.block) for r in ranked] == [row[:-1] for row in rows]
    if name == "long feeders":
        assert any(len(r.block) > 4 for r in ranked)  # the "and N more" and "with N more" sentences are made
    fresh = rank(network, critical_sites=sites)[-1].explanation  # a copy, before its parts are made
    copied = copy.deepcopy(fresh)
    assert type(copied) is Text and copied == fresh and copied.parts == fresh.parts and pickle.loads(
        pickle.dumps(fresh)) == fresh


@pytest.mark.parametrize(("name", "make", "sites"), CASES, ids=[c[0] for c in CASES])
def test_the_json_of_rows_and_columns_is_the_json_of_records(name, make, sites):
    network = build_network(make(1))
    slow = [{"rank": r.rank, "id": r.id, "ratio": _num(r.ratio), "gain_now": _num(r.gain_now),
             "gain_with_blockers": _num(r.gain_with_blockers), "population_served": _num(r.population_served),
             "blocked_by": list(r.blocked_by), "block": list(r.block), "repair_hours": _num(r.repair_hours),
             "explanation": r.explanation} for r in rank(network, critical_sites=sites)]
    assert orjson.dumps(ranking_to_json(ranked_rows(network, critical_sites=sites, english=True))) == \
        orjson.dumps(slow)
    result = plan(network, crews=3, critical_sites=sites, deadline=time_limit(0, clock=lambda: 1.0))
    fast = plan_to_json(result)["plan"]
    assert fast["crews"] == [[{"id": j.id, "start": _num(j.start_hours), "finish": _num(j.finish_hours)}
                              for j in crew] for crew in result.crews]
    assert orjson.dumps(fast["etr"]) == orjson.dumps({f: _num(h) for f, h in result.etr_hours.items()})


def test_numbers_convert_column_wise_as_one_by_one():
    rng = random.Random(3)
    values = [0.0, -0.0, 1.0, 2.5, 1e-7, 123456.7891234, math.inf, -math.inf, math.nan, 2.0**60, -3.0, 1e300,
              2.0**53 + 2, 2.0**70, 0.1 + 0.2] + [rng.uniform(-1e6, 1e6) for _ in range(500)] + [
                  float(rng.randrange(-10**6, 10**6)) for _ in range(500)]
    slow, fast = [_num(v) for v in values], _nums(values)
    assert [type(x) for x in fast] == [type(x) for x in slow]
    assert fast == slow  # ints beyond 64 bits included (which no JSON writer here takes, before or now)
    assert orjson.dumps([x for x in fast if not isinstance(x, int) or abs(x) < 2**63]) == \
        orjson.dumps([x for x in slow if not isinstance(x, int) or abs(x) < 2**63])
    assert _nums([]) == []


def heap_horn(parent, weight, hours, tie):
    """Horn's algorithm with every block on one heap (the implementation before issue 17)."""
    n = len(parent)
    w, p = list(weight), list(hours)
    nxt, tail, owner, version, done = [-1] * n, list(range(n)), list(range(n)), [0] * n, [False] * n
    heap = [(-ratio_key(w[j], p[j]), tie[j], 0, j) for j in range(n)]
    heapq.heapify(heap)
    order, blocks = [], []

    def find(j):
        while owner[j] != j:
            j = owner[j]
        return j

    while heap:
        _, _, ver, b = heapq.heappop(heap)
        if ver != version[b] or owner[b] != b or done[b]:
            continue
        up = find(parent[b]) if parent[b] >= 0 else -1
        if up < 0 or done[up]:
            start, j = len(order), b
            while j >= 0:
                order.append(j)
                j = nxt[j]
            blocks.append((start, len(order), w[b], p[b]))
            done[b] = True
            continue
        nxt[tail[up]], tail[up] = b, tail[b]
        w[up] += w[b]
        p[up] += p[b]
        owner[b] = up
        version[up] += 1
        heapq.heappush(heap, (-ratio_key(w[up], p[up]), tie[up], version[up], up))
    return order, blocks


@pytest.mark.parametrize("seed", range(12))
def test_horn_order_is_the_one_heap_order_with_its_ties(seed):
    rng = random.Random(seed)
    n = rng.choice([1, 2, 30, 400])
    parent = [-1 if i == 0 or rng.random() < 0.05 else rng.randrange(i) for i in range(n)]
    weight = [float(rng.choice([0, 1, 2, 5, 10])) for _ in range(n)]  # many equal ratios
    hours = [float(rng.choice([0, 1, 2, 5])) for _ in range(n)]
    tie = rng.sample(range(n), n)
    assert horn_order(parent, weight, hours, tie) == heap_horn(parent, weight, hours, tie)
    assert horn_order([], [], [], []) == ([], [])


def loop_bound(t, *, crews, weighted):
    """lower_bound as plain loops over the outage (its definition before issue 17, with the triage ties)."""
    outage = t.outage
    node_w = outage.node_weight if weighted else outage.node_people
    m = len(outage.jobs)
    p = t.hours
    w = list(t.weight if weighted else t.people)
    order, _ = heap_horn(list(t.parent), w, p, list(t.tie))

    def cost(seq):
        clock = total = 0.0
        for j in seq:
            clock += p[j]
            total += w[j] * clock
        return total

    fast = cost(order) / crews
    wspt = sorted(range(m), key=lambda j: (-ratio_key(w[j], p[j]), j))
    eei = cost(wspt) / crews + (crews - 1) / (2 * crews) * sum(w[j] * p[j] for j in range(m))
    longest, path = [0.0] * m, [0.0] * m
    for j in range(m):  # radial: node j is job j, nodes in topological order
        up = outage.node_parents[j]
        longest[j] = max(p[j], longest[up[0]]) if up else p[j]
        path[j] = (path[up[0]] if up else 0.0) + p[j]
    paths = sum(node_w[j] * max(longest[j], path[j] / crews) for j in range(m))
    return max(fast, eei, paths)


@pytest.mark.parametrize(("name", "make", "sites"), [c for c in CASES if c[0] != "meshed"],
                         ids=[c[0] for c in CASES if c[0] != "meshed"])
@pytest.mark.parametrize("crews", [1, 2, 5])
def test_the_radial_bound_is_its_loops(name, make, sites, crews):
    t = triage_tree(build_network(make(2)), critical_sites=sites)
    for weighted in (True, False):
        assert lower_bound(t, crews=crews, weighted=weighted) == pytest.approx(
            loop_bound(t, crews=crews, weighted=weighted), rel=1e-12)
    if name == "integers":  # whole numbers: every sum is exact, whatever the order
        assert lower_bound(t, crews=crews) == loop_bound(t, crews=crews, weighted=True)


def test_the_radial_simulator_levels_are_the_general_ones():
    t = triage_tree(build_network(tree(500, 150, seed=4, chains=True)))
    sim = Simulator(t.outage, t.hours)
    general = Simulator(t.outage, t.hours)
    general.levels = _levels(t.outage)
    rng = random.Random(4)
    for _ in range(3):
        finish = sim.finish([rng.sample(range(len(t.hours)), len(t.hours))])
        assert sim.energisation(finish).tolist() == general.energisation(finish).tolist()
    assert sim.path_hours().tolist() == general.path_hours().tolist()


def test_parents_joined_by_hashes_are_those_a_dict_finds():
    facilities = tree(2000, 100, seed=5)
    network = network_from_columns([f.id for f in facilities], [f.parents[0] if f.parents else None
                                                                for f in facilities],
                                   [f.population for f in facilities], [f.damaged for f in facilities],
                                   [f.repair_hours for f in facilities])
    index = {f.id: i for i, f in enumerate(facilities)}
    assert network.arrays.parent.tolist() == [index[f.parents[0]] if f.parents else -1 for f in facilities]
    assert dict(network.index) == index and network.index["F7"] == 7 and "nope" not in network.index
    unknown = [*facilities[:10], Facility("X", ("nowhere",)), *facilities[10:]]
    with pytest.raises(ScenarioError, match="facility 'X': unknown parent 'nowhere'"):
        network_from_columns([f.id for f in unknown], [f.parents[0] if f.parents else None for f in unknown],
                             [f.population for f in unknown], [f.damaged for f in unknown],
                             [f.repair_hours for f in unknown])


def document(facilities, **rest):
    return {**rest, "facilities": [
        {"id": f.id, "parent": f.parents[0] if f.parents else None, "population": f.population,
         **({"damaged": True, "repair_hours": f.repair_hours} if f.damaged else {})} for f in facilities]}


@pytest.mark.parametrize("rest", [{}, {"crews": 3}, {"crews": 2, "critical_sites": [
    {"id": "H", "facility": "F3", "weight": 900}]}, {"crews": 1, "as_of": "2026-12-07T10:00:00Z"}])
def test_a_plain_file_decoded_by_msgspec_is_the_file_parsed_from_dicts(rest):
    data = orjson.dumps(document(tree(500, 60, seed=6), **rest))
    fast, slow = read_scenario(data), parse_scenario(orjson.loads(data))
    assert (fast.crews, fast.critical_sites, fast.as_of, fast.dispatch_keys) == \
        (slow.crews, slow.critical_sites, slow.as_of, slow.dispatch_keys)
    assert list(fast.network.facilities) == list(slow.network.facilities)
    assert report(fast.network, crews=fast.crews, critical_sites=fast.critical_sites) == \
        report(slow.network, crews=slow.crews, critical_sites=slow.critical_sites)


@pytest.mark.parametrize("change", [
    lambda d: d["facilities"][3].update(population=-1),
    lambda d: d["facilities"][3].update(population=None),
    lambda d: d["facilities"][3].update(population=True),
    lambda d: d["facilities"][4].update(parent="nowhere"),
    lambda d: d["facilities"][5].update(id=d["facilities"][6]["id"]),
    lambda d: d["facilities"][5].update(id=""),
    lambda d: d["facilities"][0].update(parent=d["facilities"][0]["id"]),
    lambda d: (d["facilities"][1].update(parent="F2"), d["facilities"][2].update(parent="F1")),
    lambda d: d["facilities"][next(i for i, f in enumerate(d["facilities"]) if f.get("damaged"))].pop(
        "repair_hours"),
    lambda d: d["facilities"][7].update(parents=["F1", "F2"]),
    lambda d: d["facilities"][7].update(lon=10.0, lat=50.0),
    lambda d: d["facilities"][7].update(name="a name"),
    lambda d: d.update(crews=0),
    lambda d: d.update(crews=None),
    lambda d: d.update(critical_sites=[{"id": "H", "facility": "nowhere", "weight": 1}]),
])
def test_a_file_of_another_shape_says_what_it_said(change):
    given = document(tree(40, 8, seed=7))
    change(given)
    data = orjson.dumps(given)
    try:
        expected = parse_scenario(orjson.loads(data))
    except ScenarioError as e:
        with pytest.raises(ScenarioError) as raised:
            read_scenario(data)
        assert str(raised.value) == str(e)
    else:
        got = read_scenario(data)
        assert list(got.network.facilities) == list(expected.network.facilities)
        assert (got.crews, got.dispatch_keys, dict(got.sites)) == (expected.crews, expected.dispatch_keys,
                                                                  dict(expected.sites))


def test_a_file_that_is_not_json_raises_orjsons_error():
    for data in (b"{", b'{"facilities": [NaN]}', b"\xff", b'{"facilities": [{"id": "\\ud800"}]}'):
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(data)
        with pytest.raises(orjson.JSONDecodeError):
            read_scenario(data)
