"""Where a field report is: the phone's GPS and its accuracy, a pin on the small map, the nearest facilities.

Browser tests drive Debian's Chromium with an emulated GPS (the browser context's geolocation); the API tests use
the Flask test client with the crew's token. Positions are next to demo substations (County Dublin) that no other
test reports on, or at spots of their own far out at sea, so that the shared session database's other rows do not
matter.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import api_client

TIMEOUT_MS = 8000
EARTH_RADIUS_M = 6371008.8  # the mean radius (IUGG), as app/static/field/geo.js uses

# Leaflet is a classic script and location.js keeps its map to itself: this hook (Leaflet's public addInitHook,
# installed the moment leaflet.js assigns window.L) hands the test every map the page makes, as window.__testMaps.
HOOK_LEAFLET = """(() => {
  let real;
  Object.defineProperty(window, "L", {
    configurable: true, enumerable: true,
    get() { return real; },
    set(value) {
      real = value;
      if (value && value.Map && !value.Map.__testHooked) {
        value.Map.__testHooked = true;
        value.Map.addInitHook(function () { (window.__testMaps = window.__testMaps || []).push(this); });
      }
    },
  });
})();"""


# The map's padding box in the viewport (Leaflet's container points start at its top-left corner).
MAP_BOX = """e => { const r = e.getBoundingClientRect();
    return {x: r.left + e.clientLeft, y: r.top + e.clientTop, w: e.clientWidth, h: e.clientHeight}; }"""


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def offset(lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    """A point some metres east and north of another (flat-earth step, fine over a few hundred metres)."""
    dlat = math.degrees(north_m / EARTH_RADIUS_M)
    dlon = math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat))))
    return lon + dlon, lat + dlat


def demo_facility(db, name: str) -> dict:
    row = db.execute("""SELECT id, name, kind::text AS kind, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM facility
                        WHERE name = %s AND GeometryType(geom) = 'POINT' ORDER BY id LIMIT 1""", (name,)).fetchone()
    assert row is not None, f"demo facility {name} is missing"
    return row


def ranked(db, lon: float, lat: float, limit: int) -> list[dict]:
    """Every facility's distance on the ground (ST_Distance on geography, the spheroid), nearest first."""
    return db.execute(
        """SELECT id, name, ST_Distance(geom::geography, ST_Point(%(lon)s, %(lat)s, 4326)::geography) AS d
           FROM facility ORDER BY d, id LIMIT %(limit)s""", {"lon": lon, "lat": lat, "limit": limit}).fetchall()


def shown_distance(m: float) -> str:
    """The distance as the form writes it in English (formatDistance in page.js)."""
    if m < 1000:
        return f"{math.floor(m + 0.5)} m"
    return f"{m / 1000:.1f}".removesuffix(".0") + " km"


def stored(db, report_id: str) -> dict | None:
    return db.execute("SELECT * FROM report_view WHERE id = %s", (report_id,)).fetchone()


# ---- Browser ---------------------------------------------------------------------------------------------------


@pytest.fixture()
def field(open_field) -> Callable:
    """Open the form as a signed-in crew member, the phone's GPS at `at` (lon, lat) with `accuracy` metres."""

    def open_form(at: tuple[float, float] | None, accuracy: float = 12):
        gps = {"geolocation": {"longitude": at[0], "latitude": at[1], "accuracy": accuracy},
               "permissions": ["geolocation"]} if at else {}  # no GPS: the permission is not granted
        return open_field(init_script=HOOK_LEAFLET, timeout_ms=TIMEOUT_MS, locale="en-GB", **gps)

    return open_form


def fill_damage(page, notes: str) -> None:
    page.select_option("#kind", "substation")
    page.check("input[name=severity][value=moderate]")
    page.check("input[name=status][value=degraded]")
    page.fill("#notes", notes)


def submit_and_wait_sent(page) -> str:
    """Submit the form, wait until the outbox has sent the new report; its id."""
    before = set(page.eval_on_selector_all("#outbox-list li[data-id]", "els => els.map(e => e.dataset.id)"))
    page.click("#submit-report")
    page.wait_for_function("n => document.querySelectorAll('#outbox-list li[data-id]').length > n",
                           arg=len(before))
    after = page.eval_on_selector_all("#outbox-list li[data-id]", "els => els.map(e => e.dataset.id)")
    (new,) = set(after) - before
    page.wait_for_selector(f"#outbox-list li[data-id='{new}'][data-state=sent]")
    return new


