"""Report intake: from a validated submission to a stored report with its first timeline event.

One submission costs at most two DynamoDB requests on the common path: the
station read (cached per container) and one transaction writing the report, its
`submitted` event and the idempotency record together, conditioned on that record
not existing yet; a retry under the same `Idempotency-Key` fails that condition
and is answered with the stored report. The station look-up, the photo checks and
the content check run concurrently, so a submission waits for the slowest of them
and then for the transaction. What the report adds to
the statistics and the micro-topic log is written when it is admitted, by the
matching transition (`chalicelib.reports.admission`).
"""

from __future__ import annotations

import contextvars
import secrets
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta

from pynamodb.exceptions import TransactWriteError

from chalicelib.auth.tokens import Principal
from chalicelib.bootstrap import Services
from chalicelib.clock import now_iso, utcnow
from chalicelib.errors import Conflict, InvalidField, NotFound, ServiceUnavailable
from chalicelib.notify.queue import enqueue_job
from chalicelib.observability import get_logger, log_event
from chalicelib.reports.submission import Submission
from chalicelib.stations.directory import get_station, nearest_stations
from chalicelib.store.models import IdempotencyModel, Location, ReportEventModel, ReportModel
from chalicelib.store.transactions import cancellation_codes, transact_write
from chalicelib.workflow.engine import due_attributes

IDEMPOTENCY_TTL_SECONDS = 24 * 3600
TEXT_CHECK_SCENE = 3
RETRYABLE_CANCELLATIONS = {"ConditionalCheckFailed", "TransactionConflict"}
MATCH_FALLBACK = timedelta(minutes=2)

log = get_logger("reports.intake")
_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="intake")


def new_report_id() -> str:
    """A readable, date-prefixed, unguessable report id (e.g. R20261121-7F3KQ2XA)."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    suffix = "".join(secrets.choice(alphabet) for _ in range(8))
    return f"R{utcnow():%Y%m%d}-{suffix}"


def _idempotency_record(principal: Principal, key: str) -> IdempotencyModel | None:
    try:
        record = IdempotencyModel.get(f"{principal.user_id}#{key}")
    except IdempotencyModel.DoesNotExist:
        return None
    return record if record.expires_at > time.time() else None


def _replay(record: IdempotencyModel, submission: Submission) -> ReportModel:
    if record.request_hash != submission.fingerprint():
        raise Conflict(
            "该 Idempotency-Key 已用于另一份反映内容，请更换后重试",
            field="Idempotency-Key",
            code="idempotency_key_reused",
        )
    return ReportModel.get(record.report_id)


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
    services: Services, principal: Principal, submission: Submission, key: str | None
) -> dict[str, Future | None]:
    """Start the look-ups a submission waits for besides the content check, in the background.

    The caller runs the content check itself meanwhile: all are network round trips.

    The idempotency record is looked up first only when the submission carries a
    phone code: that code works once, so it must not be spent on a retry. Otherwise
    the transaction's condition on the idempotency record tells a retry apart, and
    the common path saves the round trip.
    """
    look_up_first = key is not None and submission.phone_code is not None
    return {
        "replay": _in_background(_idempotency_record, principal, key) if look_up_first else None,
        "place": _in_background(_place, submission),
        "photos": (
            _in_background(
                services.uploads.require_photos, principal.user_id, list(submission.photos)
            )
            if submission.photos
            else None
        ),
    }


def submit_report(
    services: Services,
    principal: Principal,
    submission: Submission,
    idempotency_key: str | None,
) -> tuple[ReportModel, ReportEventModel | None, bool]:
    """Store a report; returns (report, first event, replayed).

    A retry under the same `Idempotency-Key` returns the report the first
    attempt stored, never a second one.
    """
    checks = _start_checks(services, principal, submission, idempotency_key)
    if checks["replay"] is not None:
        record = checks["replay"].result()
        if record:
            return _replay(record, submission), None, True
    try:
        moderation = _moderation(services, principal, submission)
    except InvalidField as refused:
        moderation, refusal = None, refused
    else:
        refusal = None
    place = checks["place"].result()
    if checks["photos"] is not None:
        checks["photos"].result()
    if refusal is not None:
        raise refusal
    phone = _phone(services, submission)

    for _attempt in range(3):
        now = now_iso()
        report_id = new_report_id()
        report = ReportModel(
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
                Location(lat=submission.lat, lng=submission.lng)
                if submission.lat is not None
                else None
            ),
            address=submission.address,
            phone=phone,
            anonymous=submission.anonymous,
            reporter_openid=principal.openid,
            filed_by_deputy=principal.deputy_id,
            event_count=1,
            **place,
            **(
                due_attributes(report_id, "match", utcnow() + MATCH_FALLBACK)
                if moderation == "pass"
                else {}
            ),
        )
        event = ReportEventModel(
            report.id,
            1,
            type="submitted",
            at=now,
            actor_id=principal.user_id,
            actor_role="citizen",
            note=None,
            photos=list(submission.photos),
        )
        try:
            with transact_write(services.settings) as transaction:
                transaction.save(report, condition=ReportModel.id.does_not_exist())
                transaction.save(event, condition=ReportEventModel.seq.does_not_exist())
                if idempotency_key:
                    transaction.save(
                        IdempotencyModel(
                            f"{principal.user_id}#{idempotency_key}",
                            report_id=report.id,
                            request_hash=submission.fingerprint(),
                            expires_at=int(time.time()) + IDEMPOTENCY_TTL_SECONDS,
                        ),
                        condition=IdempotencyModel.key.does_not_exist()
                        | (IdempotencyModel.expires_at < int(time.time())),
                    )
        except TransactWriteError as error:
            codes = set(cancellation_codes(error)) - {None, "None"}
            if not codes <= RETRYABLE_CANCELLATIONS:
                log_event(log, "report transaction failed", codes=sorted(codes))
                raise ServiceUnavailable("系统繁忙，请稍后重试", code="store_unavailable") from None
            if idempotency_key:
                record = _idempotency_record(principal, idempotency_key)
                if record:
                    return _replay(record, submission), None, True
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
        return report, event, False
    raise Conflict("提交冲突，请稍后重试", code="submit_conflict")
