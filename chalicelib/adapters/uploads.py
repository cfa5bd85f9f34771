"""Photo storage in S3: presigned uploads under the caller's prefix, confirmations, checks."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property

from chalicelib.clock import now_iso
from chalicelib.config import Settings
from chalicelib.errors import InvalidField

ALLOWED_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
UPLOAD_PREFIX = "uploads"
QRCODE_PREFIX = "qrcodes"
# How long a confirmation spares a submission the HEAD (kept after that only until TTL deletion).
CONFIRMATION_TTL_SECONDS = 3 * 24 * 3600
# The browser build posts photos to the bucket from its own origin (the presigned POST) and
# reads them back by presigned GET: the bucket answers CORS for any origin, since the signed
# policy, not the origin, is what allows an upload. The deploy template uses the same rules.
UPLOAD_CORS = {
    "AllowedOrigins": ["*"],
    "AllowedMethods": ["POST", "GET", "HEAD"],
    "AllowedHeaders": ["*"],
    "ExposeHeaders": ["ETag", "Location"],
    "MaxAgeSeconds": 3000,
}
# A report has at most 9 photos: their HEAD requests go out together.
_heads = ThreadPoolExecutor(max_workers=9, thread_name_prefix="photo-head")


def user_prefix(user_id: str) -> str:
    """The key prefix under which `user_id` may upload."""
    return f"{UPLOAD_PREFIX}/{user_id}/"


class UploadStore:
    """S3 bucket of photos and generated QR codes."""

    def __init__(self, settings: Settings):
        self._settings = settings

    @cached_property
    def _client(self):
        import boto3
        from botocore.config import Config

        options = {"region_name": self._settings.region}
        config = {"signature_version": "s3v4", "connect_timeout": 3, "read_timeout": 10}
        if self._settings.s3_endpoint:
            options["endpoint_url"] = self._settings.s3_endpoint
            config["s3"] = {"addressing_style": "path"}
        return boto3.client("s3", config=Config(**config), **options)

    @property
    def bucket(self) -> str:
        return self._settings.upload_bucket

    def presign_upload(self, user_id: str, content_type: str, size: int) -> dict:
        """A presigned POST for one photo: type, size and key are enforced by S3 itself."""
        extension = ALLOWED_TYPES[content_type]
        key = f"{user_prefix(user_id)}{uuid.uuid4().hex}.{extension}"
        post = self._client.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[
                {"Content-Type": content_type},
                ["content-length-range", 1, min(size, self._settings.upload_max_bytes)],
            ],
            ExpiresIn=self._settings.upload_url_ttl_seconds,
        )
        return {
            "url": post["url"],
            "fields": post["fields"],
            "key": key,
            "expires_in": self._settings.upload_url_ttl_seconds,
        }

    def head(self, key: str) -> dict | None:
        """Size and content type of a stored object, or None when it is not stored."""
        from botocore.exceptions import ClientError

        try:
            meta = self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return {"size": meta["ContentLength"], "content_type": meta.get("ContentType")}

    def _model(self):
        from chalicelib.store.models import UploadModel, bind_models

        bind_models(self._settings)
        return UploadModel

    def _check_owned(self, user_id: str, key: str, field: str) -> None:
        """422 on `field` unless `key` is directly under the caller's upload prefix."""
        prefix = user_prefix(user_id)
        if not key.startswith(prefix) or "/" in key[len(prefix) :] or ".." in key:
            raise InvalidField(
                "照片不属于当前用户，请重新上传", field=field, code="photo_not_owned"
            )

    def _check_stored(self, meta: dict | None, field: str) -> dict:
        """422 on `field` unless S3's HEAD found an image within the size limit; the meta."""
        if meta is None:
            raise InvalidField("照片尚未上传成功，请重新上传", field=field, code="photo_missing")
        if meta["content_type"] not in ALLOWED_TYPES:
            raise InvalidField("仅支持 JPEG、PNG、WebP 图片", field=field, code="photo_type")
        if meta["size"] > self._settings.upload_max_bytes:
            limit_mb = self._settings.upload_max_bytes // (1024 * 1024)
            raise InvalidField(f"照片不能超过 {limit_mb} MB", field=field, code="photo_too_large")
        return meta

    def check_photo(self, user_id: str, key: str, field: str = "key") -> dict:
        """One key: the caller's, uploaded, an image within the size limit (S3 HEAD); its meta."""
        self._check_owned(user_id, key, field)
        return self._check_stored(self.head(key), field)

    def confirm(self, user_id: str, key: str) -> dict:
        """Check an uploaded photo once and record it, so submissions skip S3's HEAD.

        Idempotent: confirming again re-checks the object and rewrites the record.
        """
        meta = self.check_photo(user_id, key, field="key")
        model = self._model()
        model(
            key,
            user_id=user_id,
            content_type=meta["content_type"],
            size=meta["size"],
            confirmed_at=now_iso(),
            expires_at=int(time.time()) + CONFIRMATION_TTL_SECONDS,
        ).save()
        return {"key": key, "content_type": meta["content_type"], "size": meta["size"]}

    def _confirmed(self, user_id: str, keys: list[str]) -> dict[str, dict]:
        """Recorded meta of the keys `user_id` confirmed, unexpired.

        One consistent read: a GetItem for a single photo (the common case, and
        cheaper than a batch), one BatchGetItem for several.
        """
        model = self._model()
        unique = list(dict.fromkeys(keys))
        if len(unique) == 1:
            try:
                records = [model.get(unique[0], consistent_read=True)]
            except model.DoesNotExist:
                records = []
        else:
            records = model.batch_get(unique, consistent_read=True)
        now = time.time()
        return {
            record.key: {"content_type": record.content_type, "size": record.size}
            for record in records
            if record.user_id == user_id and record.expires_at > now
        }

    def require_photos(self, user_id: str, keys: list[str], field: str = "photos") -> None:
        """Check each key is the caller's, uploaded, an image and within the size limit.

        S3 enforces the presigned POST's conditions; this re-checks them so a
        photo that bypassed them is still refused, naming the offending index.
        A key confirmed by its owner (`POST /uploads/confirm`) was checked then:
        its record is the proof of upload, read for all keys in one consistent
        read. Only keys without one are HEADed (clients that do not confirm).
        """
        for index, key in enumerate(keys):
            self._check_owned(user_id, key, f"{field}[{index}]")
        if not keys:
            return
        confirmed = self._confirmed(user_id, keys)
        pending = [key for key in dict.fromkeys(keys) if key not in confirmed]
        heads = _heads.map(self.head, pending) if len(pending) > 1 else map(self.head, pending)
        stored = {**dict(zip(pending, heads, strict=True)), **confirmed}
        for index, key in enumerate(keys):
            # A recorded meta is re-checked too (free): the size limit may have shrunk since.
            self._check_stored(stored[key], f"{field}[{index}]")

    def photo_url(self, key: str) -> str:
        """A short-lived signed GET URL of a stored photo."""
        return self._client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": key},
            ExpiresIn=self._settings.photo_url_ttl_seconds,
        )

    def get_bytes(self, key: str) -> bytes | None:
        """The object's bytes, or None when it is not stored."""
        from botocore.exceptions import ClientError

        try:
            return self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def put_bytes(self, key: str, body: bytes, content_type: str) -> None:
        """Store bytes under `key`."""
        self._client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def create_bucket(self) -> None:
        """Create the bucket if missing, with its CORS rules (local stack only; AWS gets it
        from the template)."""
        from botocore.exceptions import ClientError

        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self._client.create_bucket(
                Bucket=self.bucket,
                CreateBucketConfiguration={"LocationConstraint": self._settings.region},
            )
        self._client.put_bucket_cors(
            Bucket=self.bucket, CORSConfiguration={"CORSRules": [UPLOAD_CORS]}
        )
