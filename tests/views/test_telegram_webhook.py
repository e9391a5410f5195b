"""POST /telegram/webhook: what it refuses, and how (the bot's replies are tests/integration's)."""

import pytest

SECRET = "webhook-secret-for-tests"
BOT_ON = {"TELEGRAM_BOT_TOKEN": "123456:TEST-TOKEN", "TELEGRAM_WEBHOOK_SECRET": SECRET}


def test_webhook_is_off_without_a_token(client):
    response = client.post("/telegram/webhook", json={"update_id": 1})
    assert response.status_code == 404
    assert "bot is off" in response.get_json()["detail"]


@pytest.mark.parametrize("settings_env", [BOT_ON])
def test_malformed_updates_are_refused(client):
    response = client.post("/telegram/webhook", json={"message": "no update_id"},
                           headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert response.status_code == 400
    nested = client.post("/telegram/webhook", data="[" * 5000 + "]" * 5000,
                         headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"})
    assert nested.status_code == 400
    assert nested.headers["Content-Type"] == "application/problem+json"


# Non-ASCII: hmac.compare_digest refuses such a str, so the view compares bytes.
@pytest.mark.parametrize("settings_env", [BOT_ON])
@pytest.mark.parametrize("secret", ["guess", "sécret"])
def test_a_wrong_secret_is_a_403_problem_not_an_error(client, secret):
    response = client.post("/telegram/webhook", json={"update_id": 1, "message": {}},
                           headers={"X-Telegram-Bot-Api-Secret-Token": secret})
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/problem+json"
