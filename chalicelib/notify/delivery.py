"""Delivers one outbox item: nothing lost, nothing sent twice.

``deliver`` is what the notice-queue handler runs for each message. It

1. loads the item and leaves it alone unless it is ``pending`` (or ``sending`` with an expired
   lease) and due: a redelivered or duplicated message never reaches a person twice;
2. claims it with a conditional update (``pending`` → ``sending``, a 60 s lease; ``due_at`` is
   set to the end of the lease so the sweep finds items whose worker died);
3. sends it on its channel and records the outcome:

   * sent → ``sent`` (leaves the due and SMS indexes);
   * WeChat 43101 (not subscribed) → ``skipped``; other refusals → ``failed``;
   * WeChat read timeout (the request reached WeChat, no answer came) → ``unconfirmed``: never
     sent again (a subscribe message has no idempotency key, a second one would reach the
     person twice), but listed with the failed notices so staff see it;
   * transient failures → back to ``pending`` with an exponential, fully jittered backoff and a
     delayed queue message; after ``NOTIFY_MAX_ATTEMPTS`` (6) → ``failed``, with
     ``failed_bucket`` set so staff see it.

Rate limits are not failures of the attempt: an item held back by one goes back to ``pending``
without counting an attempt, but only within a deferral window counted from the item's
creation (``WECOM_MAX_DEFER_HOURS``, 24; ``SMS_MAX_DEFER_HOURS``, 48): a notice a limit would
hold back past it is ``failed`` (and listed for staff) instead of waiting for ever.

SMS keep Tencent's per-number limits through ``SmsLedgerModel`` (one item per phone and Beijing
day): at most one SMS per 30 s and ``SMS_DAILY_CAP`` (9) a day per number; an SMS that would
pass a limit is rescheduled, and when several SMS to one number are pending they go out as one
combined SMS (``combined_into`` on the others).

WeCom group robots (20 messages a minute each) keep their limit the same way, in the same
table: one counter per robot and minute (``wecom#<robot fingerprint>#<UTC minute>``) takes a
slot before each message; a full minute reschedules the digest to the next minute, and a 45009
from WeCom (someone else used the robot) fills the minute and reschedules a minute later. A
multi-part digest records the parts sent (``parts_sent``) after each one and resumes there.
"""

from __future__ import annotations

import math
import os
import random
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pynamodb.exceptions import PutError, UpdateError

from chalicelib.adapters.sms import SmsRejected, SmsUnavailable, normalize_phone
from chalicelib.adapters.wechat import WeChatRejected, WeChatUnavailable, WeChatUnconfirmed
from chalicelib.bootstrap import Services
from chalicelib.clock import iso_utc
from chalicelib.notify.links import with_task_link
from chalicelib.notify.queue import MAX_DELAY_SECONDS, enqueue
from chalicelib.notify.templates import (
    BEIJING,
    TemplateError,
    render_combined_sms,
    render_sms,
    render_wechat,
)
from chalicelib.observability import get_logger, log_event
from chalicelib.store.models import OutboxModel, SmsLedgerModel

if TYPE_CHECKING:
    from chalicelib.adapters.wecom import WeComRobot

log = get_logger("notify.delivery")

LEASE_SECONDS = 60
EARLY_TOLERANCE_SECONDS = 1.0
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 900.0
DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_SMS_GAP_SECONDS = 30
DEFAULT_SMS_DAILY_CAP = 9
SMS_MORNING_HOUR = 8
SMS_LEDGER_TTL_SECONDS = 3 * 86400
SMS_COMBINE_LIMIT = 50
NOT_SUBSCRIBED = 43101
FAILED_BUCKET = "failed"
ERROR_MAX_CHARS = 500
DEFAULT_WECOM_PER_MINUTE = 20  # per robot: WeCom's documented limit
WECOM_RATE_LIMIT_WAIT_SECONDS = 60
WECOM_LEDGER_TTL_SECONDS = 3600
DEFAULT_MAX_DEFER_HOURS = {"wecom": 24, "sms": 48}
MAX_DEFER_SETTINGS = {"wecom": "WECOM_MAX_DEFER_HOURS", "sms": "SMS_MAX_DEFER_HOURS"}

