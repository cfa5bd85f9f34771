"""PynamoDB models: one model per item type, one table per model.

Access patterns (each served by a key or an index, never a Scan):

| pattern                                  | table / index                               |
|------------------------------------------|---------------------------------------------|
| user by id (id derived from openid)      | users: hash id                              |
| user of a unionid (mini-program and web) | user_links: hash key `unionid#<unionid>`    |
| shared WeChat access token               | tokens: hash name                           |
| station by id                            | stations: hash id                           |
| stations near a point                    | stations.geo: hash geo_bucket, range geohash|
| deputies of a station                    | deputies.station: hash station_id, range id |
| deputy by id                             | deputies: hash id                           |
| department by id                         | departments: hash id                        |
| departments of a city (transfer picker)  | departments.city: hash city_id, range id    |
| report by id                             | reports: hash id                            |
| a citizen's reports, newest first        | reports.reporter: hash reporter_id, range created_at |
| timeline of a report, in order           | the report (seq 1) + report_events: seq > 1 |
| retry of a submission (Idempotency-Key)  | reports: hash id (derived from user and key) |
| confirmed uploads of a submission's photos | uploads: hash key (consistent Get(s), TTL) |
| staff of a station / district / city     | users.station / users.district / users.city |
| handlers of a department                 | users.department                            |
| deputies of a district (matching)        | deputies.district: hash district_id         |
| a deputy's tasks by status, newest first | tasks.status: hash deputy_id, range status_key |
| counts of a deputy's tasks per status    | tasks.status: Select COUNT, begins_with status |
| a department's work orders, open first   | reports.work_orders: hash department_id (sparse) |
| URL Link of a report's page (SMS)        | tokens: hash name `urllink#…` (TTL)         |
| offers of a report                       | tasks: query GSI report: hash report_id     |
| reports whose current step is due        | reports.due: hash due_shard, range due_at (sparse) |
| notices of a report                      | outbox.report: hash report_id               |
| notices due to be (re)sent               | outbox.due: hash due_shard, range due_at (sparse) |
| pending SMS to one phone (combining)     | outbox.sms_pending: hash sms_phone (sparse) |
| failed notices (staff view)              | outbox.failed: hash failed_bucket (sparse)  |
| SMS sent to a phone today                | sms_ledger: hash phone_day (TTL)            |
| overdue reports of a district, oldest    | reports.overdue: hash overdue_district (sparse) |
| held for review / unmatched, per district | reports.queue: hash queue_key (sparse)   |
| a scope's counters over a period         | stats: hash scope, range day#metric (BETWEEN) |
| every city / district / station          | scopes: hash kind                           |
| reports filed on a day (micro-topic job) | topic_log: hash day, range created_at#report_id (TTL) |
| micro-topics of a district / city        | topics.district / topics.city: range opened_at |
| the open topic of a group                | topic_groups: hash district#category#place  |
| a deputy's duties over a period          | duty_activities: hash deputy_id, range date#id |

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
from pynamodb.indexes import (
    AllProjection,
    GlobalSecondaryIndex,
    IncludeProjection,
    KeysOnlyProjection,
)
from pynamodb.models import Model

from chalicelib.config import Settings


class _Base(Model):
    class Meta:
        abstract = True


class UsersStationIndex(GlobalSecondaryIndex):
    """Staff bound to a station."""

    class Meta:
        index_name = "station"
        projection = IncludeProjection(["openid", "roles", "display_name"])

    station_id = UnicodeAttribute(hash_key=True)


class UsersDistrictIndex(GlobalSecondaryIndex):
    """Staff bound to a district."""

    class Meta:
        index_name = "district"
        projection = IncludeProjection(["openid", "roles", "display_name"])

    district_id = UnicodeAttribute(hash_key=True)


class UsersCityIndex(GlobalSecondaryIndex):
    """Staff bound to a city."""

    class Meta:
        index_name = "city"
        projection = IncludeProjection(["openid", "roles", "display_name"])

    city_id = UnicodeAttribute(hash_key=True)


class UsersDepartmentIndex(GlobalSecondaryIndex):
    """Handlers of a department."""

    class Meta:
        index_name = "department"
        projection = IncludeProjection(["openid", "roles", "display_name"])

    department_id = UnicodeAttribute(hash_key=True)


class UserModel(_Base):
    """A person who logged in through WeChat; roles and bindings are set by admins.

    `openid` is the openid notices and content checks use: the mini-program's, or, for a
    person who has only logged in on the web, the web app's (replaced by the mini-program's
    at their first mini-program login). `web_openid`: the web OAuth app's; `unionid`: the
    person across the open-platform account's apps (see `UserLinkModel`).
    """

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
    unionid = UnicodeAttribute(null=True)
    web_openid = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    by_station = UsersStationIndex()
    by_district = UsersDistrictIndex()
    by_city = UsersCityIndex()
    by_department = UsersDepartmentIndex()


class UserLinkModel(_Base):
    """One person across WeChat apps: `unionid#<unionid>` → the user id.

    Put with a condition (no such key yet) at the first login that brings the unionid, from
    the mini-program or the web OAuth; read by key (consistently) at every later login, so
    the same person is one user, with one set of roles, whichever app they log in through.
    """

    class Meta:
        table_name = "unbound-user_links"
        logical_name = "user_links"

    key = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    created_at = UnicodeAttribute()


class TokenModel(_Base):
    """Short-lived values shared by every Lambda instance: the WeChat access token, and the
    URL Link of a report's page (`urllink#…`, reused for every SMS about it). `expires_at`
    (epoch seconds) is also the table's TTL."""

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


