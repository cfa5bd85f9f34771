"""Geohash encoding, neighbouring cells and great-circle distance (pure functions)."""

from __future__ import annotations

import math

_BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"
_DECODE = {c: i for i, c in enumerate(_BASE32)}
EARTH_RADIUS_M = 6_371_008.8


def encode(lat: float, lng: float, precision: int = 9) -> str:
    """The geohash of a point, `precision` characters long."""
    lat_lo, lat_hi, lng_lo, lng_hi = -90.0, 90.0, -180.0, 180.0
    chars, bits, value, even = [], 0, 0, True
    while len(chars) < precision:
        if even:
            mid = (lng_lo + lng_hi) / 2
            value = value * 2 + (lng >= mid)
            lng_lo, lng_hi = (mid, lng_hi) if lng >= mid else (lng_lo, mid)
        else:
            mid = (lat_lo + lat_hi) / 2
            value = value * 2 + (lat >= mid)
            lat_lo, lat_hi = (mid, lat_hi) if lat >= mid else (lat_lo, mid)
        even = not even
        bits += 1
        if bits == 5:
            chars.append(_BASE32[value])
            bits, value = 0, 0
    return "".join(chars)


def cell_size_degrees(precision: int) -> tuple[float, float]:
    """(height, width) in degrees of a cell of `precision` characters."""
    total = precision * 5
    lng_bits = (total + 1) // 2
    lat_bits = total // 2
    return 180.0 / 2**lat_bits, 360.0 / 2**lng_bits


def decode_center(cell: str) -> tuple[float, float]:
    """Centre (lat, lng) of a geohash cell."""
    lat_lo, lat_hi, lng_lo, lng_hi = -90.0, 90.0, -180.0, 180.0
    even = True
    for char in cell:
        value = _DECODE[char]
        for shift in range(4, -1, -1):
            bit = (value >> shift) & 1
            if even:
                mid = (lng_lo + lng_hi) / 2
                lng_lo, lng_hi = (mid, lng_hi) if bit else (lng_lo, mid)
            else:
                mid = (lat_lo + lat_hi) / 2
                lat_lo, lat_hi = (mid, lat_hi) if bit else (lat_lo, mid)
            even = not even
    return (lat_lo + lat_hi) / 2, (lng_lo + lng_hi) / 2


def block_around(lat: float, lng: float, precision: int) -> list[str]:
    """The 3×3 block of cells centred on the cell holding the point (deduplicated)."""
    height, width = cell_size_degrees(precision)
    center_lat, center_lng = decode_center(encode(lat, lng, precision))
    cells = []
    for d_lat in (-1, 0, 1):
        for d_lng in (-1, 0, 1):
            cell_lat = max(-89.999999, min(89.999999, center_lat + d_lat * height))
            cell_lng = (center_lng + d_lng * width + 180.0) % 360.0 - 180.0
            cell = encode(cell_lat, cell_lng, precision)
            if cell not in cells:
                cells.append(cell)
    return cells


def covered_radius_m(lat: float, precision: int) -> float:
    """Distance from any point of the centre cell that its 3×3 block surely covers."""
    height, width = cell_size_degrees(precision)
    metres_per_degree = math.pi * EARTH_RADIUS_M / 180.0
    return min(height * metres_per_degree, width * metres_per_degree * math.cos(math.radians(lat)))


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lng2 - lng1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))