# Statuses a delivery ends in (besides the stored status of an item it leaves alone).
SENT, SKIPPED, FAILED, PENDING, DEFERRED, MISSING, UNCONFIRMED = (
    "sent",
    "skipped",
    "failed",
    "pending",
    "deferred",
    "missing",
    "unconfirmed",
)


def max_attempts() -> int:
    """Attempts before a notice fails for good (``NOTIFY_MAX_ATTEMPTS``, default 6)."""
    return max(1, int(os.environ.get("NOTIFY_MAX_ATTEMPTS") or DEFAULT_MAX_ATTEMPTS))


def sms_daily_cap() -> int:
    """SMS per number and Beijing day (``SMS_DAILY_CAP``, default 9; Tencent stops at 10)."""
    return max(1, int(os.environ.get("SMS_DAILY_CAP") or DEFAULT_SMS_DAILY_CAP))


def sms_gap_seconds() -> float:
    """Least time between two SMS to one number (``SMS_GAP_SECONDS``, default 30; Tencent
    refuses the same text twice within 30 s)."""
    return max(0.0, float(os.environ.get("SMS_GAP_SECONDS") or DEFAULT_SMS_GAP_SECONDS))


def wecom_per_minute() -> int:
    """Messages one WeCom group robot may send in a minute (``WECOM_ROBOT_PER_MINUTE``, 20)."""
    return max(1, int(os.environ.get("WECOM_ROBOT_PER_MINUTE") or DEFAULT_WECOM_PER_MINUTE))


def max_defer_seconds(channel: str) -> float:
    """How long after its creation a notice may still be held back by rate limits.

    ``WECOM_MAX_DEFER_HOURS`` (24) for robot digests, ``SMS_MAX_DEFER_HOURS`` (48: a number
    that reached its daily limit waits for the next morning, possibly twice) for SMS.
    """
    setting = MAX_DEFER_SETTINGS.get(channel)
    default = DEFAULT_MAX_DEFER_HOURS.get(channel, 24)
    hours = float((os.environ.get(setting) if setting else None) or default)
    return max(0.0, hours) * 3600


def backoff_seconds(attempts: int) -> float:
    """Full-jitter exponential backoff: uniform in [1, min(cap, base × 2^attempts)]."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts))
    return max(1.0, random.uniform(0, ceiling))


def beijing_day(now: float) -> str:
    """YYYYMMDD of ``now`` in Beijing time (the day Tencent's daily limit counts)."""
    return datetime.fromtimestamp(now, BEIJING).strftime("%Y%m%d")


def next_morning(now: float) -> float:
    """Epoch of 08:00 Beijing time on the day after ``now``."""
    day = datetime.fromtimestamp(now, BEIJING).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, SMS_MORNING_HOUR, tzinfo=BEIJING).timestamp()


def ledger_key(phone: str, now: float) -> str:
    """Key of the SMS ledger entry of ``phone`` on the Beijing day of ``now``."""
    return f"{normalize_phone(phone)}#{beijing_day(now)}"


def _conditional_failed(error: Exception) -> bool:
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"


def _load(outbox_id: str) -> OutboxModel | None:
    try:
        return OutboxModel.get(outbox_id, consistent_read=True)
    except OutboxModel.DoesNotExist:
        return None


def _claimable(item: OutboxModel, now: float) -> bool:
    if item.status == PENDING:
        return True
    return item.status == "sending" and (item.lease_until or 0) <= now


