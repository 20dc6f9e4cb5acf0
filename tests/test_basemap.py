"""The offline base map: raster tiles from the operator's MBTiles or PMTiles file (FLASK_BASEMAP_FILE) at
/tiles/{z}/{x}/{y}.{format}, for crews and coordinators, cached; the map page draws them in Chromium."""

from __future__ import annotations

import sqlite3
import struct
import zlib
from pathlib import Path

import pytest

from app.config import ConfigError
from app.site import tiles
from tests.conftest import api_client, login, make_app

MISSING = (2, 3, 3)  # a tile the fixtures leave out (the sea, say): 204


def png(rgb: tuple[int, int, int], size: int = 256) -> bytes:
    """A plain-colour PNG, written by hand (signature, IHDR, one IDAT, IEND)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def world(max_zoom: int = 2) -> dict[tuple[int, int, int], bytes]:
    """Every tile of zooms 0..max_zoom (XYZ numbering), each a colour of its own, but MISSING."""
    return {(z, x, y): png((40 * z, 10 * x % 256, 10 * y % 256)) for z in range(max_zoom + 1)
            for x in range(1 << z) for y in range(1 << z) if (z, x, y) != MISSING}


def write_mbtiles(path: Path, found: dict[tuple[int, int, int], bytes], fmt: str = "png") -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE metadata (name text, value text)")
        conn.execute("CREATE TABLE tiles (zoom_level integer, tile_column integer, tile_row integer, tile_data blob)")
        conn.executemany("INSERT INTO metadata VALUES (?, ?)", [
            ("name", "test"), ("format", fmt), ("minzoom", "0"), ("maxzoom", "2"),
            ("bounds", "-180,-85.0511,180,85.0511"), ("attribution", "© test tiles")])
        conn.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)",  # MBTiles rows count from the south
                         [(z, x, (1 << z) - 1 - y, data) for (z, x, y), data in found.items()])
    conn.close()
    return path


def write_pmtiles(path: Path, found: dict[tuple[int, int, int], bytes]) -> Path:
    from pmtiles.tile import Compression, TileType, zxy_to_tileid
    from pmtiles.writer import Writer

    with path.open("wb") as f:
        writer = Writer(f)
        for tile_id, data in sorted((zxy_to_tileid(*zxy), data) for zxy, data in found.items()):
            writer.write_tile(tile_id, data)
        writer.finalize({"tile_type": TileType.PNG, "tile_compression": Compression.NONE},
                        {"attribution": "© pm tiles"})
    return path


@pytest.fixture(params=["mbtiles", "pmtiles"])
def basemap(request, app, tmp_path, monkeypatch):
    """The session's app serving a base-map file of each kind (put back as it was afterwards)."""
    found = world()
    write = write_mbtiles if request.param == "mbtiles" else write_pmtiles
    path = write(tmp_path / f"base.{request.param}", found)
    monkeypatch.setitem(app.config, "BASEMAP_FILE", str(path))
    return found


def test_a_tile_of_the_file_is_served_as_an_image_with_cache_headers(basemap, app, tokens):
    client = api_client(app, tokens["crew"])
    response = client.get("/tiles/2/1/1.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.data == basemap[(2, 1, 1)] != basemap[(2, 1, 2)]  # y counts from the north, as in XYZ
    assert "private" in response.headers["Cache-Control"] and "max-age=86400" in response.headers["Cache-Control"]
    again = client.get("/tiles/2/1/1.png", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_a_tile_the_file_lacks_is_204_and_outside_the_file_or_the_world_404(basemap, app, tokens):
    client = api_client(app, tokens["crew"])
    z, x, y = MISSING
    missing = client.get(f"/tiles/{z}/{x}/{y}.png")
    assert missing.status_code == 204 and missing.data == b"" and "max-age" in missing.headers["Cache-Control"]
    for url in ("/tiles/3/0/0.png", "/tiles/1/2/0.png", "/tiles/1/0/2.png", "/tiles/0/0/0.jpg"):
        assert client.get(url).status_code == 404, url


def test_tiles_need_a_signed_in_crew_member_or_coordinator(basemap, app, tokens):
    assert api_client(app, tokens["coordinator"]).get("/tiles/0/0/0.png").status_code == 200
    response = app.test_client().get("/tiles/0/0/0.png")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_without_a_base_map_file_there_are_no_tiles_and_the_map_keeps_the_tile_url(app, tokens, monkeypatch):
    monkeypatch.setitem(app.config, "TILE_URL", "https://tile.example/{z}/{x}/{y}.png")
    assert api_client(app, tokens["crew"]).get("/tiles/0/0/0.png").status_code == 404
    with app.test_request_context():
        assert tiles.base_map_settings()["url"] == "https://tile.example/{z}/{x}/{y}.png"


def test_the_file_comes_before_the_tile_url_with_its_zoom_range_and_attribution(basemap, app, monkeypatch):
    monkeypatch.setitem(app.config, "TILE_URL", "https://tile.example/{z}/{x}/{y}.png")
    with app.test_request_context():
        settings = tiles.base_map_settings()
    assert settings["url"] == "/tiles/{z}/{x}/{y}.png" and settings["offline"] is True
    assert (settings["minNativeZoom"], settings["maxNativeZoom"]) == (0, 2)
    assert settings["attribution"] in ("© test tiles", "© pm tiles")


def test_a_file_that_cannot_be_served_stops_the_app_at_start(database_url, tmp_path):
    vector = write_mbtiles(tmp_path / "vector.mbtiles", {(0, 0, 0): b"\x1a\x00"}, fmt="pbf")
    text = tmp_path / "notes.txt"
    text.write_text("not tiles")
    for path, reason in [(vector, "only raster tiles"), (text, "neither an MBTiles nor a PMTiles"),
                         (tmp_path / "absent.mbtiles", "cannot be read")]:
        with pytest.raises(ConfigError, match=reason):
            make_app(database_url, BASEMAP_FILE=str(path))


@pytest.mark.browser
def test_the_map_draws_the_files_tiles_offline(basemap, live_server, page):
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url) if "/tiles/" in r.url else None)
    login(page, live_server, "coordinator")
    requested.clear()
    page.goto(live_server + "/map")
    page.wait_for_selector("#map[data-ready=true]")
    assert page.get_attribute("#map", "data-base-map") == "file"
    # Leaflet zooms the file's deepest tiles (zoom 2) up to the map's zoom: a loaded 256 px image from /tiles.
    page.wait_for_function("""() => [...document.querySelectorAll('img.leaflet-tile')].some(
        (img) => img.src.includes('/tiles/2/') && img.complete && img.naturalWidth === 256)""")
    assert requested and all("/tiles/2/" in url for url in requested)
    assert "© test tiles" in page.inner_text(".leaflet-control-attribution") or "© pm tiles" in page.inner_text(
        ".leaflet-control-attribution")
    assert page.js_errors == []
