"""URL Links for SMS: a deputy's SMS about a report opens its task page from the phone.

The link (`wxa/generate_urllink`) is made at delivery time, not stored in the transition,
and kept for its validity in the shared tokens table (`urllink#<path>?<query>`, plus an
in-process cache), so the three deputies offered one report cost WeChat one call. A failure
to get a link never holds an SMS back: it goes out without one (its `without_link`
template) and a warning is logged.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

from chalicelib.bootstrap import Services
from chalicelib.notify.templates import sms_takes_link
from chalicelib.observability import get_logger, log_event

log = get_logger("notify.links")

LINK_DAYS = 30  # the longest a URL Link may live (expire_type 1)
REUSE_MARGIN_SECONDS = 86400  # reuse a link only while it has more than a day left
LINK_RECIPIENTS = ("deputy",)

_cache: dict[str, tuple[str, float]] = {}


def _key(path: str, query: str) -> str:
    return f"urllink#{path}?{query}"


def _stored(key: str, now: float) -> str | None:
    from chalicelib.store.models import TokenModel

    cached = _cache.get(key)
    if cached and cached[1] > now:
        return cached[0]
    try:
        item = TokenModel.get(key)
    except TokenModel.DoesNotExist:
        return None
    if float(item.expires_at) <= now:
        return None
    _cache[key] = (item.value, float(item.expires_at))
    return item.value


def page_link(services: Services, path: str, query: str, now: float | None = None) -> str:
    """A URL Link opening `path?query`, reused while it has more than a day left.

    Raises the gateway's `WeChatError` when WeChat gives none.
    """
    from chalicelib.store.models import TokenModel

    now = time.time() if now is None else now
    key = _key(path, query)
    link = _stored(key, now)
    if link:
        return link
    link = services.wechat.url_link(path, query, days=LINK_DAYS)
    reuse_until = int(now + LINK_DAYS * 86400 - REUSE_MARGIN_SECONDS)
    TokenModel(key, value=link, expires_at=reuse_until).save()
    _cache[key] = (link, float(reuse_until))
    return link


def link_path(link: str) -> str:
    """The link without its scheme and host (`https://wxaurl.cn/AbC` → `AbC`)."""
    parts = urlsplit(link)
    return link[len(f"{parts.scheme}://{parts.netloc}/") :] if parts.netloc else link


def with_task_link(services: Services, purpose: str, recipient_kind: str, values: dict) -> dict:
    """`values` with `link` / `link_path` to the report's task page, when this SMS takes one.

    Only for deputies' SMS about one report whose template has a link parameter; without a
    link (WeChat refused or did not answer) the values are returned as they were.
    """
    from pynamodb.exceptions import PynamoDBException

    from chalicelib.adapters.wechat import WeChatError

    report_id = values.get("report_id")
    if recipient_kind not in LINK_RECIPIENTS or not report_id or not sms_takes_link(purpose):
        return values
    try:
        link = page_link(services, services.settings.task_page, f"id={report_id}")
    except (WeChatError, PynamoDBException) as error:
        log_event(
            log,
            "no URL Link for the SMS; sent without one",
            logging.WARNING,
            report_id=report_id,
            purpose=purpose,
            errcode=getattr(error, "errcode", None),
            error=str(error),
        )
        return values
    return {**values, "link": link, "link_path": link_path(link)}