def _claim(item: OutboxModel, now: float) -> bool:
    """pending (or stale sending) → sending, conditional on the version we read."""
    lease = now + LEASE_SECONDS
    try:
        item.update(
            actions=[
                OutboxModel.status.set("sending"),
                OutboxModel.lease_until.set(lease),
                OutboxModel.due_at.set(lease),
                OutboxModel.updated_at.set(iso_utc(now)),
            ],
            condition=OutboxModel.status == item.status,
        )
    except UpdateError as error:
        if _conditional_failed(error):
            return False
        raise
    return True


def _transition(item: OutboxModel, actions: list, now: float) -> bool:
    """Apply ``actions`` to a claimed item (false when the claim was lost meanwhile)."""
    actions = [*actions, OutboxModel.updated_at.set(iso_utc(now))]
    try:
        item.update(actions=actions, condition=OutboxModel.status == "sending")
    except UpdateError as error:
        if _conditional_failed(error):
            log_event(log, "claim lost before the outcome was recorded", outbox_id=item.id)
            return False
        raise
    return True


def _leave_indexes() -> list:
    return [
        OutboxModel.due_shard.remove(),
        OutboxModel.due_at.remove(),
        OutboxModel.sms_phone.remove(),
        OutboxModel.lease_until.set(0),
    ]


def _mark_sent(
    item: OutboxModel, now: float, provider_id: str | None, combined_into: str | None = None
) -> str:
    actions = [
        OutboxModel.status.set(SENT),
        OutboxModel.sent_at.set(iso_utc(now)),
        *_leave_indexes(),
    ]
    if provider_id:
        actions.append(OutboxModel.provider_id.set(provider_id))
    if combined_into:
        actions.append(OutboxModel.combined_into.set(combined_into))
    _transition(item, actions, now)
    log_event(log, "notice sent", outbox_id=item.id, channel=item.channel, combined=combined_into)
    return SENT


def _mark_skipped(item: OutboxModel, now: float, error: str) -> str:
    actions = [
        OutboxModel.status.set(SKIPPED),
        OutboxModel.last_error.set(error[:ERROR_MAX_CHARS]),
        *_leave_indexes(),
    ]
    _transition(item, actions, now)
    log_event(log, "notice skipped", outbox_id=item.id, channel=item.channel, error=error)
    return SKIPPED


def _mark_failed(item: OutboxModel, now: float, error: str, attempts: int | None = None) -> str:
    actions = [
        OutboxModel.status.set(FAILED),
        OutboxModel.failed_bucket.set(FAILED_BUCKET),
        OutboxModel.failed_at.set(iso_utc(now)),
        OutboxModel.last_error.set(error[:ERROR_MAX_CHARS]),
        *_leave_indexes(),
    ]
    if attempts is not None:
        actions.append(OutboxModel.attempts.set(attempts))
    _transition(item, actions, now)
    log_event(log, "notice failed", outbox_id=item.id, channel=item.channel, error=error)
    return FAILED


def _mark_unconfirmed(item: OutboxModel, now: float, error: str) -> str:
    """WeChat took the request but did not answer in time: it may have been delivered.

    Not sent again (a second subscribe message would reach the person twice), but recorded
    as ``unconfirmed`` in the failed-notices index (``failed_at`` = when the answer was missed)
    so staff see it beside the failed ones and the digests count it.
    """
    actions = [
        OutboxModel.status.set(UNCONFIRMED),
        OutboxModel.provider_id.set(UNCONFIRMED),
        OutboxModel.failed_bucket.set(FAILED_BUCKET),
        OutboxModel.failed_at.set(iso_utc(now)),
        OutboxModel.last_error.set(
            f"微信未在时限内应答，可能已送达，不再重发：{error}"[:ERROR_MAX_CHARS]
        ),
        *_leave_indexes(),
    ]
    _transition(item, actions, now)
    log_event(log, "notice unconfirmed", outbox_id=item.id, channel=item.channel, error=error)
    return UNCONFIRMED