def accuracy_circles(page) -> list[float]:
    """The radii of the GPS accuracy circles on the pin map (non-interactive L.Circle layers)."""
    return page.evaluate("""() => {
        const radii = [];
        window.__testMaps[0].eachLayer((l) => { if (l instanceof L.Circle) radii.push(l.getRadius()); });
        return radii;
    }""")


@pytest.mark.browser
def test_gps_accuracy_is_shown_and_poor_accuracy_warns_but_the_report_is_still_sent(field, db):
    dunsink = demo_facility(db, "Dunsink")
    at = offset(dunsink["lon"], dunsink["lat"], 60, -40)
    context, page = field(at, 12)

    page.wait_for_selector("#gps-status[data-state=good]")
    assert page.inner_text("#gps-status") == "GPS: ± 12 m"
    assert accuracy_circles(page) == [12]

    # The same phone, under a roof: the fix gets worse while the form is open.
    context.set_geolocation({"longitude": at[0], "latitude": at[1], "accuracy": 80})
    page.wait_for_selector("#gps-status[data-state=poor]")
    assert page.inner_text("#gps-status").startswith("GPS accuracy is poor (± 80 m)")
    assert accuracy_circles(page) == [80]

    notes = f"poor gps {uuid.uuid4()}"
    fill_damage(page, notes)
    report_id = submit_and_wait_sent(page)
    row = stored(db, report_id)
    assert row["notes"] == notes and row["accuracy_m"] == 80
    assert row["lon"] == pytest.approx(at[0], abs=1e-9) and row["lat"] == pytest.approx(at[1], abs=1e-9)

    # The warning is for worse than 50 m: exactly 50 m is still good, and the warning goes once the fix is good.
    context.set_geolocation({"longitude": at[0], "latitude": at[1], "accuracy": 50})
    page.wait_for_selector("#gps-status[data-state=good]")
    assert page.inner_text("#gps-status") == "GPS: ± 50 m"
    assert page.js_errors == []


@pytest.mark.browser
def test_pin_set_on_the_map_is_the_reports_location(field, db):
    kimmage = demo_facility(db, "Kimmage")
    gps = offset(kimmage["lon"], kimmage["lat"], -30, 20)
    context, page = field(gps, 12)
    page.wait_for_selector("#gps-status[data-state=good]")
    page.wait_for_selector("#facility-list[data-source=server]")  # facilities drawn, map framed on the GPS fix
    assert page.evaluate("(window.__testMaps || []).length") == 1

    box = page.eval_on_selector("#pin-map", MAP_BOX)
    point = {"x": round(box["w"] / 2) + 80, "y": round(box["h"] / 2) - 60}  # away from the GPS dot and controls
    page.click("#pin-map", position=point)
    page.wait_for_selector("#loc-summary >> text=Pin set on the map")
    pin = page.evaluate("""([x, y]) => {
        const map = window.__testMaps[0];
        const pins = [];
        map.eachLayer((l) => { if (l instanceof L.Marker) pins.push(l.getLatLng()); });
        const clicked = map.containerPointToLatLng([x, y]);
        const at = map.latLngToContainerPoint(pins[0]);
        return { pins: pins.length, lat: pins[0].lat, lon: pins[0].lng, x: at.x, y: at.y,
                 clickedLat: clicked.lat, clickedLon: clicked.lng, zoom: map.getZoom() };
    }""", [point["x"], point["y"]])
    assert pin["pins"] == 1
    assert pin["zoom"] == 16  # framed on the GPS fix
    # The pin is where the map was clicked (to the pixel), not at the GPS position.
    assert abs(pin["x"] - point["x"]) <= 1 and abs(pin["y"] - point["y"]) <= 1
    assert pin["lon"] == pytest.approx(pin["clickedLon"], abs=3e-5)
    assert pin["lat"] == pytest.approx(pin["clickedLat"], abs=3e-5)
    assert haversine_m(pin["lon"], pin["lat"], *gps) > 100
    assert f"{pin['lat']:.5f}, {pin['lon']:.5f}" in page.inner_text("#loc-summary")

    # The pin can be dragged too: drag it 50 px left and 30 px down (grabbed by the middle of its 32 px icon).
    box = page.eval_on_selector("#pin-map", MAP_BOX)  # where the map is in the viewport now
    page.mouse.move(box["x"] + point["x"], box["y"] + point["y"] - 16)
    page.mouse.down()
    page.mouse.move(box["x"] + point["x"] - 50, box["y"] + point["y"] + 14, steps=6)
    page.mouse.up()
    moved = f"{pin['lat']:.5f}, {pin['lon']:.5f}"
    page.wait_for_function("old => !document.getElementById('loc-summary').textContent.includes(old)", arg=moved)
    pin = page.evaluate("""() => {
        const map = window.__testMaps[0];
        const pins = [];
        map.eachLayer((l) => { if (l instanceof L.Marker) pins.push(l.getLatLng()); });
        const at = map.latLngToContainerPoint(pins[0]);
        return { pins: pins.length, lat: pins[0].lat, lon: pins[0].lng, x: at.x, y: at.y };
    }""")
    assert pin["pins"] == 1
    assert abs(pin["x"] - (point["x"] - 50)) <= 1 and abs(pin["y"] - (point["y"] + 30)) <= 1
    assert f"{pin['lat']:.5f}, {pin['lon']:.5f}" in page.inner_text("#loc-summary")

    notes = f"pinned {uuid.uuid4()}"
    fill_damage(page, notes)
    report_id = submit_and_wait_sent(page)
    row = stored(db, report_id)
    assert row["notes"] == notes
    assert row["lon"] == pytest.approx(pin["lon"], abs=1e-9) and row["lat"] == pytest.approx(pin["lat"], abs=1e-9)
    assert row["accuracy_m"] is None  # a pin set by hand has no GPS accuracy

    # The pin stays for the next report; the "GPS" button takes the location back to the GPS fix.
    assert "Pin set on the map" in page.inner_text("#loc-summary")
    page.click("#clear-pin")
    assert "Pin set on the map" not in page.inner_text("#loc-summary")
    assert f"{gps[1]:.5f}, {gps[0]:.5f}" in page.inner_text("#loc-summary")
    assert page.js_errors == []


