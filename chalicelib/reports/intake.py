"""Report intake: from a validated submission to a stored report, in one write.

The report item is the record of the submission: its timeline's first step
(`submitted`, seq 1) is read from it (`chalicelib.reports.reading`), so the report
and its first event are written together by one PutItem, conditioned on the id
being new. Under an `Idempotency-Key` the id is derived from the user and the key,
so that same write is the idempotency check: a retry fails the condition and is
answered with the stored report (or refused with 409 when its content differs). A
key stays bound to its report for good; a submission that was refused (risky text,
a photo not found) stored nothing, so its key can carry the corrected report.

A warm submission therefore makes one DynamoDB request (two with photos: their
upload records). The station and photo look-ups run in the background while the
request's thread runs the content check. What the report adds to the statistics
and the micro-topic log is written when it is admitted, by the matching transition
(`chalicelib.reports.admission`).
"""

from __future__ import annotations

import contextvars
import hashlib
import secrets
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta

from pynamodb.exceptions import PutError

from chalicelib.auth.tokens import Principal
from chalicelib.bootstrap import Services
from chalicelib.clock import now_iso, utcnow
from chalicelib.errors import Conflict, InvalidField, NotFound, ServiceUnavailable
from chalicelib.notify.queue import enqueue_job
from chalicelib.observability import get_logger, log_event
from chalicelib.reports.submission import Submission
from chalicelib.stations.directory import get_station, nearest_stations
from chalicelib.store.models import Location, ReportModel
from chalicelib.workflow.engine import due_attributes
from chalicelib.workflow.queues import queue_attributes

TEXT_CHECK_SCENE = 3
WRITE_ATTEMPTS = 3
MATCH_FALLBACK = timedelta(minutes=2)
ID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read out over the phone
ID_LENGTH = 12  # 60 bits

log = get_logger("reports.intake")
_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="intake")


def new_report_id() -> str:
    """A random, unguessable report id (e.g. R7F3KQ2XA4MNP)."""
    return "R" + "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def keyed_report_id(user_id: str, idempotency_key: str) -> str:
    """The id of the report a user's `Idempotency-Key` stands for (same alphabet and length)."""
    digest = hashlib.sha256(f"{user_id}\n{idempotency_key}".encode()).digest()
    number = int.from_bytes(digest[:8], "big")
    chars = []
    for _ in range(ID_LENGTH):
        number, index = divmod(number, len(ID_ALPHABET))
        chars.append(ID_ALPHABET[index])
    return "R" + "".join(chars)


def _condition_failed(error: PutError) -> bool:
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"


def _stored_report(report_id: str) -> ReportModel | None:
    try:
        return ReportModel.get(report_id, consistent_read=True)
    except ReportModel.DoesNotExist:
        return None


def _replay(stored: ReportModel, submission: Submission) -> ReportModel:
    """The stored report for a retry of the same content; 409 for other content."""
    if stored.submission_hash != submission.fingerprint():
        raise Conflict(
            "该 Idempotency-Key 已用于另一份反映内容，请更换后重试",
            field="Idempotency-Key",
            code="idempotency_key_reused",
        )
    return stored


def _earlier_attempt(principal: Principal, report_id: str) -> ReportModel | None:
    """The report an earlier attempt stored under `report_id` for this user, if any."""
    stored = _stored_report(report_id)
    return stored if stored is not None and stored.reporter_id == principal.user_id else None


def _place(submission: Submission) -> dict:
    """Station, district and city of the report: the scanned station, else the nearest one."""
    if submission.station_id:
        try:
            station = get_station(submission.station_id)
        except NotFound:
            raise InvalidField(
                "联络站不存在，请重新扫码", field="station_id", code="station_not_found"
            ) from None
        return {
            "station_id": station.id,
            "district_id": station.district_id,
            "city_id": station.city_id,
        }
    nearest = nearest_stations(submission.lat, submission.lng, limit=1)
    if not nearest:
        return {"station_id": None, "district_id": None, "city_id": None}
    station = nearest[0][0]
    return {
        "station_id": station.id,
        "district_id": station.district_id,
        "city_id": station.city_id,
    }


def _phone(services: Services, submission: Submission) -> str | None:
    from chalicelib.adapters.wechat import WeChatRejected, WeChatUnavailable

    if not submission.phone_code:
        return None
    try:
        return services.wechat.phone_number(submission.phone_code)
    except WeChatRejected:
        raise InvalidField(
            "手机号授权已失效，请重新授权", field="phone_code", code="phone_code_invalid"
        ) from None
    except WeChatUnavailable:
        log_event(log, "phone number lookup unavailable; report kept without phone")
        return None


