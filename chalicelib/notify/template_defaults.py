"""The built-in notice templates: the local emulators' ids and texts (see `templates`).

A deputy's SMS about one report carries a URL Link to its task page (the `link` parameter,
added at delivery, `chalicelib.notify.links`); when no link could be had it is sent with the
entry's `without_link` template instead, which asks to open the mini-program.
"""

from __future__ import annotations

COMBINED = "combined"


def _wechat(template_id: str, **fields: str) -> dict:
    return {"template_id": template_id, "fields": fields}


def _sms(template_id: str, params: list[str], text: str, without_link: dict | None = None) -> dict:
    spec = {"template_id": template_id, "params": params, "text": text}
    if without_link:
        spec["without_link"] = without_link
    return spec


DEFAULT_WECHAT: dict[str, dict] = {
    "task_offered": _wechat(
        "tmpl-task-offered",
        thing1="category_name",
        thing2="station_name",
        thing3="excerpt",
        phrase4="=待接单",
    ),
    "second_handling_deputy": _wechat(
        "tmpl-second-handling-deputy",
        thing1="category_name",
        thing2="excerpt",
        phrase3="=二次办理",
        thing4="note",
    ),
    "work_order_unstaffed": _wechat(
        "tmpl-work-order-unstaffed",
        thing1="category_name",
        thing2="department_name",
        phrase3="=无承办人",
        thing4="excerpt",
    ),
    "work_order": _wechat(
        "tmpl-work-order",
        thing1="category_name",
        thing2="excerpt",
        character_string3="report_id",
        time4="deadline",
    ),
    "report_accepted": _wechat(
        "tmpl-report-accepted",
        thing1="category_name",
        name2="deputy_name",
        phrase3="=已受理",
        thing4="note",
    ),
    "report_answered": _wechat(
        "tmpl-report-answered",
        thing1="category_name",
        phrase2="=已答复",
        thing3="note",
    ),
    "report_resolved": _wechat(
        "tmpl-report-resolved",
        thing1="category_name",
        phrase2="=已办结",
        thing3="note",
    ),
    "second_handling": _wechat(
        "tmpl-second-handling",
        thing1="category_name",
        phrase2="=二次办理",
        thing3="note",
    ),
    "report_escalated": _wechat(
        "tmpl-report-escalated",
        thing1="category_name",
        thing2="station_name",
        phrase3="=已上报",
        thing4="excerpt",
    ),
    "deadline_reminder": _wechat(
        "tmpl-deadline-reminder",
        thing1="category_name",
        thing2="step_name",
        time3="deadline",
        phrase4="=即将到期",
    ),
    "report_overdue": _wechat(
        "tmpl-report-overdue",
        thing1="category_name",
        thing2="step_name",
        time3="deadline",
        thing4="holder",
    ),
    "staff_digest": _wechat(
        "tmpl-staff-digest",
        thing1="scope_name",
        thing2="summary",
        time3="period",
    ),
    "report_unmatched": _wechat(
        "tmpl-report-unmatched",
        thing1="category_name",
        thing2="station_name",
        phrase3="=待分派",
        thing4="excerpt",
    ),
    "report_merged": _wechat(
        "tmpl-report-merged",
        thing1="category_name",
        phrase2="=已合并",
        thing3="note",
    ),
    "topic_opened": _wechat(
        "tmpl-topic-opened",
        thing1="category_name",
        thing2="place_name",
        number3="report_count",
        phrase4="=新微专题",
    ),
}

DEFAULT_SMS: dict[str, dict] = {
    "task_offered": _sms(
        "1800001",
        ["category_name", "link"],
        "您有一条新的群众反映（{1}）待接单，点击 {2} 查看并接单",
        without_link=_sms(
            "1800031",
            ["category_name"],
            "您有一条新的群众反映（{1}）待接单，请登录随手拍小程序查看",
        ),
    ),
    "second_handling_deputy": _sms(
        "1800002",
        ["category_name", "link"],
        "群众对反映（{1}）的办理不满意，需二次办理，点击 {2} 查看",
        without_link=_sms(
            "1800032",
            ["category_name"],
            "群众对反映（{1}）的办理不满意，需二次办理，请登录随手拍小程序查看",
        ),
    ),
    "work_order_unstaffed": _sms(
        "1800014",
        ["category_name"],
        "有一条群众反映（{1}）交办的承办单位尚无承办人账号，请登录随手拍小程序跟进",
    ),
    "work_order": _sms(
        "1800003",
        ["category_name"],
        "您单位收到一条群众反映工单（{1}），请登录随手拍小程序处理",
    ),
    "report_accepted": _sms(
        "1800004",
        ["category_name", "deputy_name"],
        "您反映的问题（{1}）已由人大代表{2}受理，请登录随手拍小程序查看",
    ),
    "report_answered": _sms(
        "1800005",
        ["category_name"],
        "您反映的问题（{1}）已有答复，请登录随手拍小程序查看",
    ),
    "report_resolved": _sms(
        "1800006",
        ["category_name"],
        "您反映的问题（{1}）已办结，请登录随手拍小程序评价",
    ),
    "second_handling": _sms(
        "1800007",
        ["category_name"],
        "您反映的问题（{1}）已转入二次办理，请登录随手拍小程序查看",
    ),
    "report_escalated": _sms(
        "1800008",
        ["category_name"],
        "有一条群众反映（{1}）超时未办理，已上报，请登录随手拍小程序查看",
    ),
    "report_unmatched": _sms(
        "1800009",
        ["category_name"],
        "有一条群众反映（{1}）未匹配到代表，请登录随手拍小程序分派",
    ),
    "report_merged": _sms(
        "1800010",
        ["category_name"],
        "您反映的问题（{1}）已与同类反映合并办理，请登录随手拍小程序查看",
    ),
    "deadline_reminder": _sms(
        "1800011",
        ["category_name", "step_name", "link"],
        "您承办的群众反映（{1}）{2}即将到期，点击 {3} 处理",
        without_link=_sms(
            "1800041",
            ["category_name", "step_name"],
            "您承办的群众反映（{1}）{2}即将到期，请登录随手拍小程序处理",
        ),
    ),
    "report_overdue": _sms(
        "1800012",
        ["category_name", "step_name"],
        "有一条群众反映（{1}）{2}已超期，请登录随手拍小程序督办",
    ),
    "staff_digest": _sms(
        "1800013",
        ["summary"],
        "随手拍工作日报：{1}，请登录随手拍小程序查看",
    ),
    "topic_opened": _sms(
        "1800020",
        ["place_name", "category_name", "report_count"],
        "{1}近期集中反映{2}问题{3}件，已形成微专题，请登录随手拍小程序查看",
    ),
    COMBINED: _sms(
        "1800099",
        ["count"],
        "您有{1}条新的群众反映待处理，请登录随手拍小程序查看",
    ),
}