@pytest.mark.browser
def test_picked_facility_from_the_nearest_list_is_stored_and_the_report_joins_its_case(field, db):
    glasnevin = demo_facility(db, "Glasnevin")
    at = offset(glasnevin["lon"], glasnevin["lat"], 35, 25)
    context, page = field(at, 12)
    page.wait_for_selector("#gps-status[data-state=good]")
    page.wait_for_selector("#facility-list[data-source=server][data-count='5']")

    shown = page.eval_on_selector_all("#facility-list label.facility", """els => els.map(e => ({
        id: e.querySelector('input').value, name: e.querySelector('.facility-name').textContent,
        detail: e.querySelector('.facility-detail').textContent}))""")
    expected = ranked(db, *at, 5)
    assert [int(f["id"]) for f in shown] == [r["id"] for r in expected]
    assert shown[0]["name"] == "Glasnevin"
    assert [f["detail"] for f in shown] == [f"Substation · {shown_distance(r['d'])}" for r in expected]

    # Not the nearest one (which a report here would be matched to anyway), but the second.
    chosen = expected[1]
    assert chosen["d"] > 250  # beyond MATCH_DISTANCE_M: only the crew's choice can tie the report to it
    page.check(f"#facility-list input[value='{chosen['id']}']")
    assert f"Facility: {chosen['name']}" in page.inner_text("#loc-summary")
    assert page.input_value("#kind") == "substation"  # taken from the facility

    notes = f"picked facility {uuid.uuid4()}"
    fill_damage(page, notes)
    report_id = submit_and_wait_sent(page)
    row = stored(db, report_id)
    assert row["notes"] == notes and row["facility_id"] == chosen["id"]
    assert row["lon"] == pytest.approx(at[0], abs=1e-9) and row["lat"] == pytest.approx(at[1], abs=1e-9)
    case = db.execute("SELECT facility_id FROM damage_case WHERE id = %s", (row["case_id"],)).fetchone()
    assert case["facility_id"] == chosen["id"]
    item = page.query_selector(f"#outbox-list li[data-id='{report_id}']")
    assert item.get_attribute("data-case-id") == str(row["case_id"])
    assert page.js_errors == []


