"""The outbox: every notice is an item written in the same transaction as the change causing it.

An item's id is its idempotency key (report, recipient, channel, purpose), so
writing the same notice twice is refused by DynamoDB and a redelivered queue
message finds the item already sent.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

from chalicelib.adapters.sms import normalize_phone
from chalicelib.clock import now_iso
from chalicelib.store.models import OutboxModel

DUE_SHARDS = 8
CHANNELS = ("wechat", "sms")


@dataclass(frozen=True)
class Recipient:
    """Who a notice goes to, and where: an openid for WeChat, a phone number for SMS."""

    kind: str
    id: str
    openid: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class Scope:
    """Station, district and city of the report, so staff see the notices of their area."""

    station_id: str | None = None
    district_id: str | None = None
    city_id: str | None = None


@dataclass(frozen=True)
class Notice:
    """What to tell a recipient: a purpose (which template) and its values."""

    purpose: str
    values: dict = field(default_factory=dict)
    page: str | None = None


def outbox_id(
    report_id: str, recipient: Recipient, channel: str, purpose: str, occurrence: int = 1
) -> str:
    """The idempotency key of one notice: report, recipient, channel, purpose, and which
    timeline event caused it (a purpose can recur, e.g. resolved again after second handling).
    """
    return f"{report_id}#{recipient.kind}:{recipient.id}#{channel}#{purpose}#{occurrence}"


def due_shard(item_id: str) -> str:
    """The due-index shard of an item (spreads the sweep's reads over partitions)."""
    return str(int(hashlib.sha1(item_id.encode()).hexdigest(), 16) % DUE_SHARDS)


def outbox_items(
    report_id: str,
    recipient: Recipient,
    notice: Notice,
    scope: Scope,
    channels=CHANNELS,
    occurrence: int = 1,
) -> list[OutboxModel]:
    """Pending outbox items for `notice` on each channel the recipient can be reached on."""
    now, now_epoch = now_iso(), time.time()
    items = []
    for channel in channels:
        address = {"wechat": recipient.openid, "sms": recipient.phone, "wecom": recipient.id}[
            channel
        ]
        if not address:
            continue
        if channel == "sms":
            address = normalize_phone(address)
        item_id = outbox_id(report_id, recipient, channel, notice.purpose, occurrence)
        items.append(
            OutboxModel(
                item_id,
                report_id=report_id,
                purpose=notice.purpose,
                channel=channel,
                recipient_kind=recipient.kind,
                recipient_id=recipient.id,
                address=address,
                payload={"values": notice.values, "page": notice.page},
                status="pending",
                attempts=0,
                created_at=now,
                updated_at=now,
                scope_station_id=scope.station_id,
                scope_district_id=scope.district_id,
                scope_city_id=scope.city_id,
                due_shard=due_shard(item_id),
                due_at=now_epoch,
                sms_phone=address if channel == "sms" else None,
            )
        )
    return items
