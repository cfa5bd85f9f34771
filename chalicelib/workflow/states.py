"""The one state machine of a report: states, the actions between them, who may act.

```
submitted ─match─▶ offered ─accept─▶ accepted ─reply────────────────▶ resolved
    │               ▲  │                 ├─transfer / suggestion─▶ in_progress ─resolve─▶ resolved
    └─match─▶ unmatched ┘ assign         └─merge─▶ merged
            (also: decline with nobody left to offer)
resolved ─evaluate satisfied─▶ closed          resolved ─unsatisfied (1st)─▶ second_handling
resolved ─evaluation window passes─▶ closed    resolved ─unsatisfied (2nd)─▶ escalated (提级督办)
second_handling / escalated ─progress · transfer · reply · resolve─▶ … ─▶ resolved
```

Deadlines (the overdue ladder, `chalicelib/escalation/ladder.py`): offered → offer
(OFFER_HOURS); unmatched → assign by staff (ASSIGN_HOURS); accepted → first answer
(ANSWER_HOURS); a first answer by progress → handling (WORK_ORDER_DAYS working days);
transfer → work order; second_handling and escalated → their own windows.

Every transition is one DynamoDB transaction conditioned on the state and the
version the caller read; an action not allowed from the current state is 409.
"""

from __future__ import annotations

from dataclasses import dataclass

STATE_NAMES = {
    "submitted": "已提交",
    "offered": "待代表接单",
    "unmatched": "待分派代表",
    "accepted": "代表已接单",
    "in_progress": "办理中",
    "resolved": "已办结待评价",
    "second_handling": "二次办理中",
    "escalated": "提级督办",
    "closed": "已关闭",
    "merged": "已合并",
}

HANDLING_STATES = ("accepted", "in_progress", "second_handling", "escalated")
OPEN_STATES = ("submitted", "offered", "unmatched", *HANDLING_STATES, "resolved")


@dataclass(frozen=True)
class Transition:
    """An action: the states it may start from and the roles that may take it."""

    action: str
    sources: tuple[str, ...]
    roles: tuple[str, ...]
    title: str


TRANSITIONS = {
    t.action: t
    for t in (
        Transition("match", ("submitted",), ("system",), "匹配代表"),
        Transition(
            "moderate",
            ("submitted",),
            ("station_staff", "district_staff", "city_staff"),
            "内容审核",
        ),
        Transition(
            "assign",
            ("unmatched", "offered"),
            ("station_staff", "district_staff", "city_staff"),
            "工作人员分派",
        ),
        Transition("reoffer", ("offered",), ("system",), "超时转推"),
        Transition("remind", (*HANDLING_STATES, "offered", "unmatched"), ("system",), "到期提醒"),
        Transition("supervise", (*HANDLING_STATES, "unmatched"), ("system",), "超期督办"),
        Transition("accept", ("offered",), ("deputy",), "代表接单"),
        Transition("decline", ("offered",), ("deputy",), "代表婉拒"),
        Transition("reply", HANDLING_STATES, ("deputy",), "代表答复"),
        Transition("transfer", HANDLING_STATES, ("deputy",), "交办承办单位"),
        Transition(
            "suggestion",
            ("accepted", "in_progress", "second_handling"),
            ("deputy",),
            "转为代表建议",
        ),
        Transition("merge", ("accepted",), ("deputy",), "合并到同类反映"),
        Transition("progress", HANDLING_STATES, ("deputy", "handler"), "办理进展"),
        Transition("resolve", HANDLING_STATES, ("deputy", "handler", "city_staff"), "办结"),
        Transition("evaluate", ("resolved",), ("citizen",), "群众评价"),
        Transition("expire_evaluation", ("resolved",), ("system",), "逾期未评价"),
    )
}


def allowed_from(action: str, state: str) -> bool:
    """Whether `action` may be taken while the report is in `state`."""
    return state in TRANSITIONS[action].sources


def state_name(state: str) -> str:
    """The Chinese name of a state."""
    return STATE_NAMES.get(state, state)