@pytest.mark.browser
def test_without_gps_a_facility_tapped_on_the_map_gives_the_location(field, db):
    ballyboden = demo_facility(db, "Ballyboden")
    context, page = field(None)
    page.wait_for_selector("#gps-status[data-state=error]")
    page.wait_for_selector("#loc-summary[data-ready=false]", state="attached")
    # Nothing to search from yet: the nearest list needs a position first.
    page.click("#find-nearest")
    assert page.inner_text("#form-status").startswith("Set the location")

    page.wait_for_function("() => document.querySelectorAll('#pin-map path.leaflet-interactive').length > 5")
    spot = page.evaluate("""([lat, lon]) => {
        const map = window.__testMaps[0];
        map.setView([lat, lon], 17, { animate: false });
        return map.latLngToContainerPoint([lat, lon]);
    }""", [ballyboden["lat"], ballyboden["lon"]])
    page.click("#pin-map", position={"x": spot["x"], "y": spot["y"]})
    page.wait_for_selector("#loc-summary[data-ready=true]")
    summary = page.inner_text("#loc-summary")
    assert summary.startswith("Facility: Ballyboden") and "Pin set" not in summary
    assert page.is_checked(f"#facility-list input[value='{ballyboden['id']}']")
    assert page.input_value("#kind") == "substation"

    notes = f"tapped facility {uuid.uuid4()}"
    fill_damage(page, notes)
    report_id = submit_and_wait_sent(page)
    row = stored(db, report_id)
    assert row["notes"] == notes and row["facility_id"] == ballyboden["id"] and row["accuracy_m"] is None
    # The facility's position as the registry (GeoJSON with 6 decimals, ~0.1 m) gives it to the phone.
    assert row["lon"] == round(ballyboden["lon"], 6) and row["lat"] == round(ballyboden["lat"], 6)
    case = db.execute("SELECT facility_id FROM damage_case WHERE id = %s", (row["case_id"],)).fetchone()
    assert case["facility_id"] == ballyboden["id"]
    assert page.js_errors == []


# ---- The nearest-facilities API ----------------------------------------------------------------------------------


@pytest.fixture()
def crew_api(demo_loaded, tokens):
    return api_client(demo_loaded, tokens["crew"])


@pytest.fixture()
def sea_facilities(db) -> Iterator:
    """Make facilities of this test's own at sea (far from every other row), removed afterwards."""
    made: list[int] = []

    def make(points: list[tuple[float, float]]) -> list[int]:
        ids = []
        for lon, lat in points:
            name = f"Sea test {uuid.uuid4().hex[:10]}"
            row = db.execute("""INSERT INTO facility (external_id, name, kind, geom)
                                VALUES (%s, %s, 'substation', ST_Point(%s, %s, 4326)) RETURNING id""",
                             (f"test-{name}", name, lon, lat)).fetchone()
            ids.append(row["id"])
        made.extend(ids)
        return ids

    yield make
    if made:
        db.execute("DELETE FROM facility WHERE id = ANY(%s)", (made,))


def project(db, lon: float, lat: float, metres: float, azimuth_deg: float) -> tuple[float, float]:
    """The point `metres` away on the ground (the spheroid) in the direction `azimuth_deg` (0 north, 90 east)."""
    row = db.execute("""SELECT ST_X(p::geometry) AS lon, ST_Y(p::geometry) AS lat
                        FROM ST_Project(ST_Point(%s, %s, 4326)::geography, %s, radians(%s)) AS p""",
                     (lon, lat, metres, azimuth_deg)).fetchone()
    return row["lon"], row["lat"]


@pytest.mark.parametrize("name", ["Glasnevin", "Dunsink", "Kimmage", "Balbriggan"])
def test_nearest_matches_an_independent_ranking_of_every_facility(crew_api, db, name):
    facility = demo_facility(db, name)
    lon, lat = offset(facility["lon"], facility["lat"], 120, -70)
    response = crew_api.get("/api/facilities/nearest", query_string={"lon": lon, "lat": lat, "limit": 8})
    assert response.status_code == 200
    got = response.json["facilities"]
    expected = ranked(db, lon, lat, 8)
    assert [f["id"] for f in got] == [r["id"] for r in expected]
    assert [f["name"] for f in got] == [r["name"] for r in expected]
    assert got[0]["id"] == facility["id"]
    assert [f["distance_m"] for f in got] == [round(r["d"], 1) for r in expected]
    distances = [f["distance_m"] for f in got]
    assert distances == sorted(distances)
    # And against plain haversine on the sphere (the spheroid differs by well under 0.5 %).
    points = {r["id"]: r for r in db.execute("SELECT id, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM facility "
                                             "WHERE id = ANY(%s)", ([f["id"] for f in got],)).fetchall()}
    for f in got:
        p = points[f["id"]]
        assert f["distance_m"] == pytest.approx(haversine_m(lon, lat, p["lon"], p["lat"]), rel=5e-3, abs=0.5)
    assert set(got[0]) == {"id", "name", "kind", "distance_m"}