def _enqueue_at(services: Services, ids: list[str], when: float, now: float) -> None:
    """Queue ``ids`` to arrive at ``when``; beyond SQS's 15-minute delay the sweep does it."""
    delay = max(0.0, when - now)
    if ids and delay <= MAX_DELAY_SECONDS:
        enqueue(services, ids, delay_seconds=math.ceil(delay))


def _created_epoch(item: OutboxModel, now: float) -> float:
    try:
        created = datetime.fromisoformat(item.created_at or "")
    except ValueError:
        return now
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return created.timestamp()


def _reschedule(services: Services, item: OutboxModel, now: float, when: float, reason: str) -> str:
    """Back to pending, due at ``when``, no attempt counted (a rate limit held it back).

    Within the channel's deferral window only (``max_defer_seconds``, counted from the item's
    creation): an item a limit would hold back past it fails, so it ends visible to staff.
    """
    window = max_defer_seconds(item.channel)
    if when > _created_epoch(item, now) + window:
        hours = f"{window / 3600:g}"
        return _mark_failed(item, now, f"因频率限制延后超过{hours}小时仍未发出：{reason}")
    actions = [
        OutboxModel.status.set(PENDING),
        OutboxModel.due_at.set(when),
        OutboxModel.lease_until.set(0),
        OutboxModel.last_error.set(reason[:ERROR_MAX_CHARS]),
    ]
    if _transition(item, actions, now):
        _enqueue_at(services, [item.id], when, now)
    log_event(log, "notice rescheduled", outbox_id=item.id, reason=reason, due_at=when)
    return PENDING


def _retry(services: Services, item: OutboxModel, now: float, error: str) -> str:
    """Count an attempt; retry later with backoff, or fail for good after the last one."""
    attempts = (item.attempts or 0) + 1
    if attempts >= max_attempts():
        return _mark_failed(item, now, error, attempts=attempts)
    when = now + backoff_seconds(item.attempts or 0)
    actions = [
        OutboxModel.status.set(PENDING),
        OutboxModel.attempts.set(attempts),
        OutboxModel.due_at.set(when),
        OutboxModel.lease_until.set(0),
        OutboxModel.last_error.set(error[:ERROR_MAX_CHARS]),
    ]
    if _transition(item, actions, now):
        _enqueue_at(services, [item.id], when, now)
    log_event(log, "notice will be retried", outbox_id=item.id, attempts=attempts, error=error)
    return PENDING


def _payload(item: OutboxModel) -> tuple[dict, str | None]:
    raw = item.payload
    data = raw.as_dict() if hasattr(raw, "as_dict") else dict(raw or {})
    values = data.get("values") or {}
    if hasattr(values, "as_dict"):
        values = values.as_dict()
    return {str(k): v for k, v in dict(values).items()}, data.get("page") or None


def deliver(services: Services, outbox_id: str, now: float | None = None) -> str:
    """Deliver one outbox item (at most once to the person); returns the resulting status.

    "sent", "skipped", "failed", "unconfirmed" (WeChat did not answer in time; not re-sent),
    "pending" (retry or reschedule ahead), "deferred" (not due yet, untouched), "missing", or
    the stored status of an item that is not ours to send.
    """
    now = time.time() if now is None else float(now)
    item = _load(outbox_id)
    if item is None:
        log_event(log, "outbox item not found", outbox_id=outbox_id)
        return MISSING
    if not _claimable(item, now):
        return item.status
    if item.status == PENDING and (item.due_at or 0) > now + EARLY_TOLERANCE_SECONDS:
        return DEFERRED
    if not _claim(item, now):
        current = _load(outbox_id)
        return current.status if current else MISSING
    if item.channel == "wechat":
        return _send_wechat(services, item, now)
    if item.channel == "sms":
        return _send_sms(services, item, now)
    if item.channel == "wecom":
        return _send_wecom(services, item, now)
    return _mark_failed(item, now, f"unknown channel {item.channel!r}")