class DeputyDistrictIndex(GlobalSecondaryIndex):
    """Deputies of a district (matching candidates)."""

    class Meta:
        index_name = "district"
        projection = AllProjection()

    district_id = UnicodeAttribute(hash_key=True)
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
    openid = UnicodeAttribute(null=True)
    duty_weekdays = ListAttribute(of=NumberAttribute, default=list)
    open_tasks = NumberAttribute(default=0)
    station = DeputyStationIndex()
    district = DeputyDistrictIndex()


class DepartmentCityIndex(GlobalSecondaryIndex):
    """A city's departments, its districts' and the city-wide ones (the transfer picker)."""

    class Meta:
        index_name = "city"
        projection = AllProjection()

    city_id = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)


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
    city = DepartmentCityIndex()


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


class Candidate(MapAttribute):
    """A deputy considered for a report, with the score and the reasons for it."""

    deputy_id = UnicodeAttribute()
    name = UnicodeAttribute()
    score = NumberAttribute()
    reasons = ListAttribute(of=UnicodeAttribute, default=list)


class Evaluation(MapAttribute):
    """The reporter's verdict on one round of handling."""

    round = NumberAttribute()
    result = UnicodeAttribute()
    comment = UnicodeAttribute(null=True)
    at = UnicodeAttribute()


class ReportDueIndex(GlobalSecondaryIndex):
    """Reports whose current step has a deadline (sparse: only while a step is open)."""

    class Meta:
        index_name = "due"
        projection = IncludeProjection(["status", "due_kind", "version"])

    due_shard = UnicodeAttribute(hash_key=True)
    due_at = UnicodeAttribute(range_key=True)


class ReportOverdueIndex(GlobalSecondaryIndex):
    """Open reports past their step's deadline, per district, oldest first (sparse)."""

    class Meta:
        index_name = "overdue"
        projection = IncludeProjection(
            [
                "status",
                "due_kind",
                "accepted_by",
                "department_id",
                "station_id",
                "category",
                "ladder_rung",
                "step_due_at",
            ]
        )

    overdue_district = UnicodeAttribute(hash_key=True)
    overdue_since = UnicodeAttribute(range_key=True)


class ReportQueueIndex(GlobalSecondaryIndex):
    """Reports waiting for staff, per list and district (sparse).

    `queue_key` is `review#<district>` while the content check holds a report for staff
    review, `unmatched#<district>` while it waits for staff to assign a deputy; it is
    removed in the transition that ends the wait. `queued_at`: when the wait began.
    """

    class Meta:
        index_name = "queue"
        projection = IncludeProjection(
            [
                "status",
                "moderation",
                "category",
                "text",
                "station_id",
                "created_at",
                "step_due_at",
                "ladder_rung",
            ]
        )

    queue_key = UnicodeAttribute(hash_key=True)
    queued_at = UnicodeAttribute(range_key=True)


