"""`POST /uploads/confirm` and how submissions use confirmations (chalice.test.Client, moto)."""

from __future__ import annotations

import pytest

from tests.helpers import jpeg_bytes, upload_to

REPORT = {"station_id": "S01", "category": "municipal.road", "text": "汇泉路路面塌陷，有积水"}


def _upload(api, token, data: bytes | None = None) -> str:
    """Upload a JPEG to moto's S3 through a presigned POST; its key (not confirmed)."""
    data = data or jpeg_bytes()
    status, presigned = api.json(
        "POST", "/uploads", {"content_type": "image/jpeg", "size": len(data)}, token=token
    )
    assert status == 200, presigned
    assert upload_to(presigned, data).status_code in (200, 204)
    return presigned["key"]


def _presigned_key(api, token) -> str:
    """A key under the caller's prefix that was never uploaded."""
    status, presigned = api.json(
        "POST", "/uploads", {"content_type": "image/jpeg", "size": 100}, token=token
    )
    assert status == 200, presigned
    return presigned["key"]


def _confirm(api, token, key):
    return api.json("POST", "/uploads/confirm", {"key": key}, token=token)


def _submit(api, token, photos: list[str]):
    return api.json("POST", "/reports", {**REPORT, "photos": photos}, token=token)


def _refusal(api, token, photos: list[str]) -> tuple[int, str, str]:
    """(status, error code, error field) of a submission with these photos."""
    status, answer = _submit(api, token, photos)
    error = answer.get("error", {})
    return status, error.get("code"), error.get("field")


def _s3():
    from chalicelib.bootstrap import services

    return services().uploads


def test_confirming_an_uploaded_jpeg_answers_its_type_and_size(api):
    login = api.login()
    token = login["token"]
    data = jpeg_bytes()
    key = _upload(api, token, data)
    status, body = _confirm(api, token, key)
    assert status == 200, body
    assert body == {"key": key, "content_type": "image/jpeg", "size": len(data)}

    from chalicelib.store.models import UploadModel

    record = UploadModel.get(key, consistent_read=True)
    assert record.user_id == login["user"]["id"]
    assert (record.content_type, record.size) == ("image/jpeg", len(data))
    assert record.confirmed_at and record.expires_at > 0


def test_confirming_twice_is_fine(api):
    token = api.login()["token"]
    key = _upload(api, token)
    first = _confirm(api, token, key)
    second = _confirm(api, token, key)
    assert first[0] == second[0] == 200
    assert first[1] == second[1]


def test_confirming_a_key_never_uploaded_is_photo_missing(api):
    token = api.login()["token"]
    status, body = _confirm(api, token, _presigned_key(api, token))
    assert status == 422
    assert body["error"]["code"] == "photo_missing"
    assert body["error"]["field"] == "key"


def test_confirming_another_users_key_is_photo_not_owned(api):
    owner = api.login()["token"]
    key = _upload(api, owner)
    thief = api.login()["token"]
    status, body = _confirm(api, thief, key)
    assert status == 422
    assert body["error"]["code"] == "photo_not_owned"
    assert body["error"]["field"] == "key"


def test_confirming_a_stored_object_of_the_wrong_type_is_photo_type(api):
    login = api.login()
    key = f"uploads/{login['user']['id']}/0123456789abcdef0123456789abcdef.jpg"
    _s3().put_bytes(key, b"GIF89a", "image/gif")
    status, body = _confirm(api, login["token"], key)
    assert status == 422
    assert (body["error"]["code"], body["error"]["field"]) == ("photo_type", "key")


def test_confirming_a_photo_over_the_limit_is_photo_too_large(api, monkeypatch):
    token = api.login()["token"]
    key = _upload(api, token)
    monkeypatch.setenv("UPLOAD_MAX_BYTES", "100")
    status, body = _confirm(api, token, key)
    assert status == 422
    assert (body["error"]["code"], body["error"]["field"]) == ("photo_too_large", "key")


