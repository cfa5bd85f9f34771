"""Users: created at first WeChat login, keyed by an id derived from the openid.

A person may log in through two WeChat apps, the mini-program (`jscode2session`) and the
browser build's web OAuth app (`sns/oauth2/access_token`), which give them different openids.
When WeChat also gives the person's `unionid` (both apps bound to one open-platform account),
a link item (`user_links`, key `unionid#<unionid>`) names their one user: the first login
bringing the unionid writes it with a conditional put, every later one reads it by key.
"""

from __future__ import annotations

import hashlib

from pynamodb.exceptions import PutError

from chalicelib.auth.tokens import ROLES, Principal
from chalicelib.clock import now_iso
from chalicelib.store.models import DeputyModel, UserLinkModel, UserModel

MINI_PROGRAM, WEB = "mp", "web"


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


def _link_key(unionid: str) -> str:
    return f"unionid#{unionid}"


def _linked_user_id(unionid: str) -> str | None:
    try:
        return UserLinkModel.get(_link_key(unionid), consistent_read=True).user_id
    except UserLinkModel.DoesNotExist:
        return None


def _link(unionid: str, user_id: str) -> str:
    """Link `unionid` to `user_id` unless it is linked already; the linked user id."""
    try:
        UserLinkModel(_link_key(unionid), user_id=user_id, created_at=now_iso()).save(
            condition=UserLinkModel.key.does_not_exist()
        )
    except PutError:
        return _linked_user_id(unionid) or user_id
    return user_id


def _get(user_id: str) -> UserModel | None:
    try:
        return UserModel.get(user_id, consistent_read=True)
    except UserModel.DoesNotExist:
        return None


def _record_identity(user: UserModel, app: str, openid: str, unionid: str | None) -> UserModel:
    """Keep this app's openid (and the unionid) on the user, writing only what changed.

    A mini-program login makes its openid the user's `openid` (the one notices and content
    checks use); a web login records `web_openid`, and is the `openid` only of a user who
    has never logged in through the mini-program.
    """
    actions = []
    if app == MINI_PROGRAM and user.openid != openid:
        actions.append(UserModel.openid.set(openid))
    if app == WEB and user.web_openid != openid:
        actions.append(UserModel.web_openid.set(openid))
    if unionid and user.unionid != unionid:
        actions.append(UserModel.unionid.set(unionid))
    if actions:
        user.update(actions=actions)
    return user


def user_for_login(appid: str, app: str, openid: str, unionid: str | None = None) -> UserModel:
    """The user behind one login of `app` ("mp" or "web"), created as a citizen if new.

    Without a unionid the user is the one of this app's openid. With one, the user it is
    linked to; a unionid seen for the first time is linked to this openid's user.
    """
    if not unionid:
        user = get_or_create_user(appid, openid)
        return user if app == MINI_PROGRAM else _record_identity(user, app, openid, None)
    linked = _linked_user_id(unionid)
    user = _get(linked) if linked else None
    if user is None:
        own = get_or_create_user(appid, openid)
        linked = _link(unionid, own.id)
        user = own if linked == own.id else (_get(linked) or own)
    return _record_identity(user, app, openid, unionid)


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
