"""Builds the outside-world adapters once per container, from the current settings.

The container is rebuilt when the settings change (tests and the local stack
point the same process at different endpoints); in Lambda it is built once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from chalicelib.config import Settings, get_settings
from chalicelib.store.models import bind_models


@dataclass
class Services:
    """The adapters the domain code talks through."""

    settings: Settings

    @cached_property
    def wechat(self):
        from chalicelib.adapters.wechat import WeChatGateway

        return WeChatGateway(self.settings)

    @cached_property
    def sms(self):
        from chalicelib.adapters.sms import SmsGateway

        return SmsGateway()

    @cached_property
    def sqs(self):
        import boto3

        options = {"region_name": self.settings.region}
        if self.settings.sqs_endpoint:
            options["endpoint_url"] = self.settings.sqs_endpoint
        return boto3.client("sqs", **options)

    @cached_property
    def uploads(self):
        from chalicelib.adapters.uploads import UploadStore

        return UploadStore(self.settings)


_current: Services | None = None


def services() -> Services:
    """The services for the current settings (models bound to the configured tables)."""
    global _current
    settings = get_settings()
    if _current is None or _current.settings != settings:
        bind_models(settings)
        _current = Services(settings)
    return _current
