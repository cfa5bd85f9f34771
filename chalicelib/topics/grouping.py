"""Micro-topics (微专题): which recent reports form a group, and what the daily job should do.

Pure functions, no I/O. A report belongs to the group of its district, category and place;
the place is its station (`station:S01`) or, without one, the geohash-5 cell of its position
(`cell:wx4g0`, about 4.9 km × 4.9 km). Reports without a district or a place form no group.

The job plans, per group in the window:

* the group has an open topic → link the reports not yet in it (any number);
* otherwise, counting only reports filed after the group's last topic closed, the group
  reached the threshold → open a topic with them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chalicelib.workflow.calendar import BEIJING

CELL_PRECISION = 5


@dataclass(frozen=True)
class Entry:
    """One filed report, as the topic log keeps it."""

    report_id: str
    created_at: str
    category: str
    district_id: str | None
    city_id: str | None = None
    station_id: str | None = None
    geohash5: str | None = None


@dataclass
class Group:
    """Reports of one district, category and place, oldest first: (created_at, report_id)."""

    key: str
    district_id: str
    city_id: str | None
    category: str
    place: str
    reports: list[tuple[str, str]] = field(default_factory=list)

    @property
    def report_ids(self) -> list[str]:
        return [report_id for _, report_id in self.reports]


@dataclass(frozen=True)
class GroupState:
    """What is stored about a group: its topic, open or closed, and the open topic's reports."""

    topic_id: str | None
    status: str
    closed_at: str | None = None
    linked: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Link:
    """Reports to add to a group's open topic."""

    topic_id: str
    group: Group
    report_ids: tuple[str, ...]


@dataclass
class Plan:
    """What one run of the job does: topics to open (with their reports), reports to link."""

    opens: list[Group] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)

    def report_ids(self) -> set[str]:
        """Every report the plan would touch."""
        ids = {r for group in self.opens for r in group.report_ids}
        return ids | {r for link in self.links for r in link.report_ids}


def place_of(station_id: str | None, geohash: str | None) -> str | None:
    """The place a report is grouped by: its station, else its geohash-5 cell."""
    if station_id:
        return f"station:{station_id}"
    if geohash and len(geohash) >= CELL_PRECISION:
        return f"cell:{geohash[:CELL_PRECISION]}"
    return None


def group_key(district_id: str, category: str, place: str) -> str:
    """The key a group is stored under (one open topic per key)."""
    return f"{district_id}#{category}#{place}"


def window_start(now: datetime, days: int) -> str:
    """ISO time (UTC, like `created_at`) the rolling window of `days` days starts at."""
    return (now - timedelta(days=days)).isoformat(timespec="microseconds")


def window_days(now: datetime, days: int) -> list[str]:
    """The Beijing days (YYYY-MM-DD) the window touches, oldest first."""
    first = (now - timedelta(days=days)).astimezone(BEIJING).date()
    last = now.astimezone(BEIJING).date()
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def group_entries(entries: Iterable[Entry], since: str) -> dict[str, Group]:
    """Entries filed at or after `since`, grouped by district, category and place."""
    groups: dict[str, Group] = {}
    seen: set[str] = set()
    for entry in sorted(entries, key=lambda e: (e.created_at, e.report_id)):
        if entry.created_at < since or entry.report_id in seen or not entry.district_id:
            continue
        place = place_of(entry.station_id, entry.geohash5)
        if place is None:
            continue
        seen.add(entry.report_id)
        key = group_key(entry.district_id, entry.category, place)
        group = groups.get(key)
        if group is None:
            group = groups[key] = Group(
                key, entry.district_id, entry.city_id, entry.category, place
            )
        group.reports.append((entry.created_at, entry.report_id))
    return groups


def plan_topics(
    groups: dict[str, Group],
    threshold: int,
    states: dict[str, GroupState],
    is_valid: Callable[[str], bool] | None = None,
) -> Plan:
    """What to open and what to link; `is_valid` leaves out reports that do not count."""
    plan = Plan()
    for key in sorted(groups):
        group = groups[key]
        state = states.get(key)
        reports = [r for r in group.reports if is_valid is None or is_valid(r[1])]
        if state and state.status == "open" and state.topic_id:
            new = tuple(r for _, r in reports if r not in state.linked)
            if new:
                plan.links.append(Link(state.topic_id, group, new))
            continue
        if state and state.closed_at:
            reports = [r for r in reports if r[0] > state.closed_at]
        if len(reports) >= threshold:
            plan.opens.append(
                Group(key, group.district_id, group.city_id, group.category, group.place, reports)
            )
    return plan


def topic_id(key: str, opened_at: datetime) -> str:
    """A readable topic id: opening day and a digest of the group and the moment."""
    digest = hashlib.sha1(f"{key}|{opened_at.isoformat()}".encode()).hexdigest()[:8].upper()
    return f"T{opened_at.astimezone(BEIJING):%Y%m%d}-{digest}"


def topic_title(place_name: str, category_name: str) -> str:
    """The title staff see, e.g. "八大关街道人大代表联络站 · 停车难、乱停车"."""
    return f"{place_name} · {category_name}"