class ReportWorkOrderIndex(GlobalSecondaryIndex):
    """Work orders of a department (sparse: only reports transferred to one).

    `work_order_key` is `open#<deadline>` while the report is being handled (oldest deadline,
    so the overdue ones, first) and `done#<when it left handling>` after it (newest first with
    a descending Query); the engine sets it in every transition of a transferred report
    (`chalicelib.workflow.work_orders`).
    """

    class Meta:
        index_name = "work_orders"
        projection = IncludeProjection(
            [
                "status",
                "category",
                "text",
                "station_id",
                "accepted_by",
                "work_order_due",
                "transferred_at",
                "overdue_since",
                "updated_at",
            ]
        )

    department_id = UnicodeAttribute(hash_key=True)
    work_order_key = UnicodeAttribute(range_key=True)


class ReportModel(_Base):
    """A citizen's report, which is also its first timeline step (`submitted`).

    Later steps live in ReportEventModel (seq 2 …). Under an `Idempotency-Key` the id
    is derived from the user and the key; `submission_hash` tells a retry of the same
    content from other content under the same key.
    """

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
    reporter_openid = UnicodeAttribute(null=True)
    filed_by_deputy = UnicodeAttribute(null=True)
    submission_hash = UnicodeAttribute(null=True)
    matched_deputy_ids = ListAttribute(of=UnicodeAttribute, default=list)
    candidates = ListAttribute(of=Candidate, default=list)
    declined_by = ListAttribute(of=UnicodeAttribute, default=list)
    accepted_by = UnicodeAttribute(null=True)
    accepted_at = UnicodeAttribute(null=True)
    handling = UnicodeAttribute(null=True)
    department_id = UnicodeAttribute(null=True)
    work_order_due = UnicodeAttribute(null=True)
    transferred_at = UnicodeAttribute(null=True)
    work_order_key = UnicodeAttribute(null=True)
    round = NumberAttribute(default=1)
    resolved_at = UnicodeAttribute(null=True)
    closed_at = UnicodeAttribute(null=True)
    close_reason = UnicodeAttribute(null=True)
    evaluations = ListAttribute(of=Evaluation, default=list)
    merged_into = UnicodeAttribute(null=True)
    followers = ListAttribute(of=UnicodeAttribute, default=list)
    due_shard = UnicodeAttribute(null=True)
    due_at = UnicodeAttribute(null=True)
    due_kind = UnicodeAttribute(null=True)
    step_started_at = UnicodeAttribute(null=True)
    step_due_at = UnicodeAttribute(null=True)
    ladder_rung = NumberAttribute(null=True)
    overdue_district = UnicodeAttribute(null=True)
    overdue_since = UnicodeAttribute(null=True)
    queue_key = UnicodeAttribute(null=True)
    queued_at = UnicodeAttribute(null=True)
    event_count = NumberAttribute(default=1)
    version = VersionAttribute()
    reporter = ReportReporterIndex()
    due = ReportDueIndex()
    overdue = ReportOverdueIndex()
    queue = ReportQueueIndex()
    work_orders = ReportWorkOrderIndex()


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


class TaskStatusIndex(GlobalSecondaryIndex):
    """A deputy's tasks by status, newest first (range = status#updated_at)."""

    class Meta:
        index_name = "status"
        projection = AllProjection()

    deputy_id = UnicodeAttribute(hash_key=True)
    status_key = UnicodeAttribute(range_key=True)


class TaskReportIndex(GlobalSecondaryIndex):
    """The offers of one report."""

    class Meta:
        index_name = "report"
        projection = AllProjection()

    report_id = UnicodeAttribute(hash_key=True)
    deputy_id = UnicodeAttribute(range_key=True)


class TaskModel(_Base):
    """A report as one deputy's task: offered, accepted, in progress, closed or withdrawn."""

    class Meta:
        table_name = "unbound-tasks"
        logical_name = "tasks"

    deputy_id = UnicodeAttribute(hash_key=True)
    report_id = UnicodeAttribute(range_key=True)
    status = UnicodeAttribute()
    status_key = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    offered_at = UnicodeAttribute()
    score = NumberAttribute(default=0)
    reasons = ListAttribute(of=UnicodeAttribute, default=list)
    taken_by = UnicodeAttribute(null=True)
    note = UnicodeAttribute(null=True)
    category = UnicodeAttribute()
    excerpt = UnicodeAttribute()
    station_id = UnicodeAttribute(null=True)
    by_status = TaskStatusIndex()
    by_report = TaskReportIndex()


class OutboxDueIndex(GlobalSecondaryIndex):
    """Notices waiting to be (re)sent (sparse: only while pending)."""

    class Meta:
        index_name = "due"
        projection = KeysOnlyProjection()

    due_shard = UnicodeAttribute(hash_key=True)
    due_at = NumberAttribute(range_key=True)