@pytest.mark.parametrize(
    "body",
    [{}, {"key": ""}, {"key": 12}, {"key": ["uploads/x.jpg"]}, {"key": None}, {"key": "k" * 257}],
)
def test_a_bad_confirm_body_names_key(api, body):
    token = api.login()["token"]
    status, answer = api.json("POST", "/uploads/confirm", body, token=token)
    assert status == 422
    assert answer["error"]["field"] == "key"


def test_a_confirm_body_that_is_not_a_json_object_is_400(api):
    token = api.login()["token"]
    status, answer = api.json("POST", "/uploads/confirm", raw="[1]", token=token)
    assert status == 400
    status, answer = api.json("POST", "/uploads/confirm", raw="{", token=token)
    assert status == 400


def test_confirm_needs_a_login(api):
    status, _ = api.json("POST", "/uploads/confirm", {"key": "uploads/u/x.jpg"})
    assert status == 401


def test_a_confirmed_photo_is_accepted_and_shown_on_the_report(api):
    token = api.login()["token"]
    key = _upload(api, token)
    assert _confirm(api, token, key)[0] == 200
    status, report = _submit(api, token, [key])
    assert status == 201, report
    status, read = api.json("GET", f"/reports/{report['id']}", token=token)
    assert status == 200
    assert [photo["key"] for photo in read["photos"]] == [key]


@pytest.mark.parametrize("count", [1, 3])
def test_the_confirmation_record_is_the_proof_of_upload(api, count):
    """A submission does not HEAD a confirmed photo again: the record stands for the upload.

    Deleting the objects after confirming shows it: the submission still succeeds because it
    reads only the confirmations (a GetItem for one photo, a BatchGetItem for several), which
    were written after S3's HEAD found the objects (a client cannot delete objects; only the
    bucket's lifecycle or an operator could).
    """
    token = api.login()["token"]
    keys = [_upload(api, token) for _ in range(count)]
    for key in keys:
        assert _confirm(api, token, key)[0] == 200
        _s3()._client.delete_object(Bucket=_s3().bucket, Key=key)
        assert _s3().head(key) is None
    status, report = _submit(api, token, keys)
    assert status == 201, report
    assert [photo["key"] for photo in report["photos"]] == keys


def test_an_unconfirmed_photo_is_still_accepted_after_a_head(api):
    token = api.login()["token"]
    key = _upload(api, token)
    status, report = _submit(api, token, [key])
    assert status == 201, report
    assert [photo["key"] for photo in report["photos"]] == [key]


def test_a_missing_unconfirmed_photo_is_still_422_on_its_index(api):
    token = api.login()["token"]
    confirmed = _upload(api, token)
    assert _confirm(api, token, confirmed)[0] == 200
    missing = _presigned_key(api, token)
    assert _refusal(api, token, [missing]) == (422, "photo_missing", "photos[0]")
    assert _refusal(api, token, [confirmed, missing]) == (422, "photo_missing", "photos[1]")


def test_another_users_confirmation_does_not_make_a_photo_the_callers(api):
    owner = api.login()["token"]
    key = _upload(api, owner)
    assert _confirm(api, owner, key)[0] == 200
    thief = api.login()["token"]
    assert _refusal(api, thief, [key]) == (422, "photo_not_owned", "photos[0]")


def test_an_expired_confirmation_falls_back_to_the_head(api):
    """TTL deletion lags (up to ~48 h): an expired record is ignored, the object is HEADed."""
    from chalicelib.store.models import UploadModel

    token = api.login()["token"]
    key = _upload(api, token)
    assert _confirm(api, token, key)[0] == 200
    record = UploadModel.get(key, consistent_read=True)
    record.update(actions=[UploadModel.expires_at.set(1)])
    _s3()._client.delete_object(Bucket=_s3().bucket, Key=key)
    assert _refusal(api, token, [key]) == (422, "photo_missing", "photos[0]")


def test_a_confirmed_photo_over_a_since_lowered_limit_is_refused(api, monkeypatch):
    """The recorded type and size are re-checked at submission (no request needed for that)."""
    token = api.login()["token"]
    key = _upload(api, token)
    assert _confirm(api, token, key)[0] == 200
    monkeypatch.setenv("UPLOAD_MAX_BYTES", "100")
    assert _refusal(api, token, [key]) == (422, "photo_too_large", "photos[0]")
