"""Stations and their deputies: lookup by id, nearest by geohash index, public views."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from chalicelib.errors import NotFound
from chalicelib.stations import geo
from chalicelib.store.models import DeputyModel, StationModel

GEO_BUCKET_PRECISION = 3
SEARCH_PRECISIONS = (5, 4, 3)
STATION_CACHE_SECONDS = 300
DEPUTY_LEVELS = {
    "national": "全国人大代表",
    "provincial": "省人大代表",
    "city": "市人大代表",
    "district": "区人大代表",
    "township": "镇（街道）人大代表",
}

_cache: dict[tuple[str | None, str, str], tuple[float, StationModel]] = {}
_pool = ThreadPoolExecutor(max_workers=9, thread_name_prefix="geo")


def geo_fields(lat: float, lng: float) -> dict:
    """The geohash attributes a station item stores for the geo index."""
    full = geo.encode(lat, lng, 9)
    return {"geohash": full, "geo_bucket": full[:GEO_BUCKET_PRECISION]}


def get_station(station_id: str) -> StationModel:
    """A station by id (cached briefly per container: stations are reference data)."""
    key = (StationModel.Meta.host, StationModel.Meta.table_name, station_id)
    hit = _cache.get(key)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    try:
        station = StationModel.get(station_id)
    except StationModel.DoesNotExist:
        raise NotFound("联络站不存在", field="station_id", code="station_not_found") from None
    _cache[key] = (time.monotonic() + STATION_CACHE_SECONDS, station)
    return station


def _stations_in_cell(cell: str) -> list[StationModel]:
    bucket = cell[:GEO_BUCKET_PRECISION]
    condition = StationModel.geohash.startswith(cell) if len(cell) > len(bucket) else None
    return list(StationModel.geo.query(bucket, range_key_condition=condition))


def nearest_stations(lat: float, lng: float, limit: int) -> list[tuple[StationModel, float]]:
    """Up to `limit` stations nearest to the point, with distances in metres.

    Searches the 3×3 block of geohash cells around the point, from fine to
    coarse, and stops at the first precision whose block surely holds the
    `limit` nearest stations (those within the block's covered radius).
    """
    found: dict[str, tuple[StationModel, float]] = {}
    for precision in SEARCH_PRECISIONS:
        cells = geo.block_around(lat, lng, precision)
        for stations in _pool.map(_stations_in_cell, cells):
            for station in stations:
                found[station.id] = (station, geo.distance_m(lat, lng, station.lat, station.lng))
        radius = geo.covered_radius_m(lat, precision)
        if sum(1 for _, d in found.values() if d <= radius) >= limit:
            break
    return sorted(found.values(), key=lambda pair: pair[1])[:limit]


def deputies_of(station_id: str) -> list[DeputyModel]:
    """Deputies whose home is the station (via the station index)."""
    return list(DeputyModel.station.query(station_id))


def public_deputy(deputy: DeputyModel) -> dict:
    """What anyone may see of a deputy: never the phone number."""
    return {
        "id": deputy.id,
        "name": deputy.name,
        "level": deputy.level,
        "level_name": DEPUTY_LEVELS.get(deputy.level, deputy.level),
        "expertise": list(deputy.expertise or []),
    }


def station_summary(station: StationModel, distance_m: float | None = None) -> dict:
    """A station as listed (nearest search) or shown."""
    body = {
        "id": station.id,
        "name": station.name,
        "kind": station.kind,
        "address": station.address,
        "hours": station.hours,
        "location": {"lat": float(station.lat), "lng": float(station.lng)},
        "district_id": station.district_id,
        "city_id": station.city_id,
    }
    if distance_m is not None:
        body["distance_m"] = round(distance_m)
    return body


def station_detail(station_id: str) -> dict:
    """A station with its deputies, as shown to citizens."""
    station = get_station(station_id)
    body = station_summary(station)
    body["deputies"] = [public_deputy(d) for d in deputies_of(station_id)]
    return body