def _robot_minute_key(robot: str, now: float) -> str:
    """Ledger key of one robot's UTC minute (the robot by fingerprint: its key is a secret)."""
    return f"wecom#{robot}#{datetime.fromtimestamp(now, UTC):%Y%m%d%H%M}"


def _next_minute(now: float) -> float:
    return (math.floor(now / 60) + 1) * 60.0


def _take_robot_slot(robot: str, now: float) -> bool:
    """Count one message in the robot's current minute, unless the minute is full.

    One conditional update (``ADD count 1`` if below the limit): concurrent workers never
    pass ``WECOM_ROBOT_PER_MINUTE`` together.
    """
    expires_at = int(_next_minute(now)) + WECOM_LEDGER_TTL_SECONDS
    try:
        SmsLedgerModel(_robot_minute_key(robot, now)).update(
            actions=[
                SmsLedgerModel.count.add(1),
                SmsLedgerModel.last_sent_at.set(now),
                SmsLedgerModel.expires_at.set(expires_at),
            ],
            condition=SmsLedgerModel.count.does_not_exist()
            | (SmsLedgerModel.count < wecom_per_minute()),
        )
    except UpdateError as error:
        if _conditional_failed(error):
            return False
        raise
    return True


def _fill_robot_minute(robot: str, now: float) -> None:
    """WeCom says the robot is saturated (45009): nobody sends to it again this minute."""
    try:
        SmsLedgerModel(_robot_minute_key(robot, now)).update(
            actions=[
                SmsLedgerModel.count.set(wecom_per_minute()),
                SmsLedgerModel.expires_at.set(int(_next_minute(now)) + WECOM_LEDGER_TTL_SECONDS),
            ]
        )
    except UpdateError as error:
        log_event(log, "WeCom ledger not updated", error=repr(error))


def _save_parts_sent(item: OutboxModel, values: dict, page: str | None, sent: int, now: float):
    """Record how many parts of a digest went out (a later attempt resumes after them)."""
    values["parts_sent"] = sent
    return _transition(item, [OutboxModel.payload.set({"values": values, "page": page})], now)


def _robot_key(item: OutboxModel) -> str | None:
    from chalicelib.store.models import ScopeModel

    kind, _, ident = (item.address or "").partition(":")
    try:
        return ScopeModel.get(kind, ident).wecom_key
    except ScopeModel.DoesNotExist:
        return None


def _send_wecom(services: Services, item: OutboxModel, now: float) -> str:
    """A digest to an area's WeCom group robot: markdown parts under 4096 bytes, in order.

    Each part first takes a slot in the robot's minute; parts already delivered by an earlier
    attempt (``parts_sent``, saved after every part) are not sent again.
    """
    from chalicelib.adapters.wecom import get_wecom_robot, robot_fingerprint, split_markdown

    values, page = _payload(item)
    key = _robot_key(item)
    if not key:
        return _mark_failed(item, now, "no WeCom robot configured for this area")
    parts = split_markdown(str(values.get("markdown") or ""))
    done = int(values.get("parts_sent") or 0)
    robot = get_wecom_robot()
    fingerprint = robot_fingerprint(key)
    for index in range(done, len(parts)):
        if not _take_robot_slot(fingerprint, now):
            return _reschedule(
                services,
                item,
                now,
                _next_minute(now),
                f"wecom: robot minute full ({wecom_per_minute()} messages), part {index + 1}",
            )
        outcome = _send_part(services, item, robot, key, parts[index], index, now)
        if outcome is not None:
            return outcome
        if index + 1 < len(parts) and not _save_parts_sent(item, values, page, index + 1, now):
            current = _load(item.id)
            return current.status if current else MISSING
    return _mark_sent(item, now, f"{len(parts)} parts")


