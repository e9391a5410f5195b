"""The Telegram bot through nginx and three replicas, against a fake Bot API on loopback."""

import itertools
import json
import os
import subprocess
import sys
import time

import pytest
import requests

from fake_telegram import FakeBotAPI, message_update
from local_stack.stack import APP_DIR, WORKER_DIR
from support import cache, click_count, disposable_stack, follow, wait_for

TOKEN = "123456:TEST-TOKEN"
SECRET = "webhook-secret-for-tests"
update_ids = itertools.count(1)
users = itertools.count(5001)


@pytest.fixture(scope="module")
def fake_api():
    api = FakeBotAPI(TOKEN)
    yield api
    api.close()


@pytest.fixture(scope="module")
def stack(fake_api):
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": fake_api.url, "TELEGRAM_WEBHOOK_SECRET": SECRET,
           "LINK_CREATE_RATE_LIMIT": "100000/minute"}
    with disposable_stack(replicas=3, workers=1, env=env) as running:
        yield running


def deliver(url: str, update: dict, secret: str = SECRET) -> requests.Response:
    return requests.post(f"{url}/telegram/webhook", json=update, timeout=10,
                         headers={"X-Telegram-Bot-Api-Secret-Token": secret})


def ask(stack, fake_api, text: str, user: int) -> str:
    """Send `text` as `user` through the webhook and return the bot's one reply."""
    before = len(fake_api.replies_to(user))
    assert deliver(stack.url, message_update(next(update_ids), text, user)).status_code == 200
    replies = wait_for(lambda: fake_api.replies_to(user)[before:], 15, f"a reply to {text!r}")
    return replies[-1]


def test_a_url_gets_exactly_one_reply_with_a_working_short_link(stack, fake_api):
    user = next(users)
    reply = ask(stack, fake_api, "please shorten https://example.com/from-telegram?x=1", user)
    short_url = reply.split()[0]
    assert short_url.startswith(f"{stack.url}/")
    assert follow(stack, short_url.rsplit("/", 1)[1]).headers["Location"] == "https://example.com/from-telegram?x=1"
    time.sleep(1)
    assert len(fake_api.replies_to(user)) == 1
    assert short_url in ask(stack, fake_api, "/mylinks", user)


