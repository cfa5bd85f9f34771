"""Validation of a report submission (pure: no I/O)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from chalicelib.errors import BadRequest, InvalidField
from chalicelib.reports.categories import is_category

MAX_TEXT = 1000
MAX_PHOTOS = 9
MAX_ADDRESS = 200
STATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
FIELDS = {
    "station_id",
    "location",
    "category",
    "text",
    "photos",
    "address",
    "phone_code",
    "anonymous",
}


@dataclass(frozen=True)
class Submission:
    """A validated report submission."""

    category: str
    text: str
    photos: tuple[str, ...]
    station_id: str | None
    lat: float | None
    lng: float | None
    address: str | None
    phone_code: str | None
    anonymous: bool

    def fingerprint(self) -> str:
        """Hash of the content, to tell a retry from a different report under one key."""
        canonical = json.dumps(
            [
                self.category,
                self.text,
                self.photos,
                self.station_id,
                self.lat,
                self.lng,
                self.address,
                self.anonymous,
            ],
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


def _number(value: object, field: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidField("坐标必须是数字", field=field)
    if not low <= value <= high:
        raise InvalidField(f"坐标超出范围（{low}～{high}）", field=field)
    return float(value)


def _optional_text(body: dict, field: str, limit: int) -> str | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidField("必须是文字", field=field)
    value = value.strip()
    if len(value) > limit:
        raise InvalidField(f"不能超过 {limit} 个字", field=field)
    return value or None


def parse_submission(body: object) -> Submission:
    """Validate a `POST /reports` body; `InvalidField` names the first bad field."""
    if not isinstance(body, dict):
        raise BadRequest("请求内容必须是 JSON 对象", code="invalid_body")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise InvalidField("不支持的字段", field=unknown[0], code="unknown_field")

    station_id = body.get("station_id")
    if station_id is not None and (
        not isinstance(station_id, str) or not STATION_ID.match(station_id)
    ):
        raise InvalidField("联络站编号格式不正确", field="station_id")

    lat = lng = None
    location = body.get("location")
    if location is not None:
        if not isinstance(location, dict):
            raise InvalidField("位置必须包含 lat 和 lng", field="location")
        if "lat" not in location:
            raise InvalidField("缺少纬度", field="location.lat")
        if "lng" not in location:
            raise InvalidField("缺少经度", field="location.lng")
        lat = _number(location["lat"], "location.lat", -90, 90)
        lng = _number(location["lng"], "location.lng", -180, 180)
    if station_id is None and location is None:
        raise InvalidField(
            "请扫描联络站二维码或允许获取位置", field="station_id", code="missing_place"
        )

    category = body.get("category")
    if category is None:
        raise InvalidField("请选择问题类别", field="category", code="missing_field")
    if not is_category(category):
        raise InvalidField("问题类别不存在，请重新选择", field="category")

    text = body.get("text")
    if text is None:
        raise InvalidField("请填写问题描述", field="text", code="missing_field")
    if not isinstance(text, str):
        raise InvalidField("问题描述必须是文字", field="text")
    text = text.strip()
    if not text:
        raise InvalidField("请填写问题描述", field="text", code="missing_field")
    if len(text) > MAX_TEXT:
        raise InvalidField(f"问题描述不能超过 {MAX_TEXT} 个字", field="text")

    photos = body.get("photos", [])
    if photos is None:
        photos = []
    if not isinstance(photos, list):
        raise InvalidField("照片必须是列表", field="photos")
    if len(photos) > MAX_PHOTOS:
        raise InvalidField(f"照片最多 {MAX_PHOTOS} 张", field="photos")
    for index, key in enumerate(photos):
        if not isinstance(key, str) or not key or len(key) > 256:
            raise InvalidField("照片编号不正确", field=f"photos[{index}]")
    if len(set(photos)) != len(photos):
        raise InvalidField("照片重复", field="photos")

    address = _optional_text(body, "address", MAX_ADDRESS)

    phone_code = body.get("phone_code")
    if phone_code is not None and (
        not isinstance(phone_code, str) or not 1 <= len(phone_code) <= 128
    ):
        raise InvalidField("手机号授权码不正确", field="phone_code")

    anonymous = body.get("anonymous", False)
    if not isinstance(anonymous, bool):
        raise InvalidField("匿名选项必须是 true 或 false", field="anonymous")

    return Submission(
        category=category,
        text=text,
        photos=tuple(photos),
        station_id=station_id,
        lat=lat,
        lng=lng,
        address=address,
        phone_code=phone_code,
        anonymous=anonymous,
    )


def parse_idempotency_key(value: str | None) -> str | None:
    """The `Idempotency-Key` header, validated (8–64 of A-Z a-z 0-9 _ -)."""
    if value is None:
        return None
    if not IDEMPOTENCY_KEY.match(value):
        raise InvalidField(
            "Idempotency-Key 须为 8～64 位字母、数字、下划线或连字符", field="Idempotency-Key"
        )
    return value
