"""Staff lists by index and cursor: overdue, held for review, unmatched reports of an area.

Every list is a sparse index partitioned by district (`reports.overdue`, and
`reports.queue` for review and unmatched). A district's list is one Query of its
partition; a station's is its district's partition filtered on the station (at most
`SCAN_BUDGET` index items read per request, so a page may hold fewer items than asked
while `next_cursor` is not null); a city's merges the partitions of its districts
(from the `scopes` table): each is read up to one item past the page, and the page is
the first `limit` items of the merge. The cursor records, per district, the key of the
last item handed out (or that the partition is exhausted), so no item is skipped or
repeated across pages whatever the ordering ties.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from typing import Any

from chalicelib.errors import InvalidField
from chalicelib.staff.scopes import Area, scope_station
from chalicelib.store.models import ReportModel
from chalicelib.workflow.queues import queue_key

MAX_PAGE = 50
DEFAULT_PAGE = 20
SCAN_BUDGET = 1000
FILTERED_PAGE_SIZE = 100
MAX_CURSOR_CHARS = 8192


@dataclass(frozen=True)
class ListSpec:
    """One staff list: its index, how a district names its partition, its order."""

    name: str
    index: Any
    hash_attribute: str
    range_attribute: str
    partition: Callable[[str], str]
    ascending: bool


LISTS = {
    "overdue": ListSpec(
        "overdue",
        ReportModel.overdue,
        "overdue_district",
        "overdue_since",
        lambda district: district,
        ascending=True,
    ),
    "review": ListSpec(
        "review",
        ReportModel.queue,
        "queue_key",
        "queued_at",
        lambda district: queue_key("review", district),
        ascending=False,
    ),
    "unmatched": ListSpec(
        "unmatched",
        ReportModel.queue,
        "queue_key",
        "queued_at",
        lambda district: queue_key("unmatched", district),
        ascending=True,
    ),
}


@dataclass
class _Slice:
    """What one partition gave for a page: items in index order, and where it goes on."""

    district: str
    items: list[tuple[ReportModel, dict]]
    tail: dict | None  # the start key after the last item read; None: exhausted


def area_partitions(area: Area) -> tuple[list[str], str | None]:
    """The districts whose partitions hold the area's items, and the station to keep."""
    if area.kind == "city":
        from chalicelib.stats.figures import city_districts

        return sorted(city_districts(area.ident)), None
    if area.kind == "district":
        return [area.ident], None
    return [scope_station(area.ident).district_id], area.ident


def _invalid_cursor() -> InvalidField:
    return InvalidField("分页游标无效，请从第一页重新加载", field="cursor", code="invalid_cursor")


def _short_string(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 64


def encode_cursor(spec: ListSpec, area: Area, positions: dict[str, list[str] | None]) -> str:
    """An opaque cursor: per district, the last key handed out (null: exhausted)."""
    body = {"l": spec.name, "s": area.scope, "p": positions}
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(
    spec: ListSpec, area: Area, districts: list[str], cursor: str | None
) -> dict[str, list[str] | None]:
    """The positions of a cursor this list of this area gave; 422 (`cursor`) otherwise."""
    if not cursor:
        return {}
    if len(cursor) > MAX_CURSOR_CHARS:
        raise _invalid_cursor()
    try:
        body = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _invalid_cursor() from None
    if not isinstance(body, dict) or body.get("l") != spec.name or body.get("s") != area.scope:
        raise _invalid_cursor()
    positions = body.get("p")
    if not isinstance(positions, dict) or not set(positions) <= set(districts):
        raise _invalid_cursor()
    for value in positions.values():
        if value is None:
            continue
        if not (isinstance(value, list) and len(value) == 2 and all(map(_short_string, value))):
            raise _invalid_cursor()
    return positions


def _start_key(spec: ListSpec, district: str, position: list[str] | None) -> dict | None:
    if position is None:
        return None
    item_id, range_value = position
    return {
        "id": {"S": item_id},
        spec.hash_attribute: {"S": spec.partition(district)},
        spec.range_attribute: {"S": range_value},
    }


def _position(spec: ListSpec, key: dict) -> list[str]:
    return [key["id"]["S"], key[spec.range_attribute]["S"]]


def _read(
    spec: ListSpec, district: str, start: dict | None, want: int, station_id: str | None
) -> _Slice:
    """Up to `want` items of one partition after `start` (a station's only, if given)."""
    condition = ReportModel.station_id == station_id if station_id else None
    result = spec.index.query(
        spec.partition(district),
        scan_index_forward=spec.ascending,
        filter_condition=condition,
        last_evaluated_key=start,
        page_size=FILTERED_PAGE_SIZE if station_id else want,
    )
    pages = result.page_iter
    found: list[tuple[ReportModel, dict]] = []
    keys = ("id", spec.hash_attribute, spec.range_attribute)
    for page in pages:
        for raw in page.get("Items", []):
            key = {name: raw[name] for name in keys}
            found.append((ReportModel.from_raw_data(raw), key))
            if len(found) == want:
                return _Slice(district, found, key)
        if pages.last_evaluated_key is None:
            break
        if pages.total_scanned_count >= SCAN_BUDGET:
            return _Slice(district, found, pages.last_evaluated_key)
    return _Slice(district, found, None)


def page(
    name: str, area: Area, limit: int, cursor: str | None
) -> tuple[list[ReportModel], str | None]:
    """One page of the area's list `name`, in the list's order, and the next cursor."""
    spec = LISTS[name]
    districts, station_id = area_partitions(area)
    positions = decode_cursor(spec, area, districts, cursor)
    slices = [
        _read(spec, d, _start_key(spec, d, positions.get(d)), limit + 1, station_id)
        for d in districts
        if not (d in positions and positions[d] is None)
    ]
    streams = [[(item, key, s.district) for item, key in s.items] for s in slices]
    merged = heapq.merge(
        *streams,
        key=lambda entry: entry[1][spec.range_attribute]["S"],
        reverse=not spec.ascending,
    )
    chosen = list(islice(merged, limit))
    handed: dict[str, int] = {}
    for _, _, district in chosen:
        handed[district] = handed.get(district, 0) + 1
    new_positions = dict(positions)
    for part in slices:
        count = handed.get(part.district, 0)
        if count == len(part.items):
            new_positions[part.district] = _position(spec, part.tail) if part.tail else None
        elif count:
            new_positions[part.district] = _position(spec, part.items[count - 1][1])
    # A district without a position has not been read past its start; `None`: exhausted.
    more = any(d not in new_positions or new_positions[d] is not None for d in districts)
    next_cursor = encode_cursor(spec, area, new_positions) if more else None
    return [item for item, _, _ in chosen], next_cursor