class OutboxReportIndex(GlobalSecondaryIndex):
    """Every notice caused by one report."""

    class Meta:
        index_name = "report"
        projection = AllProjection()

    report_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class OutboxSmsPendingIndex(GlobalSecondaryIndex):
    """SMS still pending for one phone number, to send as one combined message."""

    class Meta:
        index_name = "sms_pending"
        projection = KeysOnlyProjection()

    sms_phone = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class OutboxFailedIndex(GlobalSecondaryIndex):
    """Notices that failed for good, newest first (for staff)."""

    class Meta:
        index_name = "failed"
        projection = AllProjection()

    failed_bucket = UnicodeAttribute(hash_key=True)
    failed_at = UnicodeAttribute(range_key=True)


class OutboxModel(_Base):
    """One notice to one person on one channel; its id is its idempotency key."""

    class Meta:
        table_name = "unbound-outbox"
        logical_name = "outbox"

    id = UnicodeAttribute(hash_key=True)
    report_id = UnicodeAttribute()
    purpose = UnicodeAttribute()
    channel = UnicodeAttribute()
    recipient_kind = UnicodeAttribute()
    recipient_id = UnicodeAttribute()
    address = UnicodeAttribute(null=True)
    payload = MapAttribute(default=dict)
    status = UnicodeAttribute(default="pending")
    attempts = NumberAttribute(default=0)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    lease_until = NumberAttribute(default=0)
    last_error = UnicodeAttribute(null=True)
    sent_at = UnicodeAttribute(null=True)
    provider_id = UnicodeAttribute(null=True)
    combined_into = UnicodeAttribute(null=True)
    scope_station_id = UnicodeAttribute(null=True)
    scope_district_id = UnicodeAttribute(null=True)
    scope_city_id = UnicodeAttribute(null=True)
    due_shard = UnicodeAttribute(null=True)
    due_at = NumberAttribute(null=True)
    sms_phone = UnicodeAttribute(null=True)
    failed_bucket = UnicodeAttribute(null=True)
    failed_at = UnicodeAttribute(null=True)
    version = VersionAttribute()
    due = OutboxDueIndex()
    by_report = OutboxReportIndex()
    sms_pending = OutboxSmsPendingIndex()
    failed = OutboxFailedIndex()


class SmsLedgerModel(_Base):
    """SMS sent to one phone on one Beijing day: frequency limits are kept before sending."""

    class Meta:
        table_name = "unbound-sms_ledger"
        logical_name = "sms_ledger"

    phone_day = UnicodeAttribute(hash_key=True)
    count = NumberAttribute(default=0)
    last_sent_at = NumberAttribute(default=0)
    expires_at = NumberAttribute()


class StatsModel(_Base):
    """Counters of one scope (city:…, district:…, station:…, deputy:…) and Beijing day.

    Range key `day#metric`: a period's figures are one Query (BETWEEN two days).
    `n` counts events; `total` sums a quantity (e.g. days to close).
    """

    class Meta:
        table_name = "unbound-stats"
        logical_name = "stats"

    scope = UnicodeAttribute(hash_key=True)
    key = UnicodeAttribute(range_key=True)
    n = NumberAttribute(default=0)
    total = NumberAttribute(default=0)


class ScopeModel(_Base):
    """The directory of areas staff supervise: cities, districts, stations.

    Hash `kind` ("city", "district", "station"), range `id`: every area of a kind
    is one Query. `wecom_key` is the area's WeCom group robot (a secret).
    """

    class Meta:
        table_name = "unbound-scopes"
        logical_name = "scopes"

    kind = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    parent = UnicodeAttribute(null=True)
    wecom_key = UnicodeAttribute(null=True)


class UploadModel(_Base):
    """A photo the client confirmed after its POST to S3: HEADed once, so submissions need not.

    Written by `POST /uploads/confirm` after S3's HEAD showed the object's type and size
    within limits; a submission reads its photos' records in one consistent read (GetItem,
    or BatchGetItem for several) and HEADs only the keys without one. Expires by TTL
    (`expires_at`, epoch seconds).
    """

    class Meta:
        table_name = "unbound-uploads"
        logical_name = "uploads"

    key = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    content_type = UnicodeAttribute()
    size = NumberAttribute()
    confirmed_at = UnicodeAttribute()
    expires_at = NumberAttribute()