def _send_part(
    services: Services,
    item: OutboxModel,
    robot: WeComRobot,
    key: str,
    part: str,
    index: int,
    now: float,
) -> str | None:
    """Post one part; None when it went out, else the item's new status."""
    from chalicelib.adapters.wecom import WeComRejected, WeComUnavailable, robot_fingerprint

    try:
        robot.send_markdown(key, part)
    except WeComRejected as error:
        return _mark_failed(item, now, str(error))
    except WeComUnavailable as error:
        if error.rate_limited:
            # Someone else used the robot this minute too: wait a whole minute, no attempt.
            _fill_robot_minute(robot_fingerprint(key), now)
            when = now + WECOM_RATE_LIMIT_WAIT_SECONDS
            return _reschedule(services, item, now, when, f"wecom: {error}, part {index + 1}")
        return _retry(services, item, now, str(error))
    return None


def _send_wechat(services: Services, item: OutboxModel, now: float) -> str:
    values, page = _payload(item)
    try:
        message = render_wechat(item.purpose, values, page)
    except TemplateError as error:
        return _mark_failed(item, now, f"template: {error}")
    try:
        # An expired token is refreshed once and retried once inside the gateway.
        msgid = services.wechat.send_subscribe(
            item.address, message.template_id, message.data, message.page
        )
    except WeChatRejected as error:
        if error.errcode == NOT_SUBSCRIBED:
            return _mark_skipped(item, now, str(error))
        return _mark_failed(item, now, str(error))
    except WeChatUnconfirmed as error:
        # A read timeout; a connect timeout is WeChatUnavailable (nothing sent): retried below.
        return _mark_unconfirmed(item, now, str(error))
    except WeChatUnavailable as error:
        return _retry(services, item, now, str(error))
    return _mark_sent(item, now, msgid)


# --- SMS -------------------------------------------------------------------------------------


def _ledger(key: str) -> SmsLedgerModel | None:
    try:
        entry = SmsLedgerModel.get(key, consistent_read=True)
    except SmsLedgerModel.DoesNotExist:
        return None
    return entry


def _last_sent(phone: str, now: float, today: SmsLedgerModel | None) -> float:
    """When the last SMS went to ``phone`` (yesterday's entry matters just after midnight).

    Never later than ``now``: a time ahead of this clock (another instance's) must not
    hold a number back for longer than the gap.
    """
    last = float(today.last_sent_at or 0) if today else 0.0
    midnight = datetime.fromtimestamp(now, BEIJING).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    if now - midnight.timestamp() < sms_gap_seconds():
        yesterday = _ledger(ledger_key(phone, now - sms_gap_seconds()))
        if yesterday:
            last = max(last, float(yesterday.last_sent_at or 0))
    return min(last, now)


def _reserve(key: str, entry: SmsLedgerModel | None, now: float) -> bool:
    """Count the SMS about to be sent (conditional on the count read: one sender wins)."""
    expires_at = int(now) + SMS_LEDGER_TTL_SECONDS
    try:
        if entry is None:
            SmsLedgerModel(key, count=1, last_sent_at=now, expires_at=expires_at).save(
                condition=SmsLedgerModel.phone_day.does_not_exist()
            )
        else:
            entry.update(
                actions=[
                    SmsLedgerModel.count.set((entry.count or 0) + 1),
                    SmsLedgerModel.last_sent_at.set(now),
                    SmsLedgerModel.expires_at.set(expires_at),
                ],
                condition=SmsLedgerModel.count == (entry.count or 0),
            )
    except (PutError, UpdateError) as error:
        if _conditional_failed(error):
            return False
        raise
    return True


def _unreserve(key: str, previous_last: float, now: float) -> None:
    """Give back a reservation whose SMS was not sent (best effort)."""
    try:
        SmsLedgerModel(key).update(
            actions=[
                SmsLedgerModel.count.add(-1),
                SmsLedgerModel.last_sent_at.set(previous_last),
            ],
            condition=SmsLedgerModel.last_sent_at == now,
        )
    except UpdateError as error:
        log_event(log, "SMS ledger reservation not returned", error=repr(error))


