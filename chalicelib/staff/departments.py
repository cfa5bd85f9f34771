"""The departments a report may be handed to (交办): a district's and the city-wide ones.

Served by the departments' `city` index (one Query per city; a city has tens of
departments), filtered to the district and the city-wide ones (no district). The ones whose
categories cover the report's category come first and are marked `suggested`.
"""

from __future__ import annotations

from chalicelib.auth.tokens import STAFF_ROLES, Principal
from chalicelib.errors import Forbidden, InvalidField, NotFound
from chalicelib.reports.categories import is_category
from chalicelib.store.models import DepartmentModel, DeputyModel, ScopeModel

WHO = ("deputy", "handler", *STAFF_ROLES)


def department_rows(principal: Principal, district: str | None, category: str | None) -> dict:
    """The departments for a district (the caller's own when absent), best fit first."""
    if not any(principal.has(role) for role in WHO):
        raise Forbidden("只有代表和工作人员可以查看承办单位", code="forbidden_role")
    district_id = district or principal.district_id or _deputys_district(principal)
    if not district_id:
        raise InvalidField("请指定区", field="district")
    if category is not None and not is_category(category):
        raise InvalidField("问题分类不存在", field="category")
    try:
        scope = ScopeModel.get("district", district_id)
    except ScopeModel.DoesNotExist:
        raise NotFound("区不存在", field="district") from None
    city_id = (scope.parent or "").removeprefix("city:")
    if principal.city_id and city_id != principal.city_id:
        raise Forbidden("只能查看本市的承办单位", field="district", code="scope_forbidden")
    group = category.split(".", 1)[0] if category else None
    rows = []
    for department in DepartmentModel.city.query(city_id):
        if department.district_id not in (None, district_id):
            continue
        categories = list(department.categories or [])
        rows.append(
            {
                "id": department.id,
                "name": department.name,
                "district_id": department.district_id,
                "categories": categories,
                "suggested": bool(group) and (group in categories or category in categories),
            }
        )
    rows.sort(key=lambda r: (not r["suggested"], r["district_id"] is None, r["name"]))
    return {"district_id": district_id, "items": rows}


def _deputys_district(principal: Principal) -> str | None:
    if not principal.deputy_id:
        return None
    try:
        return DeputyModel.get(principal.deputy_id, attributes_to_get=["district_id"]).district_id
    except DeputyModel.DoesNotExist:
        return None
