"""Test helpers: a real JPEG, uploading through a presigned POST."""

from __future__ import annotations

import io

import requests


def jpeg_bytes(width: int = 64, height: int = 48, color: tuple = (200, 80, 40)) -> bytes:
    """A real JPEG image."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="JPEG")
    return buffer.getvalue()


def upload_to(presigned: dict, data: bytes, content_type: str = "image/jpeg") -> requests.Response:
    """POST a file to S3 with the fields of a presigned POST."""
    return requests.post(
        presigned["url"],
        data=presigned["fields"],
        files={"file": ("photo", data, content_type)},
        timeout=10,
    )
