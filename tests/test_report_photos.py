"""PUT /api/reports/<id>/photos/<photo_id>: stored once, limits and types enforced."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import api_client, at_once
from tests.test_reports_api import report

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 200
PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 200


@pytest.fixture()
def stored_report(demo_loaded, client):
    body = report(kind="other", components=[])
    assert client.post("/api/reports", json=body).status_code == 201
    return body["id"]


def put(client, report_id, photo_id, data, content_type="image/jpeg"):
    return client.put(f"/api/reports/{report_id}/photos/{photo_id}", data=data, content_type=content_type)


def photo_count(db, report_id) -> int:
    return db.execute("SELECT count(*) AS n FROM report_photo WHERE report_id = %s", (report_id,)).fetchone()["n"]


def test_photo_is_stored_once_and_listed_on_the_report(client, db, stored_report):
    photo = str(uuid.uuid4())
    assert put(client, stored_report, photo, JPEG).status_code == 201
    assert put(client, stored_report, photo, JPEG).status_code == 200
    assert photo_count(db, stored_report) == 1
    assert client.get(f"/api/reports/{stored_report}").json["report"]["photo_ids"] == [photo]
    fetched = client.get(f"/api/reports/{stored_report}/photos/{photo}")
    assert fetched.data == JPEG and fetched.mimetype == "image/jpeg"


def test_same_photo_id_with_other_bytes_is_409(client, db, stored_report):
    photo = str(uuid.uuid4())
    assert put(client, stored_report, photo, JPEG).status_code == 201
    assert put(client, stored_report, photo, JPEG + b"!").status_code == 409
    assert photo_count(db, stored_report) == 1


@pytest.mark.parametrize(("data", "content_type", "status"), [
    (b"GIF89a....", "image/gif", 415),
    (PNG, "image/jpeg", 415),  # the bytes are not what the header claims
    (b"", "image/jpeg", 400),
    (b"\xff\xd8\xff" + b"\x00" * (8 * 1024 * 1024), "image/jpeg", 413),
])
def test_bad_photos_are_refused_and_nothing_is_stored(client, db, stored_report, data, content_type, status):
    assert put(client, stored_report, str(uuid.uuid4()), data, content_type).status_code == status
    assert photo_count(db, stored_report) == 0


def test_photo_of_an_unknown_report_is_404(demo_loaded, client):
    assert put(client, str(uuid.uuid4()), str(uuid.uuid4()), JPEG).status_code == 404
    assert put(client, "nope", str(uuid.uuid4()), JPEG).status_code == 404


def test_concurrent_copies_of_one_photo_are_stored_once(demo_loaded, db, tokens, stored_report):
    photo = str(uuid.uuid4())
    clients = [api_client(demo_loaded, tokens["crew"]) for _ in range(8)]
    statuses = at_once([lambda c=c: put(c, stored_report, photo, JPEG).status_code for c in clients])
    assert sorted(statuses) == [200] * 7 + [201]
    assert photo_count(db, stored_report) == 1


def test_several_photos_per_report_each_once(client, db, stored_report):
    photos = [str(uuid.uuid4()) for _ in range(3)]
    for i, photo in enumerate(photos):
        assert put(client, stored_report, photo, JPEG + bytes([i])).status_code == 201
    for i, photo in enumerate(photos):  # the outbox re-sends them all after a lost connection
        assert put(client, stored_report, photo, JPEG + bytes([i])).status_code == 200
    assert photo_count(db, stored_report) == 3
    assert sorted(client.get(f"/api/reports/{stored_report}").json["report"]["photo_ids"]) == sorted(photos)