class TopicLogModel(_Base):
    """New reports by Beijing day of filing, read by the daily micro-topic job (expires by TTL).

    Written by intake in the report's own transaction (`chalicelib.topics.log_for_topics`).
    Hash `day` (YYYY-MM-DD, Beijing), range `entry` = `created_at#report_id`: the job reads a
    window as one Query per day, with no district or category list needed.
    """

    class Meta:
        table_name = "unbound-topic_log"
        logical_name = "topic_log"

    day = UnicodeAttribute(hash_key=True)
    entry = UnicodeAttribute(range_key=True)
    report_id = UnicodeAttribute()
    created_at = UnicodeAttribute()
    category = UnicodeAttribute()
    district_id = UnicodeAttribute(null=True)
    city_id = UnicodeAttribute(null=True)
    station_id = UnicodeAttribute(null=True)
    geohash5 = UnicodeAttribute(null=True)
    expires_at = NumberAttribute()


class TopicDistrictIndex(GlobalSecondaryIndex):
    """Micro-topics of a district, newest first."""

    class Meta:
        index_name = "district"
        projection = AllProjection()

    district_id = UnicodeAttribute(hash_key=True)
    opened_at = UnicodeAttribute(range_key=True)


class TopicCityIndex(GlobalSecondaryIndex):
    """Micro-topics of a city, newest first."""

    class Meta:
        index_name = "city"
        projection = AllProjection()

    city_id = UnicodeAttribute(hash_key=True)
    opened_at = UnicodeAttribute(range_key=True)


class TopicModel(_Base):
    """A micro-topic (微专题): one kind of problem in one place, past a threshold in a window."""

    class Meta:
        table_name = "unbound-topics"
        logical_name = "topics"

    id = UnicodeAttribute(hash_key=True)
    group_key = UnicodeAttribute()
    district_id = UnicodeAttribute()
    city_id = UnicodeAttribute(null=True)
    category = UnicodeAttribute()
    place = UnicodeAttribute()
    place_name = UnicodeAttribute(null=True)
    title = UnicodeAttribute()
    window_days = NumberAttribute()
    threshold = NumberAttribute()
    report_ids = ListAttribute(of=UnicodeAttribute, default=list)
    report_count = NumberAttribute(default=0)
    status = UnicodeAttribute(default="open")
    opened_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    closed_at = UnicodeAttribute(null=True)
    closed_by = UnicodeAttribute(null=True)
    close_note = UnicodeAttribute(null=True)
    by_district = TopicDistrictIndex()
    by_city = TopicCityIndex()


class TopicGroupModel(_Base):
    """One group (district#category#place) and its open topic: a group never opens two.

    A topic is opened by a conditional put here (no item, or the previous topic closed), in
    the same transaction as the topic itself.
    """

    class Meta:
        table_name = "unbound-topic_groups"
        logical_name = "topic_groups"

    group_key = UnicodeAttribute(hash_key=True)
    topic_id = UnicodeAttribute()
    status = UnicodeAttribute()
    opened_at = UnicodeAttribute()
    closed_at = UnicodeAttribute(null=True)


class DutyActivityModel(_Base):
    """One duty of a deputy's record (一人一档) entered by staff: a meeting, an inspection …

    Hash `deputy_id`, range `key` = `date#id`: a period is one Query (BETWEEN two dates).
    """

    class Meta:
        table_name = "unbound-duty_activities"
        logical_name = "duty_activities"

    deputy_id = UnicodeAttribute(hash_key=True)
    key = UnicodeAttribute(range_key=True)
    id = UnicodeAttribute()
    kind = UnicodeAttribute()
    title = UnicodeAttribute()
    date = UnicodeAttribute()
    note = UnicodeAttribute(null=True)
    entered_by = UnicodeAttribute()
    entered_role = UnicodeAttribute()
    created_at = UnicodeAttribute()


ALL_MODELS: tuple[type[_Base], ...] = (
    UserModel,
    UserLinkModel,
    TokenModel,
    StationModel,
    DeputyModel,
    DepartmentModel,
    ReportModel,
    ReportEventModel,
    UploadModel,
    TaskModel,
    OutboxModel,
    SmsLedgerModel,
    StatsModel,
    ScopeModel,
    TopicLogModel,
    TopicModel,
    TopicGroupModel,
    DutyActivityModel,
)

TTL_ATTRIBUTES = {
    TokenModel: "expires_at",
    UploadModel: "expires_at",
    SmsLedgerModel: "expires_at",
    TopicLogModel: "expires_at",
}

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
