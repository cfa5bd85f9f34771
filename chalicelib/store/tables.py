"""Create the tables of every model (local stack, tests, benchmarks).

In AWS the tables come from the deployment template (`.chalice/resources.json`);
this module mirrors those definitions for local DynamoDB servers.
"""

from __future__ import annotations

from pynamodb.exceptions import TableError

from chalicelib.config import Settings
from chalicelib.store.models import ALL_MODELS, TTL_ATTRIBUTES, bind_models


def create_tables(settings: Settings) -> list[str]:
    """Create every missing table (on demand billing) and enable TTL; return their names."""
    bind_models(settings)
    names = []
    for model in ALL_MODELS:
        if not model.exists():
            try:
                model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
            except TableError:
                if not model.exists():
                    raise
        ttl_attribute = TTL_ATTRIBUTES.get(model)
        if ttl_attribute:
            model._get_connection().connection.client.update_time_to_live(
                TableName=model.Meta.table_name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute},
            )
        names.append(model.Meta.table_name)
    return names
