"""Users: created at first WeChat login, keyed by an id derived from the openid."""

from __future__ import annotations

import hashlib

from pynamodb.exceptions import PutError

from chalicelib.auth.tokens import ROLES, Principal
from chalicelib.clock import now_iso
from chalicelib.store.models import DeputyModel, UserModel


def user_id_for(appid: str, openid: str) -> str:
    """Stable, opaque user id of an openid (the openid itself is never exposed as an id)."""
    return "u" + hashlib.sha256(f"{appid}:{openid}".encode()).hexdigest()[:20]


def get_or_create_user(appid: str, openid: str) -> UserModel:
    """The user of `openid`, created as a citizen on first login (safe under races)."""
    user_id = user_id_for(appid, openid)
    try:
        return UserModel.get(user_id)
    except UserModel.DoesNotExist:
        pass
    user = UserModel(user_id, openid=openid, roles={"citizen"}, created_at=now_iso())
    try:
        user.save(condition=UserModel.id.does_not_exist())
    except PutError:
        return UserModel.get(user_id)
    return user


def principal_of(user: UserModel) -> Principal:
    """The principal a session token is issued for."""
    return Principal(
        user_id=user.id,
        openid=user.openid,
        roles=tuple(sorted(user.roles or {"citizen"}, key=ROLES.index)),
        deputy_id=user.deputy_id,
        station_id=user.station_id,
        district_id=user.district_id,
        city_id=user.city_id,
        department_id=user.department_id,
    )


def grant_role(user_id: str, role: str, **binding: str) -> UserModel:
    """Give `user_id` a role and its binding (deputy_id, station_id, …); admin use only."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    user = UserModel.get(user_id)
    if role == "deputy":
        DeputyModel(binding["deputy_id"]).update(
            actions=[DeputyModel.user_id.set(user_id), DeputyModel.openid.set(user.openid)],
            condition=DeputyModel.id.exists(),
        )
    actions = [UserModel.roles.add({role})]
    for name, value in binding.items():
        actions.append(getattr(UserModel, name).set(value))
    user.update(actions=actions)
    return user
