"""Routes: stations near a point, a station with its deputies, its QR code; categories."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api.http import caller, int_param, query_param, require_accept
from chalicelib.bootstrap import services
from chalicelib.errors import InvalidField
from chalicelib.reports.categories import taxonomy
from chalicelib.stations.directory import nearest_stations, station_detail, station_summary
from chalicelib.stations.qrcode import station_qrcode_png

blueprint = Blueprint(__name__)
MAX_STATIONS = 50


def _coordinate(name: str, low: float, high: float) -> float:
    value = query_param(blueprint.current_request, name)
    if value is None or value == "":
        raise InvalidField("缺少坐标参数", field=name, code="missing_field")
    try:
        number = float(value)
    except ValueError:
        raise InvalidField("坐标必须是数字", field=name) from None
    if not low <= number <= high:
        raise InvalidField(f"坐标超出范围（{low}～{high}）", field=name)
    return number


@blueprint.route("/stations", methods=["GET"])
def list_nearest_stations():
    services()
    lat = _coordinate("lat", -90, 90)
    lng = _coordinate("lng", -180, 180)
    limit = int_param(
        blueprint.current_request,
        "limit",
        default=10,
        low=1,
        high=MAX_STATIONS,
        message=f"数量须为 1～{MAX_STATIONS}",
    )
    found = nearest_stations(lat, lng, limit)
    return {"stations": [station_summary(station, distance) for station, distance in found]}


@blueprint.route("/stations/{station_id}", methods=["GET"])
def get_station_detail(station_id: str):
    services()
    return station_detail(station_id)


@blueprint.route("/stations/{station_id}/qrcode", methods=["GET"])
def get_station_qrcode(station_id: str):
    request = blueprint.current_request
    caller(request)
    require_accept(request, "image/png")
    png = station_qrcode_png(services(), station_id)
    return Response(
        body=png,
        status_code=200,
        headers={"Content-Type": "image/png", "Cache-Control": "public, max-age=86400"},
    )


@blueprint.route("/categories", methods=["GET"])
def list_categories():
    return taxonomy()
