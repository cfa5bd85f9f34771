"""Pure domain logic: geohash, tokens, submission validation, masking."""

from __future__ import annotations

import json
import random

import pytest

from chalicelib.auth.tokens import Principal, issue_token, verify_token
from chalicelib.errors import InvalidField, Unauthorized
from chalicelib.observability import JsonFormatter, mask_phone
from chalicelib.reports.submission import parse_submission
from chalicelib.stations import geo


def test_geohash_matches_known_values():
    assert geo.encode(57.64911, 10.40744, 11) == "u4pruydqqvj"
    assert geo.encode(36.0671, 120.3826, 5) == "wwmt5"


def test_block_around_is_the_cell_and_its_eight_neighbours():
    block = geo.block_around(36.0671, 120.3826, 5)
    assert len(block) == 9 and "wwmt5" in block
    assert set(block) == {
        "wwmt4",
        "wwmth",
        "wwmsg",
        "wwmsf",
        "wwmsu",
        "wwmt7",
        "wwmt6",
        "wwmtk",
        "wwmt5",
    }


def test_every_point_within_the_covered_radius_lies_in_the_block():
    rng = random.Random(7)
    for _ in range(300):
        lat, lng = rng.uniform(18, 50), rng.uniform(75, 130)
        for precision in (3, 4, 5):
            radius = geo.covered_radius_m(lat, precision)
            block = set(geo.block_around(lat, lng, precision))
            for _ in range(5):
                d_lat = rng.uniform(-1, 1) * radius / 111_195
                d_lng = rng.uniform(-1, 1) * radius / 111_195
                other = (lat + d_lat, lng + d_lng)
                if geo.distance_m(lat, lng, *other) <= radius:
                    assert geo.encode(*other, precision) in block


def test_distance_is_haversine():
    assert round(geo.distance_m(36.0, 120.0, 37.0, 120.0)) == 111_195


def test_token_round_trip_and_tampering():
    principal = Principal("u1", "o1", ("citizen", "deputy"), deputy_id="D01")
    token = issue_token(principal, "secret", 60)
    assert verify_token(token, "secret") == principal
    with pytest.raises(Unauthorized):
        verify_token(token, "other-secret")
    payload, signature = token.split(".")
    with pytest.raises(Unauthorized):
        verify_token(payload[:-2] + "AA." + signature, "secret")
    with pytest.raises(Unauthorized) as expired:
        verify_token(issue_token(principal, "secret", 60, now=0), "secret")
    assert expired.value.code == "token_expired"


def test_submission_is_trimmed_and_fingerprinted():
    first = parse_submission({"station_id": "S01", "category": "municipal.road", "text": " 坑 "})
    second = parse_submission({"station_id": "S01", "category": "municipal.road", "text": "坑"})
    assert first.text == "坑"
    assert first.fingerprint() == second.fingerprint()
    third = parse_submission({"station_id": "S01", "category": "municipal.road", "text": "洞"})
    assert third.fingerprint() != first.fingerprint()


def test_text_limit_counts_characters_not_bytes():
    assert parse_submission({"station_id": "S01", "category": "other.other", "text": "字" * 1000})
    with pytest.raises(InvalidField):
        parse_submission({"station_id": "S01", "category": "other.other", "text": "字" * 1001})


def test_phone_numbers_are_masked_everywhere_in_logs():
    assert mask_phone("call 13812345678 or 13900000001.") == "call 138****5678 or 139****0001."
    assert mask_phone("order 213812345678") == "order 213812345678"
    import logging

    record = logging.LogRecord("x", logging.INFO, "f", 1, "phone %s", ("13812345678",), None)
    record.fields = {"phone": "13900000001"}
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "phone 138****5678" and line["phone"] == "139****0001"
