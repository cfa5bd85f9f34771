"""Station QR codes: WeChat's unlimited mini-program code, scene = station id, cached in S3."""

from __future__ import annotations

from chalicelib.adapters.uploads import QRCODE_PREFIX
from chalicelib.bootstrap import Services
from chalicelib.errors import ServiceUnavailable
from chalicelib.stations.directory import get_station


def station_qrcode_png(services: Services, station_id: str) -> bytes:
    """PNG of the code that opens the report page on `station_id` (generated once, then cached)."""
    from chalicelib.adapters.wechat import WeChatError

    station = get_station(station_id)
    settings = services.settings
    key = f"{QRCODE_PREFIX}/{settings.qrcode_env_version}/{station.id}.png"
    cached = services.uploads.get_bytes(key)
    if cached:
        return cached
    try:
        png = services.wechat.station_qrcode(
            scene=station.id, page=settings.report_page, env_version=settings.qrcode_env_version
        )
    except WeChatError:
        raise ServiceUnavailable("二维码生成失败，请稍后重试", code="qrcode_unavailable") from None
    services.uploads.put_bytes(key, png, "image/png")
    return png
