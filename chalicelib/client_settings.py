"""What the mini-program and the browser build need before a tap, public and cacheable.

Never a secret: template ids, the web OAuth appid, limits and page paths are all shown to
users' devices anyway.
"""

from __future__ import annotations

from chalicelib.adapters.uploads import ALLOWED_TYPES
from chalicelib.config import Settings
from chalicelib.notify.templates import AUDIENCES, TemplateError, wechat_templates
from chalicelib.reports.submission import MAX_PHOTOS, MAX_TEXT

CACHE_SECONDS = 300
# What a citizen is asked to subscribe to right after sending a report, in this order
# (`wx.requestSubscribeMessage` takes at most 3 template ids per call).
AFTER_REPORT = ("report_accepted", "report_resolved", "report_answered")
MAX_SUBSCRIBE = 3
OAUTH_SCOPE = "snsapi_userinfo"


def _citizen_templates() -> dict[str, str]:
    """{purpose: template id} of every notice a citizen can get (configured ones only)."""
    try:
        templates = wechat_templates()
    except TemplateError:
        return {}
    found = {}
    for purpose, audience in AUDIENCES.items():
        spec = templates.get(purpose)
        if audience == "citizen" and isinstance(spec, dict) and spec.get("template_id"):
            found[purpose] = str(spec["template_id"])
    return found


def client_settings(settings: Settings) -> dict:
    """The public client settings (`GET /client/settings`)."""
    templates = _citizen_templates()
    after_report = list(dict.fromkeys(templates[p] for p in AFTER_REPORT if p in templates))
    return {
        "subscribe": {"report": after_report[:MAX_SUBSCRIBE], "templates": templates},
        "oauth": {
            "enabled": bool(settings.oauth_appid and settings.oauth_secret),
            "appid": settings.oauth_appid,
            "scope": OAUTH_SCOPE,
        },
        "limits": {
            "photos_max": MAX_PHOTOS,
            "text_min": 1,
            "text_max": MAX_TEXT,
            "upload_max_bytes": settings.upload_max_bytes,
            "upload_types": sorted(ALLOWED_TYPES),
        },
        "privacy": {"version": settings.privacy_version},
        "pages": {"report": settings.report_page, "task": settings.task_page},
    }
