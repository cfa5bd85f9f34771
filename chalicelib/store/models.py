"""PynamoDB models: one model per item type, one table per model.

Access patterns (each served by a key or an index, never a Scan):

| pattern                                  | table / index                               |
|------------------------------------------|---------------------------------------------|
| user by id (id derived from openid)      | users: hash id                              |
| shared WeChat access token               | tokens: hash name                           |
| station by id                            | stations: hash id                           |
| stations near a point                    | stations.geo: hash geo_bucket, range geohash|
| deputies of a station                    | deputies.station: hash station_id, range id |
| deputy by id                             | deputies: hash id                           |
| department by id                         | departments: hash id                        |
| report by id                             | reports: hash id                            |
| a citizen's reports, newest first        | reports.reporter: hash reporter_id, range created_at |
| timeline of a report, in order           | report_events: hash report_id, range seq    |
| retry of a submission (Idempotency-Key)  | idempotency: hash key (TTL)                 |

Table names come from configuration (`TABLE_PREFIX` + logical name); `bind_models`
points every model at the configured tables and endpoint.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

from chalicelib.config import Settings


class _Base(Model):
    class Meta:
        abstract = True


class UserModel(_Base):
    """A person who logged in through WeChat; roles and bindings are set by admins."""

    class Meta:
        table_name = "unbound-users"
        logical_name = "users"

    id = UnicodeAttribute(hash_key=True)
    openid = UnicodeAttribute()
    roles = UnicodeSetAttribute(default=lambda: {"citizen"})
    deputy_id = UnicodeAttribute(null=True)
    station_id = UnicodeAttribute(null=True)
    district_id = UnicodeAttribute(null=True)
    city_id = UnicodeAttribute(null=True)
    department_id = UnicodeAttribute(null=True)
    display_name = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()


class TokenModel(_Base):
    """Credentials shared by every Lambda instance (the WeChat access token)."""

    class Meta:
        table_name = "unbound-tokens"
        logical_name = "tokens"

    name = UnicodeAttribute(hash_key=True)
    value = UnicodeAttribute()
    expires_at = NumberAttribute()


class StationGeoIndex(GlobalSecondaryIndex):
    """Stations by geohash: hash = 3-character cell, range = full geohash."""

    class Meta:
        index_name = "geo"
        projection = AllProjection()

    geo_bucket = UnicodeAttribute(hash_key=True)
    geohash = UnicodeAttribute(range_key=True)


class StationModel(_Base):
    """A deputy liaison station, village committee or service hall."""

    class Meta:
        table_name = "unbound-stations"
        logical_name = "stations"

    id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    kind = UnicodeAttribute(default="station")
    address = UnicodeAttribute()
    hours = UnicodeAttribute(null=True)
    lat = NumberAttribute()
    lng = NumberAttribute()
    geohash = UnicodeAttribute()
    geo_bucket = UnicodeAttribute()
    district_id = UnicodeAttribute()
    city_id = UnicodeAttribute()
    geo = StationGeoIndex()


class DeputyStationIndex(GlobalSecondaryIndex):
    """Deputies by their home station."""

    class Meta:
        index_name = "station"
        projection = AllProjection()

    station_id = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)


class DeputyModel(_Base):
    """A people's-congress deputy; the phone number is for notices, never shown to citizens."""

    class Meta:
        table_name = "unbound-deputies"
        logical_name = "deputies"

    id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    level = UnicodeAttribute()
    expertise = ListAttribute(of=UnicodeAttribute, default=list)
    phone = UnicodeAttribute(null=True)
    station_id = UnicodeAttribute()
    district_id = UnicodeAttribute()
    city_id = UnicodeAttribute()
    user_id = UnicodeAttribute(null=True)
    station = DeputyStationIndex()


class DepartmentModel(_Base):
    """A department that handles work orders (城管局, 住建局 …)."""

    class Meta:
        table_name = "unbound-departments"
        logical_name = "departments"

    id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    district_id = UnicodeAttribute(null=True)
    city_id = UnicodeAttribute()
    categories = ListAttribute(of=UnicodeAttribute, default=list)


class Location(MapAttribute):
    lat = NumberAttribute()
    lng = NumberAttribute()


class ReportReporterIndex(GlobalSecondaryIndex):
    """A reporter's reports, newest first (scan_index_forward=False)."""

    class Meta:
        index_name = "reporter"
        projection = IncludeProjection(
            ["status", "moderation", "category", "text", "station_id", "photos"]
        )

    reporter_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class ReportModel(_Base):
    """A citizen's report; its history lives in ReportEventModel."""

    class Meta:
        table_name = "unbound-reports"
        logical_name = "reports"

    id = UnicodeAttribute(hash_key=True)
    reporter_id = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    status = UnicodeAttribute()
    moderation = UnicodeAttribute(default="pass")
    category = UnicodeAttribute()
    text = UnicodeAttribute()
    photos = ListAttribute(of=UnicodeAttribute, default=list)
    station_id = UnicodeAttribute(null=True)
    district_id = UnicodeAttribute(null=True)
    city_id = UnicodeAttribute(null=True)
    location = Location(null=True)
    address = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    anonymous = BooleanAttribute(default=False)
    matched_deputy_ids = ListAttribute(of=UnicodeAttribute, default=list)
    event_count = NumberAttribute(default=1)
    version = VersionAttribute()
    reporter = ReportReporterIndex()


class ReportEventModel(_Base):
    """One append-only timeline event of a report."""

    class Meta:
        table_name = "unbound-report_events"
        logical_name = "report_events"

    report_id = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(range_key=True)
    type = UnicodeAttribute()
    at = UnicodeAttribute()
    actor_id = UnicodeAttribute(null=True)
    actor_role = UnicodeAttribute()
    note = UnicodeAttribute(null=True)
    photos = ListAttribute(of=UnicodeAttribute, default=list)
    internal = BooleanAttribute(default=False)


class IdempotencyModel(_Base):
    """Remembers which report a (user, Idempotency-Key) pair produced; expires by TTL."""

    class Meta:
        table_name = "unbound-idempotency"
        logical_name = "idempotency"

    key = UnicodeAttribute(hash_key=True)
    report_id = UnicodeAttribute()
    request_hash = UnicodeAttribute()
    expires_at = NumberAttribute()


ALL_MODELS: tuple[type[_Base], ...] = (
    UserModel,
    TokenModel,
    StationModel,
    DeputyModel,
    DepartmentModel,
    ReportModel,
    ReportEventModel,
    IdempotencyModel,
)

TTL_ATTRIBUTES = {IdempotencyModel: "expires_at"}

_bound_to: tuple | None = None


def bind_models(settings: Settings) -> None:
    """Point every model at the configured tables, region and endpoint (idempotent)."""
    global _bound_to
    target = (settings.table_prefix, settings.dynamodb_endpoint, settings.region)
    if _bound_to == target:
        return
    for model in ALL_MODELS:
        model.Meta.table_name = settings.table_name(model.Meta.logical_name)
        model.Meta.host = settings.dynamodb_endpoint
        model.Meta.region = settings.region
        model._connection = None
    _bound_to = target
