"""Demo data for the local stack: a city, its districts, stations, deputies, departments, logins."""

from __future__ import annotations

import json
from pathlib import Path

from chalicelib.auth.users import MINI_PROGRAM, grant_role, user_for_login
from chalicelib.bootstrap import Services
from chalicelib.stations.directory import geo_fields
from chalicelib.store.models import DepartmentModel, DeputyModel, ScopeModel, StationModel

DEMO_FILE = Path(__file__).resolve().parent / "demo.json"


def demo_data() -> dict:
    """The demo data set (devstack/demo.json)."""
    return json.loads(DEMO_FILE.read_text(encoding="utf-8"))


def load_demo(services: Services) -> dict:
    """Write the demo data and bind the demo login codes; safe to run again."""
    data = demo_data()
    city_id = data["city"]["id"]
    ScopeModel("city", city_id, name=data["city"]["name"], wecom_key=f"robot-{city_id}").save()
    for row in data["districts"]:
        ScopeModel(
            "district",
            row["id"],
            name=row["name"],
            parent=f"city:{city_id}",
            wecom_key=f"robot-{row['id']}",
        ).save()
    stations = {}
    # Stations with staff in the demo (S01, S05) have a WeCom group robot, so their digests
    # go out (and are checked) like those of the city and the districts.
    staffed = {row["station_id"] for row in data["logins"] if row["role"] == "station_staff"}
    for row in data["stations"]:
        station = StationModel(
            row["id"],
            name=row["name"],
            kind=row["kind"],
            address=row["address"],
            hours=row.get("hours"),
            lat=row["lat"],
            lng=row["lng"],
            district_id=row["district_id"],
            city_id=city_id,
            **geo_fields(row["lat"], row["lng"]),
        )
        station.save()
        stations[station.id] = station
        ScopeModel(
            "station",
            station.id,
            name=station.name,
            parent=f"district:{station.district_id}",
            wecom_key=f"robot-{station.id}" if station.id in staffed else None,
        ).save()
    for row in data["deputies"]:
        station = stations[row["station_id"]]
        DeputyModel(
            row["id"],
            name=row["name"],
            level=row["level"],
            expertise=row["expertise"],
            phone=row["phone"],
            duty_weekdays=row.get("duty_weekdays", []),
            station_id=station.id,
            district_id=station.district_id,
            city_id=city_id,
        ).save()
    for row in data["departments"]:
        DepartmentModel(
            row["id"],
            name=row["name"],
            district_id=row.get("district_id"),
            city_id=city_id,
            categories=row["categories"],
        ).save()
    logins = {}
    for row in data["logins"]:
        # The same path as POST /auth/login, so the demo identity is linked by its unionid
        # and the web OAuth login (POST /auth/oauth) finds the same user.
        session = services.wechat.code_to_session(row["code"])
        user = user_for_login(
            services.settings.wechat_appid, MINI_PROGRAM, session["openid"], session.get("unionid")
        )
        binding = {k: v for k, v in row.items() if k not in ("code", "role")}
        grant_role(user.id, row["role"], **binding)
        logins[row["code"]] = {"user_id": user.id, **row}
    return {
        "stations": len(stations),
        "deputies": len(data["deputies"]),
        "departments": len(data["departments"]),
        "logins": logins,
    }
