"""A deputy's SMS about a report carries a URL Link that opens its task page."""

from __future__ import annotations

import requests

from chalicelib.adapters.sms import normalize_phone
from chalicelib.notify.templates import sms_template_texts
from chalicelib.store.models import DeputyModel
from tests.workflow_helpers import drain, seed_station

H5 = "http://127.0.0.1:5999/"


def _offer(api, monkeypatch, sms) -> tuple[str, list[list[dict]]]:
    """A report at a new station offered to its three deputies; the SMS each one got."""
    monkeypatch.setenv("H5_BASE_URL", H5)
    drain(api)
    sms.state.set_templates(sms_template_texts())
    station, deputies = seed_station(3, prefix="L")
    status, report = api.json(
        "POST",
        "/reports",
        {"station_id": station, "category": "municipal.streetlight", "text": "路灯不亮"},
        token=api.login()["token"],
    )
    assert status == 201, report
    drain(api)
    phones = [normalize_phone(DeputyModel.get(d).phone) for d in deputies]
    return report["id"], [sms.state.messages(phone) for phone in phones]


def test_the_offer_sms_links_to_the_task_page_with_one_link_for_all(api, wechat, sms, monkeypatch):
    report_id, received = _offer(api, monkeypatch, sms)
    links = set()
    for messages in received:
        assert [m["template_id"] for m in messages] == ["1800001"], messages
        category, link = messages[0]["params"]
        assert category == "路灯不亮"  # the category name
        assert f"点击 {link} 查看并接单" in messages[0]["content"]
        links.add(link)
    assert len(links) == 1  # generated once per report and page, reused for every recipient
    calls = [  # notices other tests left may bring links of their own reports
        c for c in wechat.state.calls("generate_urllink") if c["body"]["query"] == f"id={report_id}"
    ]
    assert len(calls) == 1
    body = calls[0]["body"]
    assert body["path"] == "pages-deputy/task/task" and body["query"] == f"id={report_id}"
    assert body["expire_type"] == 1 and 1 <= body["expire_interval"] <= 30
    opened = requests.get(links.pop(), allow_redirects=False, timeout=5)
    assert opened.status_code == 302
    assert opened.headers["Location"] == f"{H5}#/pages-deputy/task/task?id={report_id}"


def test_no_link_never_holds_the_sms_back(api, wechat, sms, monkeypatch):
    wechat.state.inject("generate_urllink", errcode=-1, times=-1)
    try:
        report_id, received = _offer(api, monkeypatch, sms)
    finally:
        wechat.state.clear_faults()
    for messages in received:
        assert [m["template_id"] for m in messages] == ["1800031"], messages
        assert messages[0]["params"] == ["路灯不亮"]
        assert "请登录随手拍小程序查看" in messages[0]["content"]
    calls = [
        c for c in wechat.state.calls("generate_urllink") if c["body"]["query"] == f"id={report_id}"
    ]
    assert len(calls) == 3 and all(c["errcode"] == -1 for c in calls)


def test_an_unknown_or_expired_link_page(env, wechat):
    assert requests.get(f"{wechat.url}urllink/nope", timeout=5).status_code == 404
    token = wechat.state.web.add_link("pages-deputy/task/task", "id=R1", expires_at=1.0)
    assert requests.get(f"{wechat.url}urllink/{token}", timeout=5).status_code == 410


def test_the_emulator_refuses_bad_link_requests(env, wechat):
    from chalicelib.adapters.wechat import WeChatRejected
    from chalicelib.bootstrap import services

    gateway = services().wechat
    for path in ("/pages/x", "pages x"):
        try:
            gateway.url_link(path, "id=1")
        except WeChatRejected as error:
            assert error.errcode == 40165
        else:
            raise AssertionError(f"{path!r} was accepted")
    try:
        gateway.url_link("pages/x", "q" * 1025)
    except WeChatRejected as error:
        assert error.errcode == 40212
    else:
        raise AssertionError("a long query was accepted")
