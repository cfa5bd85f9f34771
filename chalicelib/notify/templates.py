"""How each notice purpose is rendered on each channel (WeChat subscribe message, template SMS).

A notice's payload carries flat string ``values`` supplied by the workflow (``report_id``,
``category_name``, ``station_name``, ``excerpt``, ``status_name``, ``deputy_name``, ``note``,
``deadline``; any may be absent) and optionally a ``page``.

Template ids and the mapping of values onto template fields come from the environment, read
at each call (Chalice applies a stage's variables only while a handler runs):

* ``WECHAT_TEMPLATES``: ``{purpose: {"template_id": "...", "fields": {"thing1": "category_name",
  "character_string2": "report_id", "phrase3": "=待接单"}, "page": "pages/x?id={report_id}"}}``.
  A field source starting with ``=`` is a literal. Values are cut to WeChat's limits per key
  type (``thing`` 20 characters, ``phrase`` 5, ``character_string`` 32 …; 47003 otherwise).
* ``SMS_TEMPLATES``: ``{purpose: {"template_id": "...", "params": ["category_name"],
  "text": "optional approved text with {1}", "without_link": {...}}}``; the ``combined`` entry
  takes one param, the count. Parameters are cut to Tencent's variable limits (6 characters;
  32 for ``*_id``). The param ``link`` is the URL Link of the deputy's task page (``link_path``:
  the same without ``https://host/``, for a template whose approved text fixes the domain),
  never cut; an entry taking it is sent with its ``without_link`` entry when no link is given.

Entries given in the environment replace the built-in entry of that purpose; the built-in
defaults (ids like ``tmpl-task-offered``) serve the local stack and the emulators.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from chalicelib.config import get_settings
from chalicelib.notify.template_defaults import COMBINED, DEFAULT_SMS, DEFAULT_WECHAT

BEIJING = timezone(timedelta(hours=8))
LINK_PARAMS = ("link", "link_path")

# Who each purpose is addressed to: decides which page a notice opens by default.
AUDIENCES: dict[str, str] = {
    "task_offered": "deputy",
    "second_handling_deputy": "deputy",
    "work_order": "handler",
    "work_order_unstaffed": "staff",
    "report_accepted": "citizen",
    "report_answered": "citizen",
    "report_resolved": "citizen",
    "second_handling": "citizen",
    "report_escalated": "staff",
    "report_unmatched": "staff",
    "report_merged": "citizen",
    "deadline_reminder": "deputy",
    "report_overdue": "staff",
    "staff_digest": "staff",
    "topic_opened": "staff",
}
PURPOSES = tuple(AUDIENCES)

CITIZEN_PAGE = "pages/report/detail?id={report_id}"

# Longest value WeChat accepts per subscribe-message key type (characters).
WECHAT_VALUE_LIMITS = {
    "thing": 20,
    "phrase": 5,
    "name": 10,
    "character_string": 32,
    "number": 32,
    "letter": 32,
    "symbol": 5,
    "car_number": 8,
    "phone_number": 17,
}
# Stand-ins for absent values (WeChat refuses empty values with 47003).
WECHAT_MISSING = {"thing": "无", "phrase": "无", "name": "无", "character_string": "-"}

SMS_PARAM_LIMIT = 6  # Tencent: a non-verification variable takes at most 6 characters …
SMS_ID_PARAM_LIMIT = 32  # … except numbers / codes ("其他号码")
SMS_MISSING = "无"


class TemplateError(ValueError):
    """No template is configured for a purpose, or the configuration is unreadable."""


@dataclass(frozen=True)
class WeChatMessage:
    """A rendered subscribe message."""

    template_id: str
    data: dict[str, str]
    page: str | None


@dataclass(frozen=True)
class SmsMessage:
    """A rendered template SMS."""

    template_id: str
    params: list[str]


def _configured(name: str, defaults: dict[str, dict]) -> dict[str, dict]:
    """Defaults overlaid with the JSON in ``name``.

    The built-in ids are the local emulators'; a deployed stage must configure its
    own (they are the account's, from the WeChat and Tencent consoles), so there a
    missing setting is an error, which leaves the notice failed and visible.
    """
    raw = os.environ.get(name)
    if not raw:
        if os.environ.get("STAGE", "local") != "local":
            raise TemplateError(f"{name} must be set outside the local stage")
        return defaults
    try:
        overrides = json.loads(raw)
    except ValueError as error:
        raise TemplateError(f"{name} is not JSON: {error}") from error
    if not isinstance(overrides, dict):
        raise TemplateError(f"{name} must be a JSON object keyed by purpose")
    return {**defaults, **overrides}


def wechat_templates() -> dict[str, dict]:
    """Every WeChat template entry: built-in defaults overlaid with ``WECHAT_TEMPLATES``."""
    return _configured("WECHAT_TEMPLATES", DEFAULT_WECHAT)


def sms_templates() -> dict[str, dict]:
    """Every SMS template entry: built-in defaults overlaid with ``SMS_TEMPLATES``."""
    return _configured("SMS_TEMPLATES", DEFAULT_SMS)


def sms_template_texts() -> dict[str, str]:
    """{template id: text} of the SMS templates that carry a text (to declare in the emulator)."""
    specs = [spec for spec in sms_templates().values() if isinstance(spec, dict)]
    specs += [spec["without_link"] for spec in specs if isinstance(spec.get("without_link"), dict)]
    return {
        str(spec["template_id"]): str(spec["text"])
        for spec in specs
        if spec.get("template_id") and spec.get("text")
    }


def sms_takes_link(purpose: str) -> bool:
    """Whether the SMS of ``purpose`` has a link parameter (delivery then gets one)."""
    try:
        spec = sms_templates().get(purpose)
    except TemplateError:
        return False
    params = spec.get("params", []) if isinstance(spec, dict) else []
    return any(name in LINK_PARAMS for name in params)


def _key_kind(key: str) -> str:
    return re.sub(r"\d+$", "", key)


def cut(value: str, limit: int, ellipsis: bool = True) -> str:
    """``value`` shortened to ``limit`` characters (ending in "…" when cut, if asked)."""
    if len(value) <= limit:
        return value
    if ellipsis and limit > 1:
        return value[: limit - 1] + "…"
    return value[:limit]


def _source(source: str, values: dict) -> str | None:
    if source.startswith("="):
        return source[1:]
    value = values.get(source)
    return None if value is None or str(value).strip() == "" else str(value).strip()


def _beijing_minute() -> str:
    return datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M")


def _wechat_value(key: str, value: str | None) -> str:
    kind = _key_kind(key)
    if value is None:
        if kind in ("time", "date"):
            return _beijing_minute()
        return WECHAT_MISSING.get(kind, "-")
    limit = WECHAT_VALUE_LIMITS.get(kind)
    if limit is None:
        return value
    # Codes and numbers are not cut with an ellipsis ("…" is not a valid character there).
    return cut(value, limit, ellipsis=kind in ("thing", "name"))


def _page(spec: dict, purpose: str, values: dict, page: str | None) -> str | None:
    if page:
        return page
    pattern = spec.get("page")
    if pattern is None:
        pattern = CITIZEN_PAGE if AUDIENCES.get(purpose) == "citizen" else _task_page()
    if not pattern:
        return None
    if "{report_id}" in pattern and not values.get("report_id"):
        return pattern.split("?", 1)[0]
    return pattern.format_map({k: str(v) for k, v in values.items()})


def _task_page() -> str:
    return get_settings().task_page + "?id={report_id}"


def render_wechat(purpose: str, values: dict, page: str | None = None) -> WeChatMessage:
    """The subscribe message of ``purpose`` with ``values`` (cut to WeChat's limits)."""
    spec = wechat_templates().get(purpose)
    if not isinstance(spec, dict) or not spec.get("template_id") or not spec.get("fields"):
        raise TemplateError(f"no WeChat template for purpose {purpose!r}")
    data = {
        key: _wechat_value(key, _source(str(source), values))
        for key, source in spec["fields"].items()
    }
    return WeChatMessage(
        template_id=str(spec["template_id"]), data=data, page=_page(spec, purpose, values, page)
    )


def _sms_param(name: str, value: str | None) -> str:
    if value is None:
        return SMS_MISSING
    if name in LINK_PARAMS:
        return value  # a cut link leads nowhere
    limit = SMS_ID_PARAM_LIMIT if name.endswith("_id") or name == "count" else SMS_PARAM_LIMIT
    return cut(value, limit, ellipsis=False)


def render_sms(purpose: str, values: dict) -> SmsMessage:
    """The template SMS of ``purpose`` with ``values`` (cut to Tencent's variable limits)."""
    spec = sms_templates().get(purpose)
    if not isinstance(spec, dict) or not spec.get("template_id"):
        raise TemplateError(f"no SMS template for purpose {purpose!r}")
    takes_link = any(name in LINK_PARAMS for name in spec.get("params", []))
    if takes_link and not values.get("link") and isinstance(spec.get("without_link"), dict):
        spec = spec["without_link"]
    params = [_sms_param(str(name), _source(str(name), values)) for name in spec.get("params", [])]
    return SmsMessage(template_id=str(spec["template_id"]), params=params)


def render_combined_sms(count: int) -> SmsMessage:
    """The one SMS replacing ``count`` pending ones to the same number."""
    return render_sms(COMBINED, {"count": str(count)})
