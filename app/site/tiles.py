"""The offline base map: raster tiles read from the MBTiles or PMTiles file the operator names in BASEMAP_FILE.

MBTiles is a SQLite file (tiles, metadata), read here with sqlite3 read-only; it is a tile container the operator
provides, not the application's database. PMTiles is read with the `pmtiles` package. Files are opened per request
(cheap: a header or one indexed row), so a file replaced in place is served at once.
"""

from __future__ import annotations

import gzip
import logging
import math
import mmap
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app, url_for
from pmtiles.reader import Reader
from pmtiles.tile import Compression, MagicNumberNotFound, SpecVersionUnsupported, TileType

from app.config import ConfigError

logger = logging.getLogger(__name__)

# The raster formats a browser draws as an <img>, by their MBTiles `format` name.
MIMETYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}
MERCATOR_LAT = 85.0511  # the Web-Mercator world's edge, in degrees of latitude
PMTILES_FORMATS = {TileType.PNG: "png", TileType.JPEG: "jpg", TileType.WEBP: "webp"}


class BasemapError(ValueError):
    """The base-map file cannot be served: missing, not MBTiles or PMTiles, or not raster tiles."""


@dataclass(frozen=True)
class Basemap:
    """What the map needs to know of a base-map file: its raster format, zoom range, area and attribution."""

    path: Path
    container: str  # "mbtiles" or "pmtiles"
    format: str  # a key of MIMETYPES
    min_zoom: int
    max_zoom: int
    bounds: tuple[float, float, float, float] | None  # west, south, east, north (degrees)
    attribution: str


