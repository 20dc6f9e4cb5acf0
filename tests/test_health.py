"""GET /healthz: 200 when the database is reachable and migrated, 503 otherwise."""

from __future__ import annotations

from tests.conftest import free_port, make_app


def test_health_is_ok_on_a_migrated_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok"
    assert response.json["schema"] == response.json["schema_head"]


def test_health_is_503_when_the_schema_is_not_migrated(pg_server):
    url = pg_server.create_database("gt_unmigrated")
    app = make_app(url)
    try:
        response = app.test_client().get("/healthz")
        assert response.status_code == 503
        assert response.json["status"] == "not migrated"
    finally:
        app.extensions["db_pool"].close()
        pg_server.drop_database(url)


def test_health_is_503_when_the_database_is_unreachable():
    app = make_app(f"postgresql://nobody:x@127.0.0.1:{free_port()}/none", DB_TIMEOUT_S=0.5)
    try:
        response = app.test_client().get("/healthz")
        assert response.status_code == 503
        assert response.json["database"] == "unreachable"
    finally:
        app.extensions["db_pool"].close()


def test_health_says_no_replica_is_configured(client):
    assert client.get("/healthz").json["replica"] == {"configured": False}