def test_nearest_at_sea_orders_own_facilities_and_honours_limit(crew_api, db, sea_facilities):
    here = (-31.25, 47.5)  # mid-Atlantic: nothing else within hundreds of kilometres
    spots = [project(db, *here, metres, azimuth) for metres, azimuth in
             [(2500, 200), (120, 10), (900, 300), (40, 135), (5000, 80), (450, 250)]]
    ids = sea_facilities(spots)
    by_distance = [ids[i] for i in (3, 1, 5, 2, 0, 4)]

    for limit in (1, 3, 6):
        got = crew_api.get("/api/facilities/nearest",
                           query_string={"lon": here[0], "lat": here[1], "limit": limit}).json["facilities"]
        assert [f["id"] for f in got] == by_distance[:limit]
        assert [f["distance_m"] for f in got] == pytest.approx([40, 120, 450, 900, 2500, 5000][:limit], abs=0.1)

    default = crew_api.get("/api/facilities/nearest", query_string={"lon": here[0], "lat": here[1]}).json
    assert [f["id"] for f in default["facilities"]] == by_distance[:5]  # 5 when no limit is given
    most = crew_api.get("/api/facilities/nearest",
                        query_string={"lon": here[0], "lat": here[1], "limit": 50}).json["facilities"]
    assert len(most) == 50 and [f["id"] for f in most[:6]] == by_distance


def test_nearest_order_agrees_with_the_distances_it_reports(crew_api, db, sea_facilities):
    here = (-33.5, 53.3)  # mid-Atlantic, at Dublin's latitude
    east, north = sea_facilities([project(db, *here, 1000, 90), project(db, *here, 999, 0)])
    got = crew_api.get("/api/facilities/nearest",
                       query_string={"lon": here[0], "lat": here[1], "limit": 2}).json["facilities"]
    assert {f["id"]: f["distance_m"] for f in got} == {east: 1000.0, north: 999.0}
    assert [f["id"] for f in got] == [north, east]


@pytest.mark.parametrize(("query", "name"), [
    ({"lat": 53.3}, "lon"),
    ({"lon": "", "lat": 53.3}, "lon"),
    ({"lon": -6.3}, "lat"),
    ({"lon": 181, "lat": 53.3}, "lon"),
    ({"lon": -180.5, "lat": 53.3}, "lon"),
    ({"lon": "west", "lat": 53.3}, "lon"),
    ({"lon": "nan", "lat": 53.3}, "lon"),
    ({"lon": -6.3, "lat": 90.01}, "lat"),
    ({"lon": -6.3, "lat": "-inf"}, "lat"),
    ({"lon": -6.3, "lat": "53,3"}, "lat"),
    ({"lon": -6.3, "lat": 53.3, "limit": 0}, "limit"),
    ({"lon": -6.3, "lat": 53.3, "limit": 51}, "limit"),
    ({"lon": -6.3, "lat": 53.3, "limit": "2.5"}, "limit"),
])
def test_bad_nearest_query_is_400_naming_the_parameter(crew_api, query, name):
    response = crew_api.get("/api/facilities/nearest", query_string=query)
    assert response.status_code == 400
    assert set(response.json["errors"]) == {name}


def test_nearest_accepts_the_edges_of_the_world(crew_api):
    for lon, lat in [(-180, -90), (180, 90), (0, 0)]:
        response = crew_api.get("/api/facilities/nearest", query_string={"lon": lon, "lat": lat, "limit": 1})
        assert response.status_code == 200 and len(response.json["facilities"]) == 1


def test_nearest_needs_a_signed_in_crew(demo_loaded):
    response = api_client(demo_loaded, None).get("/api/facilities/nearest", query_string={"lon": 0, "lat": 0})
    assert response.status_code == 401