def _mbtiles(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def _describe_mbtiles(path: Path) -> Basemap:
    try:
        with _mbtiles(path) as conn:
            meta = dict(conn.execute("SELECT name, value FROM metadata").fetchall())
            low, high = conn.execute("SELECT min(zoom_level), max(zoom_level) FROM tiles").fetchone()
    except sqlite3.DatabaseError as e:
        raise BasemapError(f"{path}: not a readable MBTiles file ({e})") from e
    fmt = str(meta.get("format", "png")).lower().replace("jpeg", "jpg")
    if fmt not in MIMETYPES:
        raise BasemapError(f"{path}: tiles of format {fmt!r}; only raster tiles ({', '.join(MIMETYPES)}) are served")
    bounds = None
    if meta.get("bounds"):
        try:
            west, south, east, north = (float(v) for v in str(meta["bounds"]).split(","))
            bounds = (west, south, east, north)
        except ValueError as e:
            raise BasemapError(f"{path}: metadata bounds {meta['bounds']!r} are not west,south,east,north") from e
    return Basemap(path, "mbtiles", fmt, int(meta.get("minzoom", low if low is not None else 0)),
                   int(meta.get("maxzoom", high if high is not None else 0)), bounds,
                   str(meta.get("attribution", "")))


@contextmanager
def _pmtiles(path: Path) -> Iterator[Reader]:
    """A reader of a PMTiles file, mapped into memory (only the bytes asked for are read)."""
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        yield Reader(lambda offset, length: data[offset:offset + length])  # type: ignore[no-untyped-call]


def _describe_pmtiles(path: Path) -> Basemap:
    with _pmtiles(path) as reader:
        try:
            header = reader.header()  # type: ignore[no-untyped-call]
            meta = reader.metadata()  # type: ignore[no-untyped-call]
        except (MagicNumberNotFound, SpecVersionUnsupported, ValueError) as e:
            raise BasemapError(f"{path}: not a readable PMTiles version 3 file") from e
    fmt = PMTILES_FORMATS.get(header["tile_type"])
    if fmt is None:
        raise BasemapError(f"{path}: tiles of type {header['tile_type'].name}; only raster tiles "
                           f"({', '.join(MIMETYPES)}) are served")
    west, south, east, north = (header[k] / 1e7 for k in ("min_lon_e7", "min_lat_e7", "max_lon_e7", "max_lat_e7"))
    south, north = max(south, -MERCATOR_LAT), min(north, MERCATOR_LAT)  # the writers' default is ±90°
    return Basemap(path, "pmtiles", fmt, int(header["min_zoom"]), int(header["max_zoom"]),
                   (west, south, east, north) if east > west and north > south else None,
                   str(meta.get("attribution", "")) if isinstance(meta, dict) else "")


def describe(path: str | Path) -> Basemap:
    """The base map in an MBTiles or PMTiles file (told apart by their first bytes), or BasemapError."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            magic = f.read(16)
    except OSError as e:
        raise BasemapError(f"{path}: cannot be read ({e.strerror})") from e
    if magic.startswith(b"PMTiles"):
        return _describe_pmtiles(path)
    if magic.startswith(b"SQLite format 3"):
        return _describe_mbtiles(path)
    raise BasemapError(f"{path}: neither an MBTiles nor a PMTiles file")


def read_tile(basemap: Basemap, z: int, x: int, y: int) -> bytes | None:
    """The tile z/x/y (XYZ numbering, y from the north) of the file, or None when it has none there."""
    if basemap.container == "pmtiles":
        with _pmtiles(basemap.path) as reader:
            tile = reader.get(z, x, y)  # type: ignore[no-untyped-call]
            if tile is not None and reader.header()["tile_compression"] == Compression.GZIP:  # type: ignore[no-untyped-call]
                tile = gzip.decompress(tile)
        return None if tile is None else bytes(tile)
    with _mbtiles(basemap.path) as conn:  # MBTiles numbers rows from the south (TMS)
        row = conn.execute("SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                           (z, x, (1 << z) - 1 - y)).fetchone()
    return None if row is None else bytes(row[0])


MAX_AREA_TILES = 20_000  # what a phone may be asked to keep in one go (~ a district at zoom 16)


def tile_range(bbox: tuple[float, float, float, float], z: int) -> tuple[int, int, int, int]:
    """The XYZ tiles at zoom z covering a lon/lat bbox: x from, x to, y from, y to (inclusive)."""
    def xy(lon: float, lat: float) -> tuple[int, int]:
        lat = max(-MERCATOR_LAT, min(MERCATOR_LAT, lat))
        n = 1 << z
        x = int((lon + 180.0) / 360.0 * n)
        y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
        return min(max(x, 0), n - 1), min(max(y, 0), n - 1)

    west, south, east, north = bbox
    x0, y0 = xy(west, north)
    x1, y1 = xy(east, south)
    return x0, x1, y0, y1


def area_tiles(basemap: Basemap, bbox: tuple[float, float, float, float], *, min_zoom: int,
               max_zoom: int) -> list[tuple[int, int, int, int]]:
    """The tiles the file holds over a bbox and zoom range, as (z, x, y, bytes), XYZ numbering."""
    found: list[tuple[int, int, int, int]] = []
    if basemap.container == "mbtiles":
        with _mbtiles(basemap.path) as conn:
            for z in range(min_zoom, max_zoom + 1):
                x0, x1, y0, y1 = tile_range(bbox, z)
                flip = (1 << z) - 1
                rows = conn.execute("""SELECT tile_column, tile_row, length(tile_data) FROM tiles
                                       WHERE zoom_level = ? AND tile_column BETWEEN ? AND ?
                                         AND tile_row BETWEEN ? AND ?""", (z, x0, x1, flip - y1, flip - y0))
                found += [(z, int(x), flip - int(row), int(size)) for x, row, size in rows]
        return sorted(found)
    with _pmtiles(basemap.path) as reader:
        for z in range(min_zoom, max_zoom + 1):
            x0, x1, y0, y1 = tile_range(bbox, z)
            for x in range(x0, x1 + 1):
                for y in range(y0, y1 + 1):
                    tile = reader.get(z, x, y)  # type: ignore[no-untyped-call]
                    if tile is not None:
                        found.append((z, x, y, len(tile)))
    return found


def tile_count(bbox: tuple[float, float, float, float], *, min_zoom: int, max_zoom: int) -> int:
    """How many tile positions the bbox covers over the zoom range (held by the file or not)."""
    total = 0
    for z in range(min_zoom, max_zoom + 1):
        x0, x1, y0, y1 = tile_range(bbox, z)
        total += (x1 - x0 + 1) * (y1 - y0 + 1)
    return total


def configured() -> Basemap | None:
    """The app's base-map file (BASEMAP_FILE), or None when it names none or (logged) it cannot be read any more:
    the app checks it at start (check_config), so this is a file removed or broken since."""
    path = current_app.config.get("BASEMAP_FILE")
    if not path:
        return None
    try:
        return describe(path)
    except BasemapError as e:
        logger.error("FLASK_BASEMAP_FILE: %s", e)
        return None


def check_config(config: Mapping[str, Any]) -> None:
    """At start: a BASEMAP_FILE that cannot be served is a ConfigError naming the file and why."""
    if config.get("BASEMAP_FILE"):
        try:
            describe(config["BASEMAP_FILE"])
        except BasemapError as e:
            raise ConfigError(f"FLASK_BASEMAP_FILE: {e}") from e


def base_map_settings() -> dict[str, Any]:
    """What a page's map draws under its own layers: the served file when BASEMAP_FILE is set, else TILE_URL's
    tiles, else nothing (url empty). For Leaflet's tileLayer: url template, attribution, native zoom range, bounds."""
    basemap = configured()
    if basemap is None:
        return {"url": current_app.config["TILE_URL"], "attribution": current_app.config["TILE_ATTRIBUTION"],
                "offline": False}
    # url_for cannot write the {z}/{x}/{y} placeholders: build one tile's address and replace its numbers.
    one = url_for("site.tile", z=0, x=0, y=0, fmt=basemap.format)
    return {"url": one.removesuffix(f"/0/0/0.{basemap.format}") + "/{z}/{x}/{y}." + basemap.format,
            "attribution": basemap.attribution or current_app.config["TILE_ATTRIBUTION"], "offline": True,
            "minNativeZoom": basemap.min_zoom, "maxNativeZoom": basemap.max_zoom,
            "bounds": basemap.bounds}