def _fill_day(key: str, now: float) -> None:
    """Tencent says the number reached its daily limit: stop sending to it today."""
    try:
        SmsLedgerModel(key).update(
            actions=[
                SmsLedgerModel.count.set(sms_daily_cap()),
                SmsLedgerModel.expires_at.set(int(now) + SMS_LEDGER_TTL_SECONDS),
            ]
        )
    except UpdateError as error:
        log_event(log, "SMS ledger not updated", error=repr(error))


def _gather(item: OutboxModel, now: float) -> list[OutboxModel]:
    """Claim the other pending SMS to the same number (to send them as one)."""
    others: list[OutboxModel] = []
    for key in OutboxModel.sms_pending.query(item.sms_phone or item.address, limit=200):
        if len(others) >= SMS_COMBINE_LIMIT - 1:
            break
        if key.id == item.id:
            continue
        other = _load(key.id)
        if other is None or other.channel != "sms" or other.address != item.address:
            continue
        if _claimable(other, now) and _claim(other, now):
            others.append(other)
    return others


def _release(services: Services, items: list[OutboxModel], now: float, when: float) -> None:
    """Hand claimed items back as pending, due at ``when``."""
    released = []
    for other in items:
        actions = [
            OutboxModel.status.set(PENDING),
            OutboxModel.due_at.set(when),
            OutboxModel.lease_until.set(0),
        ]
        if _transition(other, actions, now):
            released.append(other.id)
    _enqueue_at(services, released, when, now)


def _send_sms(services: Services, item: OutboxModel, now: float) -> str:
    phone = item.address
    key = ledger_key(phone, now)
    entry = _ledger(key)
    last = _last_sent(phone, now, entry)
    gap = sms_gap_seconds()
    if now - last < gap:
        return _reschedule(services, item, now, last + gap, "sms: 30-second gap")
    if entry is not None and (entry.count or 0) >= sms_daily_cap():
        return _reschedule(services, item, now, next_morning(now), "sms: daily cap")
    if not _reserve(key, entry, now):
        # Another worker just sent an SMS to this number: the 30-second gap applies.
        return _reschedule(services, item, now, now + gap, "sms: concurrent send")
    others = _gather(item, now)
    try:
        if others:
            message = render_combined_sms(len(others) + 1)
        else:
            values, _ = _payload(item)
            values = with_task_link(services, item.purpose, item.recipient_kind, values)
            message = render_sms(item.purpose, values)
    except TemplateError as error:
        _unreserve(key, last, now)
        _release(services, others, now, now)
        return _mark_failed(item, now, f"template: {error}")
    try:
        serial = services.sms.send(
            phone, message.template_id, message.params, session_context=item.id
        )
    except SmsRejected as error:
        _unreserve(key, last, now)
        _release(services, others, now, now)
        return _mark_failed(item, now, str(error))
    except SmsUnavailable as error:
        return _sms_unavailable(services, item, others, now, key, last, error)
    for other in others:
        _mark_sent(other, now, serial, combined_into=item.id)
    return _mark_sent(item, now, serial)


def _sms_unavailable(
    services: Services,
    item: OutboxModel,
    others: list[OutboxModel],
    now: float,
    key: str,
    last: float,
    error: SmsUnavailable,
) -> str:
    """A transient SMS failure: Tencent's frequency limits reschedule, anything else retries."""
    if error.limit == "daily":
        _fill_day(key, now)
        when = next_morning(now)
    elif error.limit == "thirty_seconds":
        when = now + max(sms_gap_seconds(), DEFAULT_SMS_GAP_SECONDS)
    elif error.limit == "hourly":
        when = now + 3600
    else:
        _unreserve(key, last, now)
        status = _retry(services, item, now, str(error))
        current = item.due_at if status == PENDING and item.due_at else now
        _release(services, others, now, float(current))
        return status
    _release(services, others, now, when)
    return _reschedule(services, item, now, when, f"sms: {error.code}")
