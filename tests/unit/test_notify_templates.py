"""Rendering notices for WeChat subscribe messages and template SMS."""

from __future__ import annotations

import json

import pytest

from chalicelib.notify.templates import (
    PURPOSES,
    TemplateError,
    render_combined_sms,
    render_sms,
    render_wechat,
    sms_takes_link,
    sms_template_texts,
)

VALUES = {
    "report_id": "r-0123456789abcdef0123456789abcdef-long",
    "category_name": "市容环境卫生与垃圾分类管理问题",
    "station_name": "城关街道人大代表联络站",
    "excerpt": "人民路与解放路交叉口的红绿灯已经坏了三天，早晚高峰非常拥堵",
    "status_name": "待代表接单处理",
    "deputy_name": "欧阳建国同志代表",
    "note": "已联系城管部门，预计本周内清理完毕并持续跟踪",
}


@pytest.mark.parametrize("purpose", PURPOSES)
def test_every_purpose_renders_within_wechat_limits(purpose):
    message = render_wechat(purpose, VALUES)
    assert message.template_id.startswith("tmpl-")
    limits = {"thing": 20, "phrase": 5, "character_string": 32, "name": 10}
    for key, value in message.data.items():
        kind = key.rstrip("0123456789")
        assert value, key
        assert len(value) <= limits.get(kind, 100), (key, value)
    assert message.page.endswith(f"?id={VALUES['report_id']}")


@pytest.mark.parametrize("purpose", PURPOSES)
def test_every_purpose_renders_an_sms_with_short_params(purpose):
    message = render_sms(purpose, VALUES)
    assert message.template_id in sms_template_texts()
    assert message.params and all(len(p) <= 6 for p in message.params)


def test_pages_open_the_task_or_the_report(monkeypatch):
    task = f"pages-deputy/task/task?id={VALUES['report_id']}"
    assert render_wechat("task_offered", VALUES).page == task
    monkeypatch.setenv("TASK_PAGE", "pages-x/t/t")
    assert render_wechat("task_offered", VALUES).page == f"pages-x/t/t?id={VALUES['report_id']}"
    assert render_wechat("report_resolved", VALUES).page.startswith("pages/report/detail?id=")
    assert render_wechat("report_resolved", VALUES, page="pages/x?y=1").page == "pages/x?y=1"


def test_absent_values_get_stand_ins_that_wechat_accepts():
    message = render_wechat("work_order", {"report_id": "r-1"})
    assert message.data["thing1"] == "无"
    assert message.data["character_string3"] == "r-1"
    assert message.data["time4"]  # a time field is never empty


def test_cut_marks_shortened_things():
    data = render_wechat("task_offered", VALUES).data
    assert data["thing3"] == VALUES["excerpt"][:19] + "…"
    assert data["thing1"] == VALUES["category_name"]  # 15 characters: kept whole


def test_combined_sms_takes_the_count():
    message = render_combined_sms(7)
    assert message.params == ["7"]
    text = sms_template_texts()[message.template_id]
    assert text == "您有{1}条新的群众反映待处理，请登录随手拍小程序查看"


def test_sms_templates_from_the_environment(monkeypatch):
    monkeypatch.setenv(
        "SMS_TEMPLATES", json.dumps({"task_offered": {"template_id": "2233", "params": ["=3"]}})
    )
    assert render_sms("task_offered", VALUES).template_id == "2233"
    assert render_sms("task_offered", VALUES).params == ["3"]
    assert render_sms("report_resolved", VALUES).template_id == "1800006"  # default kept


def test_unknown_purposes_and_bad_configuration_are_template_errors(monkeypatch):
    with pytest.raises(TemplateError):
        render_wechat("no_such_purpose", VALUES)
    monkeypatch.setenv("WECHAT_TEMPLATES", "{not json")
    with pytest.raises(TemplateError):
        render_wechat("task_offered", VALUES)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_a_deployed_stage_must_configure_its_own_template_ids(monkeypatch, stage):
    monkeypatch.setenv("STAGE", stage)
    monkeypatch.delenv("WECHAT_TEMPLATES", raising=False)
    monkeypatch.delenv("SMS_TEMPLATES", raising=False)
    with pytest.raises(TemplateError, match="WECHAT_TEMPLATES"):
        render_wechat("task_offered", VALUES)
    with pytest.raises(TemplateError, match="SMS_TEMPLATES"):
        render_sms("task_offered", VALUES)
    monkeypatch.setenv("STAGE", "local")
    assert render_sms("task_offered", VALUES).template_id


LINK = "https://wxaurl.cn/AbCdEfGhIj"


@pytest.mark.parametrize("purpose", ["task_offered", "second_handling_deputy", "deadline_reminder"])
def test_a_deputy_sms_carries_the_link_whole_or_uses_its_template_without(purpose):
    assert sms_takes_link(purpose)
    linked = render_sms(purpose, {**VALUES, "link": LINK})
    assert linked.params[-1] == LINK  # never cut to the 6-character variable limit
    text = sms_template_texts()[linked.template_id]
    assert f"{{{len(linked.params)}}}" in text and "点击" in text
    plain = render_sms(purpose, VALUES)
    assert plain.template_id != linked.template_id
    assert LINK not in plain.params and len(plain.params) == len(linked.params) - 1
    assert f"{{{len(linked.params)}}}" not in sms_template_texts()[plain.template_id]


def test_purposes_without_a_link_parameter_take_none():
    assert not sms_takes_link("report_unmatched")
    assert render_sms("report_unmatched", {**VALUES, "link": LINK}).params == ["市容环境卫生"]
