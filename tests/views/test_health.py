"""The probes and the machine endpoints answer errors as problem+json, with the reason."""

import pytest

from shortstack import cluster

UNREACHABLE_REDIS = {"REDIS_URL": "redis://127.0.0.1:1/0"}  # port 1: refused at once


@pytest.mark.parametrize("settings_env", [UNREACHABLE_REDIS])
def test_readyz_names_what_is_down_in_a_problem(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["Retry-After"] == "5"
    body = response.get_json()
    assert body["checks"] == {"postgres": "ok", "redis": "unavailable"}
    assert "redis" in body["detail"]


@pytest.mark.parametrize("settings_env", [{**UNREACHABLE_REDIS, "TELEGRAM_BOT_TOKEN": "1:X",
                                           "TELEGRAM_WEBHOOK_SECRET": "s"}])
def test_a_webhook_update_that_cannot_be_queued_is_a_503_telegram_retries(client):
    response = client.post("/telegram/webhook", json={"update_id": 7}, headers={"X-Telegram-Bot-Api-Secret-Token": "s"})
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["Retry-After"] == "5"


def test_the_slow_downstream_demo_is_off_by_default(client):
    response = client.get("/api/v1/demo/downstream")
    assert response.status_code == 404
    assert "DOWNSTREAM_DELAY_MS" in response.get_json()["detail"]


def test_what_cluster_does_not_count_as_traffic_are_real_endpoints(app):
    # A renamed view would silently start counting its probes as traffic again.
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert cluster.NOT_TRAFFIC <= endpoints, cluster.NOT_TRAFFIC - endpoints
