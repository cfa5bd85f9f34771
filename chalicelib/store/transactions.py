"""Transactions across tables, on the configured endpoint."""

from __future__ import annotations

from pynamodb.connection import Connection
from pynamodb.transactions import TransactWrite

from chalicelib.config import Settings

_connections: dict[tuple, Connection] = {}


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
