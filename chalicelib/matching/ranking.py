"""Deputy matching: pure, explainable scores (no I/O).

Each deputy gets points for reasons a person can read back:
the report came from the deputy's station (+50), the deputy is on duty there
today (+20), the deputy serves the same district (+15), the deputy's expertise
fits the category (+25), a grassroots level (township/district, +5); and loses
points for open load (−5 per open task, at most −30). Ties go to the lower load,
then to the id, so the ranking is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STATION_POINTS = 50
ON_DUTY_POINTS = 20
DISTRICT_POINTS = 15
EXPERTISE_POINTS = 25
GRASSROOTS_POINTS = 5
LOAD_PENALTY = 5
MAX_LOAD_PENALTY = 30
GRASSROOTS_LEVELS = ("township", "district")


@dataclass(frozen=True)
class DeputyProfile:
    """What matching needs to know of a deputy."""

    id: str
    name: str
    level: str
    station_id: str
    district_id: str
    expertise: tuple[str, ...] = ()
    duty_weekdays: tuple[int, ...] = ()
    open_tasks: int = 0
    reachable: bool = True


@dataclass(frozen=True)
class ReportContext:
    """What matching needs to know of a report."""

    station_id: str | None
    district_id: str | None
    category_expertise: tuple[str, ...]
    weekday: int
    excluded: tuple[str, ...] = ()


@dataclass(frozen=True)
class Match:
    """A ranked candidate with its score and the reasons behind it (Chinese, for staff)."""

    deputy_id: str
    name: str
    score: int
    reasons: tuple[str, ...] = field(default_factory=tuple)
    open_tasks: int = 0


def score(report: ReportContext, deputy: DeputyProfile) -> Match:
    """Score one deputy for one report, with the reasons."""
    points, reasons = 0, []
    if report.station_id and deputy.station_id == report.station_id:
        points += STATION_POINTS
        reasons.append("本站联络代表")
        if report.weekday in deputy.duty_weekdays:
            points += ON_DUTY_POINTS
            reasons.append("今日值班")
    elif report.district_id and deputy.district_id == report.district_id:
        points += DISTRICT_POINTS
        reasons.append("同区代表")
    fitting = [tag for tag in deputy.expertise if tag in report.category_expertise]
    if fitting:
        points += EXPERTISE_POINTS
        reasons.append(f"专业对口：{'、'.join(fitting)}")
    if deputy.level in GRASSROOTS_LEVELS:
        points += GRASSROOTS_POINTS
        reasons.append("基层代表")
    if deputy.open_tasks:
        penalty = min(MAX_LOAD_PENALTY, LOAD_PENALTY * deputy.open_tasks)
        points -= penalty
        reasons.append(f"在办 {deputy.open_tasks} 件（-{penalty}）")
    return Match(deputy.id, deputy.name, points, tuple(reasons), deputy.open_tasks)


def rank(report: ReportContext, deputies: list[DeputyProfile], top_k: int) -> list[Match]:
    """The `top_k` best candidates: reachable, not excluded, best score first."""
    eligible = [d for d in deputies if d.reachable and d.id not in report.excluded]
    matches = [score(report, deputy) for deputy in eligible]
    matches.sort(key=lambda m: (-m.score, m.open_tasks, m.deputy_id))
    return matches[:top_k]