def test_the_same_update_delivered_to_two_replicas_is_answered_once(stack, fake_api):
    user = next(users)
    update = message_update(next(update_ids), "https://example.com/twice", user)
    first = requests.post(f"http://127.0.0.1:{stack.app_ports['app-1']}/telegram/webhook", json=update, timeout=10,
                          headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    second = requests.post(f"http://127.0.0.1:{stack.app_ports['app-2']}/telegram/webhook", json=update, timeout=10,
                           headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.json()["queued"], second.json()["queued"]) == (True, False)
    wait_for(lambda: fake_api.replies_to(user), 15, "the reply")
    time.sleep(2)
    assert len(fake_api.replies_to(user)) == 1


def test_a_wrong_secret_is_refused_and_never_answered(stack, fake_api):
    user = next(users)
    response = deliver(stack.url, message_update(next(update_ids), "https://example.com/forged", user),
                       secret="guess")
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/problem+json"
    time.sleep(2)
    assert fake_api.replies_to(user) == []


def test_stats_reports_the_clicks(stack, fake_api):
    user = next(users)
    code = ask(stack, fake_api, "https://example.com/popular", user).split()[0].rsplit("/", 1)[1]
    for _ in range(3):
        follow(stack, code)
    wait_for(lambda: click_count(stack, code) == 3, 15, "3 clicks stored")
    reply = ask(stack, fake_api, f"/stats {code}", user)
    assert "3 in total" in reply and "3 in the last 24 hours" in reply


@pytest.mark.parametrize("text, expected", [
    ("ftp://example.com/file", "I cannot shorten that: Only http:// and https://"),
    ("https://user:secret@example.com/private", "I cannot shorten that: url must not contain a user name or password"),
    ("/stats nosuchcode", "No link has the code 'nosuchcode'"),
    ("/stats", "Usage: /stats <code>"),
    ("hello there", "Send me a full link"),
    ("/start", "I shorten links."),
    ("/frobnicate", "Try /help"),
])
def test_every_message_gets_a_helpful_answer(stack, fake_api, text, expected):
    assert expected in ask(stack, fake_api, text, next(users))


def test_malformed_updates_are_refused(stack):
    response = requests.post(f"{stack.url}/telegram/webhook", json={"message": "no update_id"}, timeout=10,
                             headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert response.status_code == 400
    nested = requests.post(f"{stack.url}/telegram/webhook", data="[" * 5000 + "]" * 5000, timeout=10,
                           headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"})
    assert nested.status_code == 400
    assert nested.headers["Content-Type"] == "application/problem+json"


def test_a_secret_with_non_ascii_characters_is_refused_not_an_error(stack):
    response = deliver(stack.url, message_update(next(update_ids), "/help", next(users)), secret="sécret")
    assert response.status_code == 403


def test_an_update_the_bot_cannot_read_is_set_aside_and_the_bot_goes_on(stack, fake_api):
    bad_id = next(update_ids)
    # The right secret and an integer update_id, so the webhook queues it; but no Update parses it.
    assert deliver(stack.url, {"update_id": bad_id, "message": "oops"}).status_code == 200
    dead = wait_for(lambda: cache(stack).xrange("bot:updates:dead"), 15, "the update in the dead-letter stream")
    assert [json.loads(fields["update"])["update_id"] for _, fields in dead] == [bad_id]
    assert "I shorten links." in ask(stack, fake_api, "/start", next(users))  # the consumer still runs
    assert cache(stack).xlen("bot:updates") == 0


def start_poller(stack, fake_api, **env: str) -> subprocess.Popen:
    """`telegram_bot.py poll` against the stack and the fake Bot API, with `env` on top."""
    env = {**os.environ, "DATABASE_URL": stack.database_url, "REDIS_URL": stack.redis_url,
           "PUBLIC_BASE_URL": stack.url, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": fake_api.url,
           "PYTHONPATH": str(APP_DIR), **env}
    return subprocess.Popen([sys.executable, "telegram_bot.py", "poll"], cwd=WORKER_DIR, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_polling_mode_answers_an_update_from_get_updates(stack, fake_api):
    user = next(users)
    fake_api.queue_update(message_update(next(update_ids), "/help", user))
    poller = start_poller(stack, fake_api)
    try:
        replies = wait_for(lambda: fake_api.replies_to(user) or poller.poll() is not None, 30, "the polled reply")
        assert replies is not True, poller.stdout.read()
        assert "I shorten links." in fake_api.replies_to(user)[0]
    finally:
        poller.terminate()
        poller.wait(15)


def test_stats_of_a_link_are_for_its_creator_only(stack, fake_api):
    code = ask(stack, fake_api, "https://example.com/secret-campaign", next(users)).split()[0].rsplit("/", 1)[1]
    reply = ask(stack, fake_api, f"/stats {code}", next(users))
    assert "private" in reply and "secret-campaign" not in reply
    assert requests.get(f"{stack.url}/api/v1/links/{code}/stats", timeout=5).status_code == 403


def test_creating_links_through_the_bot_has_the_per_client_limit(stack, fake_api):
    user = next(users)
    for n in range(3):
        fake_api.queue_update(message_update(next(update_ids), f"https://example.com/fast/{n}", user))
    poller = start_poller(stack, fake_api, LINK_CREATE_RATE_LIMIT="2/minute")
    try:
        replies = wait_for(lambda: len(fake_api.replies_to(user)) == 3 or poller.poll() is not None, 30, "3 replies")
        assert replies is True and poller.poll() is None, poller.stdout.read()
    finally:
        poller.terminate()
        poller.wait(15)
    answers = fake_api.replies_to(user)
    assert sum(answer.startswith(f"{stack.url}/") for answer in answers) == 2
    assert "too fast" in answers[2] and "2 per 1 minute" in answers[2]
