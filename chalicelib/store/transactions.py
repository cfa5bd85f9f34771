"""Transactions across tables, on the configured endpoint, and why one was cancelled.

DynamoDB answers a cancelled `TransactWriteItems` with one reason per item, in the
order the items were sent. PynamoDB sends them grouped (condition checks, deletes,
puts, updates), not in the order they were added, so the transaction here remembers
a label for each item in that same grouped order: `reasons` pairs every label with
its cancellation code.
"""

from __future__ import annotations

from typing import Any

from pynamodb.connection import Connection
from pynamodb.transactions import TransactWrite as _TransactWrite

from chalicelib.config import Settings

_connections: dict[tuple, Connection] = {}

# The order PynamoDB sends a transaction's items in (`Connection.transact_write_items`).
GROUPS = ("condition_check", "delete", "put", "update")
CONDITION_FAILED = "ConditionalCheckFailed"
# Cancellation codes that say nothing about the items' conditions: the same
# transaction may simply be sent again.
TRANSIENT_CODES = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
)
# Error codes of a refused request (not a cancellation) worth sending again.
TRANSIENT_ERRORS = frozenset(
    {
        "TransactionInProgressException",
        "TransactionConflictException",
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
    }
)


def _label(model: Any, label: str | None) -> str:
    return label or getattr(model.Meta, "logical_name", None) or model.Meta.table_name


class TransactWrite(_TransactWrite):
    """PynamoDB's `TransactWrite`, remembering a label for each item it writes.

    `save`, `update` and `delete` take an optional keyword-only `label`; without it an
    item is labelled with its table's logical name (`reports`, `tasks`, `stats` …). The
    code makes no condition checks (IAM grants no ConditionCheckItem); one would be
    labelled with its table's full name.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._labels: dict[str, list[str]] = {group: [] for group in GROUPS}

    def delete(self, model, condition=None, *, add_version_condition=True, label=None):
        super().delete(model, condition=condition, add_version_condition=add_version_condition)
        self._labels["delete"].append(_label(model, label))

    def save(self, model, condition=None, return_values=None, *, label=None):
        super().save(model, condition=condition, return_values=return_values)
        self._labels["put"].append(_label(model, label))

    def update(
        self,
        model,
        actions,
        condition=None,
        return_values=None,
        *,
        add_version_condition=True,
        label=None,
    ):
        super().update(
            model,
            actions,
            condition=condition,
            return_values=return_values,
            add_version_condition=add_version_condition,
        )
        self._labels["update"].append(_label(model, label))

    def labels(self) -> list[str]:
        """The items' labels in the order they are sent (and their reasons come back)."""
        self._labels["condition_check"] = [i["TableName"] for i in self._condition_check_items]
        return [label for group in GROUPS for label in self._labels[group]]

    def reasons(self, error: Exception) -> list[tuple[str, str]]:
        """(label, code) of every item the cancellation names (items that passed are left out)."""
        return [
            (label, code)
            for label, code in zip(self.labels(), cancellation_codes(error), strict=False)
            if code and code != "None"
        ]


def transact_write(settings: Settings) -> TransactWrite:
    """A `TransactWrite` bound to the configured region and endpoint.

    PynamoDB's transactions do not inherit `Meta.host`, so the connection is
    built here from the same settings as the models.
    """
    key = (settings.region, settings.dynamodb_endpoint)
    connection = _connections.get(key)
    if connection is None:
        connection = Connection(region=settings.region, host=settings.dynamodb_endpoint)
        _connections[key] = connection
    return TransactWrite(connection=connection)


def cancellation_codes(error: Exception) -> list[str | None]:
    """The per-item cancellation codes of a failed transaction (None for items that passed)."""
    reasons = getattr(error, "cancellation_reasons", None) or []
    return [reason.code if reason else None for reason in reasons]


def error_code(error: Exception) -> str | None:
    """DynamoDB's error code of a failed request (`TransactionCanceledException`, …)."""
    return getattr(error, "cause_response_code", None)
