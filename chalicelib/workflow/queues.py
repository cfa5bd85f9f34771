"""Which staff list a report waits in: the sparse `queue` index of reports.

A report is in at most one list at a time:

| list        | while                                              | `queue_key`            |
|-------------|----------------------------------------------------|------------------------|
| `review`    | `submitted` and held by the content check          | `review#<district>`    |
| `unmatched` | `unmatched` (no deputy fits, all declined …)       | `unmatched#<district>` |

`queued_at` is when the wait began. Intake writes the attributes of a held report in its
one PutItem; the engine derives them in every transition that changes the status or the
moderation result, in that transition's own update, so a report joins and leaves a list
in the same write that changes what the list is about.
"""

from __future__ import annotations

from typing import Any

QUEUES = ("review", "unmatched")
NO_DISTRICT = "none"  # as the overdue index: reports placed in no district


def queue_key(queue: str, district_id: str | None) -> str:
    """The index partition of one list of one district."""
    return f"{queue}#{district_id or NO_DISTRICT}"


def queue_of(status: str, moderation: str | None) -> str | None:
    """The list a report in this status and moderation state waits in (None: no list)."""
    if status == "unmatched":
        return "unmatched"
    if status == "submitted" and moderation == "review":
        return "review"
    return None


def queue_attributes(
    status: str,
    moderation: str | None,
    district_id: str | None,
    now: str,
    current: str | None = None,
) -> dict[str, Any]:
    """Attributes putting a report in its list, or taking it out (None = remove).

    `current` is the report's `queue_key` before the change (the transition is conditioned
    on the version it was read at): staying in the same list keeps the time the wait
    began, and a report in no list is left as it is.
    """
    queue = queue_of(status, moderation)
    if queue is None:
        return {} if current is None else {"queue_key": None, "queued_at": None}
    key = queue_key(queue, district_id)
    if key == current:
        return {}
    return {"queue_key": key, "queued_at": now}
