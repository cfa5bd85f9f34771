"""Phone masking in log lines: every way a mainland mobile number is written."""

from __future__ import annotations

import json
import logging

import pytest

from chalicelib.observability import JsonFormatter, mask_phone


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("13800138000", "138****8000"),
        ("+8613800138000", "+86138****8000"),
        ("8613800138000", "86138****8000"),
        ("008613800138000", "0086138****8000"),
        ("+86 138 0013 8000", "+86 138 **** 8000"),
        ("+86-13800138000", "+86-138****8000"),
        ("138-0013-8000", "138-****-8000"),
        ("138 0013 8000", "138 **** 8000"),
        ("电话：13800138000。", "电话：138****8000。"),
        ("phone=+8619912345678&x=1", "phone=+86199****5678&x=1"),
        ('{"phone": "138-0013-8000"}', '{"phone": "138-****-8000"}'),
    ],
)
def test_every_form_of_a_mobile_number_is_masked(text, masked):
    assert mask_phone(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "order 213812345678",  # 12 digits: not a phone number
        "12800138000",  # 12x is no mobile prefix
        "1380013800",  # 10 digits
        "ts 1700000000123",  # a millisecond timestamp
        "138--0013--8000",  # not one separator between groups
    ],
)
def test_other_numbers_are_left_alone(text):
    assert mask_phone(text) == text


def test_a_log_line_masks_the_international_form():
    record = logging.LogRecord("x", logging.INFO, "f", 1, "sms to %s", ("+8613800138000",), None)
    record.fields = {"phone": "138 0013 8000"}
    line = JsonFormatter().format(record)
    assert "0013" not in line
    entry = json.loads(line)
    assert entry["message"] == "sms to +86138****8000"
    assert entry["phone"] == "138 **** 8000"
