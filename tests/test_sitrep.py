"""The situation report's numbers against independent sources: our own SQL, /api/triage and /api/plan."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from xml.etree import ElementTree

import psycopg
import pytest

from tests.conftest import api_client, create_accounts, make_app

# name -> (kind, parents, people). S feeds A, B, D and E; A feeds A2; C hangs from both A and B (a meshed feed).
GRID = {
    "Sitrep Source": ("power_plant", (), 0),
    "Sitrep Alder": ("substation", ("Sitrep Source",), 1000),
    "Sitrep Alder Lane": ("transformer", ("Sitrep Alder",), 500),
    "Sitrep Birch": ("substation", ("Sitrep Source",), 2000),
    "Sitrep Cedar": ("transformer", ("Sitrep Alder", "Sitrep Birch"), 3000),
    "Sitrep Dunmore": ("transformer", ("Sitrep Source",), 700),
    "Sitrep Elm": ("heat_plant", ("Sitrep Source",), 400),
}
# name -> (repair hours reported, the actions that bring its case to the status it ends in)
DAMAGE = {
    "Sitrep Alder": (4, [{"action": "confirm"}]),
    "Sitrep Birch": (3, [{"action": "assign", "crew": "B team"}, {"action": "start_repair"},
                         {"action": "temporarily_restore", "reason": "mobile generator"}]),
    "Sitrep Dunmore": (1, [{"action": "confirm"}, {"action": "assign", "crew": "D team"}, {"action": "start_repair"}]),
    "Sitrep Elm": (5, [{"action": "confirm"}, {"action": "start_repair"}, {"action": "repaired"}]),
}


class Tables(HTMLParser):
    """The text of every cell of every table with an id, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.headline: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._in_headline = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id"):
            self._table = attrs["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []
        elif attrs.get("id") == "without-power":
            self._in_headline = True

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._table and self._cell is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif self._in_headline:
            self._in_headline = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._in_headline:
            self.headline.append(data)


@pytest.fixture(scope="module")
def sitrep(new_database):
    """An own database holding GRID with DAMAGE, plus unplaced, rejected and merged cases; read the report once."""
    url = new_database()
    app = make_app(url)
    tokens = create_accounts(app, {"sit_coord": "coordinator", "sit_crew": "crew"})
    crew, coord = api_client(app, tokens["sit_crew"]), api_client(app, tokens["sit_coord"])
    ids: dict[str, int] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for position, (name, (kind, _, _)) in enumerate(GRID.items()):
            ids[name] = conn.execute(
                "INSERT INTO facility (external_id, name, kind, geom) VALUES (%s, %s, %s, ST_Point(%s, 50, 4326)) "
                "RETURNING id", (f"sit-{position}", name, kind, 10 + position / 100)).fetchone()[0]
        for name, (_, parents, _) in GRID.items():
            for parent in parents:
                conn.execute("INSERT INTO feed_link (parent_id, child_id, origin) VALUES (%s, %s, 'given')",
                             (ids[parent], ids[name]))
        layer = conn.execute("INSERT INTO population_layer (name, kind, total) VALUES ('sitrep', 'points', 7600) "
                             "RETURNING id").fetchone()[0]
        for name, (_, _, people) in GRID.items():
            conn.execute("INSERT INTO facility_population (facility_id, layer_id, population, population_served, "
                         "method) VALUES (%s, %s, %s, %s, 'given')", (ids[name], layer, people, people))

    def send(**body) -> int:
        body = {"id": str(uuid.uuid4()), "lat": 50.0, "severity": "severe", "status": "out_of_service",
                "observed_at": (datetime.now(UTC) - timedelta(minutes=20)).isoformat(), **body}
        response = crew.post("/api/reports", json=body)
        assert response.status_code == 201, response.json
        return response.json["report"]["case_id"]

    def act(case_id: int, **body) -> None:
        response = coord.post(f"/api/cases/{case_id}/actions", json=body)
        assert response.status_code == 200, response.json

    cases = {}
    for name, (hours, steps) in DAMAGE.items():
        position = list(GRID).index(name)
        cases[name] = send(facility_id=ids[name], kind=GRID[name][0], lon=10 + position / 100, repair_hours=hours)
        for step in steps:
            act(cases[name], **step)
    unplaced = send(kind="other", lon=12.0)
    rejected = send(kind="other", lon=12.5)
    act(rejected, action="reject", reason="not our asset")
    merged = send(kind="line", lon=13.0)
    act(cases["Sitrep Alder"], action="merge", duplicate_id=merged)
    page_asked = time.monotonic()  # the page reads its clock after this
    page = api_client(app, tokens["sit_coord"]).get("/sitrep")
    assert page.status_code == 200
    tables = Tables()
    tables.feed(page.get_data(as_text=True))
    yield {"app": app, "coord": coord, "url": url, "tables": tables, "html": page.get_data(as_text=True),
           "cases": cases, "unplaced": unplaced, "page_asked": page_asked}
    app.extensions["db_pool"].close()


# The English labels the page shows for the codes of this test's cases (app/site/labels.py).
SHOWN = {"confirmed": "Confirmed", "in_repair": "In repair", "temporarily_restored": "Temporarily restored",
         "repaired": "Repaired", "reported": "Reported", "rejected": "Rejected", "duplicate": "Duplicate",
         "substation": "Substation", "transformer": "Transformer", "heat_plant": "Heat plant", "other": "Other"}


def table(sitrep, name: str) -> list[list[str]]:
    return sitrep["tables"].tables[name]


def test_cases_by_status_are_every_case_counted_in_the_database(sitrep):
    shown = {status: int(n) for status, n in table(sitrep, "by-status")[1:]}
    with psycopg.connect(sitrep["url"]) as conn:
        rows = conn.execute("SELECT status::text, count(*) FROM damage_case GROUP BY 1").fetchall()
    assert shown == {SHOWN[status]: n for status, n in rows}  # the page shows labels, not codes
    assert shown == {"Confirmed": 1, "In repair": 1, "Temporarily restored": 1, "Repaired": 1, "Reported": 1,
                     "Rejected": 1, "Duplicate": 1}


def test_cases_by_kind_count_the_damage_not_duplicates_or_rejections(sitrep):
    shown = {kind: int(n) for kind, n in table(sitrep, "by-kind")[1:]}
    with psycopg.connect(sitrep["url"]) as conn:
        rows = conn.execute("SELECT kind::text, count(*) FROM damage_case "
                            "WHERE status NOT IN ('duplicate', 'rejected') GROUP BY 1").fetchall()
    assert shown == {SHOWN[kind]: n for kind, n in rows} == {"Substation": 2, "Transformer": 1, "Heat plant": 1,
                                                              "Other": 1}


def test_people_without_power_now_equal_the_engines_figure(sitrep):
    shown = float("".join(sitrep["tables"].headline).replace(",", ""))
    plan = sitrep["coord"].get("/api/plan?crews=1").json
    # Every area still dark in the plan is without power now; add up their people ourselves.
    dark = sum(area["population"] for area in plan["etr_by_area"])
    assert shown == dark == plan["kpis"]["affected_population"]
    # By hand: Alder and its lane (1,000 + 500) and Dunmore (700); Cedar keeps power through the restored Birch.
    assert shown == 2200
    triage = sitrep["coord"].get("/api/triage").json["queue"]
    assert {row["case_id"] for row in triage} == {sitrep["cases"]["Sitrep Alder"], sitrep["cases"]["Sitrep Dunmore"]}


@pytest.mark.parametrize(("crews", "column"), [(1, 3), (3, 4)])
def test_the_plans_etrs_equal_the_plan_apis_for_the_same_crews(sitrep, crews, column):
    etr = table(sitrep, "etr")
    assert etr[0][column] == f"ETR, {crews} crew{'s' if crews > 1 else ''} (h)"
    shown = {int(row[0]): row[column] for row in etr[1:] if row[0].isdigit()}
    plan = sitrep["coord"].get(f"/api/plan?crews={crews}").json
    assert shown == {int(case_id): f"{hours:.1f}" for case_id, hours in plan["etr_by_case"].items()}
    assert set(shown) == {sitrep["cases"]["Sitrep Alder"], sitrep["cases"]["Sitrep Dunmore"]}
    footer = {row[0]: row[1:] for row in etr if not row[0].isdigit()}
    assert footer["People-hours without power"][column - 3] == f"{plan['kpis']['phu']:,.0f}"
    assert footer["All restored after (h)"][column - 3] == f"{plan['kpis']['t100_hours']:.1f}"


def test_without_crews_on_record_the_report_says_where_to_define_them(sitrep):
    assert 'id="clock-none"' in sitrep["html"] and 'href="/crews"' in sitrep["html"]
    assert 'id="clock-etr-cases"' not in sitrep["html"]


def test_the_report_counts_the_cases_left_out_of_the_plan(sitrep):
    unplaced = sitrep["coord"].get("/api/triage").json["unplaced"]
    assert [c["case_id"] for c in unplaced] == [sitrep["unplaced"]]
    assert "1 open case(s) at sites with no registered facility are not in the plan" in sitrep["html"]


def figure(sitrep, crews: int) -> ElementTree.Element:
    """The chart of the plan for `crews` (a figure with an inline SVG, well-formed as XML)."""
    match = re.search(rf'<figure class="restoration" id="chart-{crews}">.*?</figure>', sitrep["html"], re.S)
    assert match, f"no chart for {crews} crews"
    return ElementTree.fromstring(match.group(0))


def curve(chart: ElementTree.Element, name: str) -> list[tuple[float, float]]:
    lines = chart.findall(f".//polyline[@class='{name}']")
    assert len(lines) == 1
    return [(float(t), float(p)) for t, p in (point.split(",") for point in lines[0].get("points").split())]


def jumps(points: list[tuple[float, float]]) -> dict[float, float]:
    """People who get power back at each hour, read off a step curve (which only goes right or up)."""
    found: dict[float, float] = {}
    for (t0, p0), (t1, p1) in zip(points, points[1:], strict=False):
        assert (t0 == t1 and p1 > p0) or (p0 == p1 and t1 > t0), "not a rising step curve"
        if t0 == t1:
            found[t0] = found.get(t0, 0) + p1 - p0
    return found


HOURS_APART = 0.01  # 36 s: the most the sitrep and an API call made just after it may be apart


def flat(steps: dict[float, float]) -> list[float]:
    """Steps as a flat list (hour, people, hour, people…) in time order, for pytest.approx."""
    return [x for hour in sorted(steps) for x in (hour, steps[hour])]


def by_hour(areas: list[dict]) -> dict[float, float]:
    found: dict[float, float] = {}
    for area in areas:
        if area["population"] > 0:
            found[area["etr_hours"]] = found.get(area["etr_hours"], 0) + area["population"]
    return found


# By hand: with 1 crew the plan repairs Dunmore (700 people, 1 h) before Alder (1,500 people with its lane, 4 h):
# 700 x 1 + 1,500 x 5 = 8,200 people-hours. Dunmore is in repair by D team, so the naive order (largest
# population served first) keeps it first too rather than pulling the crew off: 8,200 as well. With 3 crews both
# repair the two at once: 700 x 1 + 1,500 x 4 = 6,700.
BY_HAND = {1: (8200, 8200), 3: (6700, 6700)}


@pytest.mark.parametrize("crews", [1, 3])
def test_the_chart_draws_the_plan_and_the_naive_order_from_the_plan_apis_areas(sitrep, crews):
    api = sitrep["coord"].get(f"/api/plan?crews={crews}").json
    chart = figure(sitrep, crews)
    assert chart.find("svg") is not None and chart.find("svg/title") is not None
    ours, naive = curve(chart, "plan"), curve(chart, "naive")
    everyone = api["kpis"]["affected_population"]
    assert everyone == 2200
    # Both start with nobody back and end at everyone without power now: the last x is when the last area is back.
    assert ours[0] == naive[0] == (0, 0)
    assert ours[-1][1] == naive[-1][1] == everyone
    # (Dunmore is in repair: the report and the API are planned a moment apart, with a moment less left.)
    assert ours[-1][0] == pytest.approx(api["kpis"]["t100_hours"], abs=HOURS_APART)
    assert naive[-1][0] == pytest.approx(max(a["etr_hours"] for a in api["naive_etr_by_area"] if a["population"]),
                                         abs=HOURS_APART)
    # The steps are the API's areas and ETRs, the same data the map's plan panel draws.
    assert flat(jumps(ours)) == pytest.approx(flat(by_hour(api["etr_by_area"])), abs=HOURS_APART)
    assert flat(jumps(naive)) == pytest.approx(flat(by_hour(api["naive_etr_by_area"])), abs=HOURS_APART)
    # The area above each curve is its people-hours without power: the engine's figure, and ours by hand.
    area_above = {name: sum(people * hours for hours, people in jumps(points).items())
                  for name, points in (("plan", ours), ("naive", naive))}
    assert area_above["plan"] == pytest.approx(api["quality"]["phu"], rel=1e-3) \
        == pytest.approx(BY_HAND[crews][0], rel=1e-3)
    assert area_above["naive"] == pytest.approx(api["quality"]["naive_phu"], rel=1e-3) \
        == pytest.approx(BY_HAND[crews][1], rel=1e-3)
    # No critical sites or bumps here, so plain people-hours are what the plan minimises: never worse than naive.
    # (Not point by point: with 1 crew the naive curve is the higher one between hours 4 and 5.)
    assert area_above["plan"] <= area_above["naive"] + 1e-6


@pytest.mark.parametrize("crews", [1, 3])
def test_the_charts_caption_gives_the_plan_apis_people_hours_and_lower_bound(sitrep, crews):
    quality = sitrep["coord"].get(f"/api/plan?crews={crews}").json["quality"]
    apart_hours = (time.monotonic() - sitrep["page_asked"]) / 3600  # at most this between the two clock reads
    caption = figure(sitrep, crews).find("figcaption")
    shown = {strong.get("class"): strong.text for strong in caption.iter("strong")}
    assert set(shown) == {"phu", "naive-phu", "lower-bound"}
    assert all(re.fullmatch(r"\d{1,3}(,\d{3})*", text) for text in shown.values()), shown  # whole, with separators
    # Dunmore is in repair, so its remaining hours (and the wait of everyone behind it) shrink as time goes on:
    # between the page's clock and the API's each person's ETR moves by at most the time between them, so each
    # figure by at most everyone's people (GRID's, 7,600) times that time, plus the two roundings to whole ones.
    people = sum(p for _, _, p in GRID.values())
    for name, key in (("phu", "phu"), ("naive-phu", "naive_phu"), ("lower-bound", "phu_lower_bound")):
        assert abs(int(shown[name].replace(",", "")) - quality[key]) <= people * apart_hours + 1, (name, shown, quality)
    assert f"With {crews} crew{'s' if crews > 1 else ''}, people-hours without power" in "".join(caption.itertext())


@pytest.mark.parametrize("crews", [1, 3])
def test_the_curves_lie_inside_the_axes_with_hours_people_and_a_legend(sitrep, crews):
    chart = figure(sitrep, crews)
    svg = chart.find("svg")
    axis = re.fullmatch(r"M([\d.]+),([\d.]+) V([\d.]+) H([\d.]+)", svg.find("path[@class='axis']").get("d"))
    assert axis
    left, top, bottom, right = (float(v) for v in axis.groups())
    transform = re.fullmatch(r"translate\(([\d.]+) ([\d.]+)\) scale\(([\d.e-]+) (-[\d.e-]+)\)",
                             svg.find("g[@class='curves']").get("transform"))
    assert transform
    dx, dy, sx, sy = (float(v) for v in transform.groups())
    assert (dx, dy) == (left, bottom)  # hour 0, nobody: the axes' corner
    for name in ("plan", "naive"):
        for hours, people in curve(chart, name):
            assert left - 1e-6 <= dx + sx * hours <= right + 1e-6 and top - 1e-6 <= dy + sy * people <= bottom + 1e-6
    # The last tick of each axis is at its end and at least the largest value drawn.
    x_ticks = [(float(t.get("x")), t.text) for t in svg.findall("g[@class='ticks x-ticks']/text")]
    y_ticks = [(float(t.get("y")), t.text) for t in svg.findall("g[@class='ticks y-ticks']/text")]
    assert x_ticks[0][1] == "0" and x_ticks[-2][0] == pytest.approx(right) and x_ticks[-1][1] == "hours from now"
    assert float(x_ticks[-2][1]) >= max(curve(chart, "plan")[-1][0], curve(chart, "naive")[-1][0])
    assert y_ticks[0][1] == "0" and int(y_ticks[-1][1].replace(",", "")) >= 2200
    assert y_ticks[-1][0] - 4 == pytest.approx(top)
    assert [t.text for t in svg.findall("g[@class='legend']/text")] == ["plan", "naive order (by population served)"]


def test_the_report_needs_no_script_and_no_inline_style(sitrep):
    """It prints as served and passes the strict CSP (style-src 'self'): colours are SVG attributes."""
    html = sitrep["html"]
    assert "<script" not in html and " style=" not in html and "<style" not in html
    assert html.count('<figure class="restoration"') == 2


def test_each_chart_stays_with_its_heading_when_printed(live_server, page, demo_loaded, tokens, db):
    from tests.conftest import login
    from tests.test_case_page import open_case_at

    facility = db.execute("SELECT f.id, ST_X(ST_PointOnSurface(f.geom)) AS lon, ST_Y(ST_PointOnSurface(f.geom)) AS lat "
                          "FROM facility f JOIN facility_population_latest p ON p.facility_id = f.id "
                          "WHERE p.population > 0 ORDER BY f.id DESC LIMIT 1").fetchone()
    open_case_at(demo_loaded, tokens, lon=facility["lon"], lat=facility["lat"], facility_id=facility["id"])
    login(page, live_server, "coordinator")
    page.goto(f"{live_server}/sitrep")
    page.emulate_media(media="print")
    figures = page.locator("figure.restoration")
    assert figures.count() == 2  # one chart per crew count
    styles = figures.evaluate_all("""fs => fs.map(f => {
        const h = f.querySelector('h3'), fig = getComputedStyle(f), head = getComputedStyle(h);
        return {heading: h.textContent.trim(), first: f.firstElementChild === h, inside: fig.breakInside,
                after: head.breakAfter, svgAfterHeading: h.nextElementSibling.tagName.toLowerCase()};
    })""")
    assert styles == [{"heading": "With 1 crew", "first": True, "inside": "avoid", "after": "avoid",
                       "svgAfterHeading": "svg"},
                      {"heading": "With 3 crews", "first": True, "inside": "avoid", "after": "avoid",
                       "svgAfterHeading": "svg"}]
    # The section's own heading and its paragraph are not left at the foot of a page either; the top bar is not
    # printed.
    section = page.locator("h2.keep-with-next").evaluate("h => getComputedStyle(h).breakAfter")
    assert section == "avoid" and page.locator(".topbar").is_hidden()
    page.emulate_media(media="screen")
    assert figures.first.evaluate("f => getComputedStyle(f).breakInside") == "auto"
    assert page.js_errors == []