def _moderation(services: Services, principal: Principal, submission: Submission) -> str:
    """ "pass" or "review"; risky text is refused. If WeChat cannot answer, staff review it."""
    from chalicelib.adapters.wechat import WeChatError

    content = (
        submission.text if not submission.address else f"{submission.text}\n{submission.address}"
    )
    try:
        suggest = services.wechat.check_text(principal.openid, content, scene=TEXT_CHECK_SCENE)
    except WeChatError as error:
        log_event(
            log,
            "content check unavailable; report held for staff review",
            errcode=getattr(error, "errcode", None),
        )
        return "review"
    if suggest == "risky":
        raise InvalidField(
            "反映内容包含违规信息，请修改后再提交", field="text", code="content_risky"
        )
    return "review" if suggest == "review" else "pass"


def _in_background(function, *args) -> Future:
    """Run `function` on the intake pool, keeping the caller's context (request id)."""
    return _pool.submit(contextvars.copy_context().run, function, *args)


def _start_checks(
    services: Services,
    principal: Principal,
    submission: Submission,
    report_id: str | None,
) -> dict[str, Future | None]:
    """Start, in the background, what a submission waits for besides the content check.

    The caller runs the content check itself meanwhile: all are network round trips.
    An earlier attempt is looked for first only when the submission carries a phone
    code (`report_id` given): that code works once, so a retry must not spend it.
    """
    return {
        "earlier": (_in_background(_earlier_attempt, principal, report_id) if report_id else None),
        "place": _in_background(_place, submission),
        "photos": (
            _in_background(
                services.uploads.require_photos, principal.user_id, list(submission.photos)
            )
            if submission.photos
            else None
        ),
    }


def _new_report(
    report_id: str,
    principal: Principal,
    submission: Submission,
    moderation: str,
    place: dict,
    phone: str | None,
) -> ReportModel:
    now = now_iso()
    return ReportModel(
        report_id,
        reporter_id=principal.user_id,
        created_at=now,
        updated_at=now,
        status="submitted",
        moderation=moderation,
        category=submission.category,
        text=submission.text,
        photos=list(submission.photos),
        location=(
            Location(lat=submission.lat, lng=submission.lng) if submission.lat is not None else None
        ),
        address=submission.address,
        phone=phone,
        anonymous=submission.anonymous,
        reporter_openid=principal.openid,
        filed_by_deputy=principal.deputy_id,
        submission_hash=submission.fingerprint(),
        event_count=1,
        **place,
        **(
            due_attributes(report_id, "match", utcnow() + MATCH_FALLBACK)
            if moderation == "pass"
            else queue_attributes("submitted", moderation, place.get("district_id"), now)
        ),
    )


def submit_report(
    services: Services,
    principal: Principal,
    submission: Submission,
    idempotency_key: str | None,
) -> tuple[ReportModel, bool]:
    """Store a report; returns (report, replayed).

    A retry under the same `Idempotency-Key` returns the report the first
    attempt stored, never a second one.
    """
    keyed = idempotency_key is not None
    report_id = keyed_report_id(principal.user_id, idempotency_key) if keyed else new_report_id()
    checks = _start_checks(
        services, principal, submission, report_id if keyed and submission.phone_code else None
    )
    if checks["earlier"] is not None:
        earlier = checks["earlier"].result()
        if earlier is not None:
            return _replay(earlier, submission), True
    try:
        moderation = _moderation(services, principal, submission)
        place = checks["place"].result()
        if checks["photos"] is not None:
            checks["photos"].result()
    except InvalidField:
        earlier = _earlier_attempt(principal, report_id) if keyed else None
        if earlier is None:
            raise
        return _replay(earlier, submission), True
    phone = _phone(services, submission)

    for _attempt in range(WRITE_ATTEMPTS):
        report = _new_report(report_id, principal, submission, moderation, place, phone)
        try:
            report.save(condition=ReportModel.id.does_not_exist())
        except PutError as error:
            if not _condition_failed(error):
                log_event(log, "report write failed", error=repr(error))
                raise ServiceUnavailable("系统繁忙，请稍后重试", code="store_unavailable") from None
            earlier = _earlier_attempt(principal, report_id) if keyed else None
            if earlier is not None:
                return _replay(earlier, submission), True
            if keyed:
                log_event(log, "keyed report id taken by another user; storing under a new id")
            report_id = new_report_id()
            continue
        if moderation == "pass":
            enqueue_job(services, {"job": "match", "report_id": report.id})
        log_event(
            log,
            "report submitted",
            report_id=report.id,
            station_id=report.station_id,
            category=report.category,
            moderation=moderation,
            photos=len(report.photos),
        )
        return report, False
    raise Conflict("提交冲突，请稍后重试", code="submit_conflict")
