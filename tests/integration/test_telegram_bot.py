"""The Telegram bot through nginx and three replicas, against a fake Bot API on loopback."""

import itertools
import json
import os
import subprocess
import sys
import time

import pytest
import requests

from local_stack.paths import APP_DIR, WORKER_DIR
from tests.integration.fake_telegram import (
    ANONYMOUS_ADMIN,
    CHANNEL_BOT,
    SERVICE_USER,
    FakeBotAPI,
    entity,
    group,
    message_update,
)
from tests.integration.support import cache, click_count, db, disposable_stack, follow, wait_for

TOKEN = "123456:TEST-TOKEN"
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
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


def ask(stack, fake_api, text: str, user: int, links: tuple[str, ...] = (), **fields) -> str:
    """Send `text` as `user` (links marked as Telegram marks them, `fields` as in message_update)
    through the webhook and return the bot's one reply, in the message's chat."""
    chat = fields.get("chat", {}).get("id", user)
    before = len(fake_api.replies_to(chat))
    assert deliver(stack.url, message_update(next(update_ids), text, user, links, **fields)).status_code == 200
    replies = wait_for(lambda: fake_api.replies_to(chat)[before:], 15, f"a reply to {text!r}")
    return replies[-1]


def shorten(stack, fake_api, url: str, user: int, **fields) -> str:
    """The code of the short link the bot answers `url` with."""
    return ask(stack, fake_api, url, user, (url,), **fields).split()[0].rsplit("/", 1)[1]


def test_a_url_gets_exactly_one_reply_with_a_working_short_link(stack, fake_api):
    user = next(users)
    reply = ask(stack, fake_api, "please shorten https://example.com/from-telegram?x=1", user,
                ("https://example.com/from-telegram?x=1",))
    short_url = reply.split()[0]
    assert short_url.startswith(f"{stack.url}/")
    assert follow(stack, short_url.rsplit("/", 1)[1]).headers["Location"] == "https://example.com/from-telegram?x=1"
    time.sleep(1)
    assert len(fake_api.replies_to(user)) == 1
    assert short_url in ask(stack, fake_api, "/mylinks", user)


def test_the_bot_worker_logs_the_request_id_of_the_webhook_call_that_queued_the_update(stack, fake_api):
    user = next(users)
    update = message_update(next(update_ids), "/help", user)
    response = deliver(stack.url, update)
    assert response.status_code == 200
    request_id, replica = response.headers["X-Request-ID"], response.headers["X-Served-By"]
    wait_for(lambda: fake_api.replies_to(user), 15, "the reply")
    handled = wait_for(lambda: [json.loads(line) for line in bot_log(stack).splitlines() if request_id in line], 15,
                       "the bot worker's line")
    assert [line["message"] for line in handled] == [f"update {update['update_id']} handled"]
    assert handled[0]["request_id"] == request_id
    replica_log = (stack.logs_dir / f"{replica}.log").read_text()
    assert f'"request_id": "{request_id}"' in replica_log and '"path": "/telegram/webhook"' in replica_log


def test_the_same_update_delivered_to_two_replicas_is_answered_once(stack, fake_api):
    user = next(users)
    update = message_update(next(update_ids), "https://example.com/twice", user, ("https://example.com/twice",))
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
    code = shorten(stack, fake_api, "https://example.com/popular", user)
    for user_agent in (CHROME, CHROME, "curl/8.5.0", "http.rb/5.1.1 (Mastodon/4.0.2; +https://mastodon.social/)"):
        follow(stack, code, **{"User-Agent": user_agent})
    wait_for(lambda: click_count(stack, code) == 4, 15, "4 clicks stored")
    reply = ask(stack, fake_api, f"/stats {code}", user)
    assert "4 in total" in reply and "4 in the last 24 hours" in reply
    assert "By people: 2, by bots: 1, link previews: 1." in reply


@pytest.mark.parametrize("text, expected", [
    ("/stats nosuchcode", "No link has the code 'nosuchcode'"),
    ("/stats", "Usage: /stats <code>"),
    ("hello there", "Send me a full link"),
    ("/start", "I shorten links."),
    ("/frobnicate", "Try /help"),
])
def test_every_message_gets_a_helpful_answer(stack, fake_api, text, expected):
    assert expected in ask(stack, fake_api, text, next(users))


@pytest.mark.parametrize("link, reason", [
    ("ftp://example.com/file", "Only http:// and https://"),
    ("https://user:secret@example.com/private", "url must not contain a user name or password"),
])
def test_a_link_the_bot_cannot_shorten_gets_the_reason(stack, fake_api, link, reason):
    reply = ask(stack, fake_api, link, next(users), (link,))
    assert f"I cannot shorten that: {reason}" in reply


def test_an_update_the_bot_cannot_read_is_set_aside_and_the_bot_goes_on(stack, fake_api):
    bad_id = next(update_ids)
    # The right secret and an integer update_id, so the webhook queues it; but no Update parses it.
    assert deliver(stack.url, {"update_id": bad_id, "message": "oops"}).status_code == 200
    dead = wait_for(lambda: cache(stack).xrange("bot:updates:dead"), 15, "the update in the dead-letter stream")
    assert [json.loads(fields["update"])["update_id"] for _, fields in dead] == [bad_id]
    assert "I shorten links." in ask(stack, fake_api, "/start", next(users))  # the consumer still runs
    # The reply is sent before its update is acknowledged and removed from the queue.
    wait_for(lambda: cache(stack).xlen("bot:updates") == 0, 15, "the queue drained")


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


def test_the_webhook_and_polling_ask_for_the_same_updates(stack, fake_api):
    env = {**os.environ, "DATABASE_URL": stack.database_url, "REDIS_URL": stack.redis_url,
           "PUBLIC_BASE_URL": "https://sho.example", "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": fake_api.url,
           "TELEGRAM_WEBHOOK_SECRET": SECRET, "PYTHONPATH": str(APP_DIR)}
    registered = subprocess.run([sys.executable, "telegram_bot.py", "set-webhook"], cwd=WORKER_DIR, env=env,
                                capture_output=True, text=True, timeout=60)
    assert registered.returncode == 0, registered.stderr
    poller = start_poller(stack, fake_api)
    try:
        wait_for(lambda: "getUpdates" in fake_api.params or poller.poll() is not None, 30, "a getUpdates call")
    finally:
        poller.terminate()
        poller.wait(15)

    def allowed(method: str) -> list[str]:
        value = fake_api.params[method]["allowed_updates"]
        return json.loads(value) if isinstance(value, str) else value

    assert allowed("setWebhook") == allowed("getUpdates") == ["message"]


def test_stats_of_a_link_are_for_its_creator_only(stack, fake_api):
    code = shorten(stack, fake_api, "https://example.com/secret-campaign", next(users))
    reply = ask(stack, fake_api, f"/stats {code}", next(users))
    assert "private" in reply and "secret-campaign" not in reply
    assert requests.get(f"{stack.url}/api/v1/links/{code}/stats", timeout=5).status_code == 403


def test_creating_links_through_the_bot_has_the_per_client_limit(stack, fake_api):
    """Per real sender: the anonymous admins of two groups are two senders, not one placeholder."""
    user, groups = next(users), [-1001000000000 - next(users) for _ in range(2)]
    for n in range(3):
        fake_api.queue_update(message_update(next(update_ids), f"https://example.com/fast/{n}", user,
                                             (f"https://example.com/fast/{n}",)))
    for chat_id in groups:
        for n in range(2):
            url = f"https://example.com/fast/{chat_id}/{n}"
            fake_api.queue_update(message_update(next(update_ids), url, links=(url,), chat=group(chat_id),
                                                 sender_chat=group(chat_id), **{"from": ANONYMOUS_ADMIN}))
    poller = start_poller(stack, fake_api, LINK_CREATE_RATE_LIMIT="2/minute")
    try:
        replies = wait_for(lambda: len(fake_api.replies_to(user)) == 3 and all(
            len(fake_api.replies_to(chat_id)) == 2 for chat_id in groups) or poller.poll() is not None, 30, "7 replies")
        assert replies is True and poller.poll() is None, poller.stdout.read()
    finally:
        poller.terminate()
        poller.wait(15)
    answers = fake_api.replies_to(user)
    assert sum(answer.startswith(f"{stack.url}/") for answer in answers) == 2
    assert "too fast" in answers[2] and "2 per 1 minute" in answers[2]
    for chat_id in groups:
        assert all(answer.startswith(f"{stack.url}/") for answer in fake_api.replies_to(chat_id))


# Messages a chat sent, not a person: Telegram puts a shared placeholder in `from`.
ON_BEHALF_OF_A_CHAT = {
    "anonymous group admin": lambda chat_id: {"chat": group(chat_id), "sender_chat": group(chat_id),
                                              "from": ANONYMOUS_ADMIN},
    "channel writing in its discussion group": lambda chat_id: {
        "chat": group(-1009990000000), "sender_chat": {"id": chat_id, "type": "channel", "title": "a channel"},
        "from": CHANNEL_BOT},
}


@pytest.mark.parametrize("sent_as", ON_BEHALF_OF_A_CHAT.values(), ids=ON_BEHALF_OF_A_CHAT.keys())
def test_links_sent_on_behalf_of_a_chat_belong_to_that_chat(stack, fake_api, sent_as):
    owner, stranger, third = (-1001000000000 - next(users) for _ in range(3))
    code = shorten(stack, fake_api, f"https://example.com/private/{owner}", 1, **sent_as(owner))
    theirs = ask(stack, fake_api, "/mylinks", 1, **sent_as(stranger))
    assert "not shortened anything" in theirs and code not in theirs and "private" not in theirs
    assert "private: only whoever created it" in ask(stack, fake_api, f"/stats {code}", 1, **sent_as(third))
    assert code in ask(stack, fake_api, "/mylinks", 1, **sent_as(owner))
    assert "0 in total" in ask(stack, fake_api, f"/stats {code}", 1, **sent_as(owner))


def test_a_persons_links_and_their_clicks_are_never_shown_in_a_group(stack, fake_api):
    user, chat = next(users), -1004000000000 - next(users)
    code = shorten(stack, fake_api, f"https://example.com/mine/{user}", user)  # in a private chat
    for asked in ("/mylinks", f"/stats {code}"):
        reply = ask(stack, fake_api, asked, user, chat=group(chat))
        assert "ask me in a private chat" in reply and code not in reply and "example.com" not in reply
    assert code in ask(stack, fake_api, "/mylinks", user)  # privately, as ever


def bot_log(stack) -> str:
    return (stack.logs_dir / "bot-1.log").read_text()


def test_updates_the_bot_does_not_answer_are_skipped_without_an_error(stack, fake_api):
    """A channel post (no `from`), an edit, a channel post forwarded into its discussion group,
    and a kind of update the bot never asked for: no reply, no traceback, no link made."""
    channel, discussion, user = -1002000000000 - next(users), -1003000000000 - next(users), next(users)
    url = "https://example.com/not-asked-for"
    in_channel = {"id": channel, "type": "channel", "title": "news"}
    skipped = [
        message_update(next(update_ids), url, links=(url,), kind="channel_post", chat=in_channel,
                       sender_chat=in_channel, **{"from": None}),
        message_update(next(update_ids), url, user, (url,), kind="edited_message", edit_date=int(time.time())),
        message_update(next(update_ids), url, links=(url,), chat=group(discussion), sender_chat=in_channel,
                       is_automatic_forward=True, **{"from": SERVICE_USER}),
        {"update_id": next(update_ids), "my_chat_member": {
            "chat": group(discussion), "from": {"id": user, "is_bot": False, "first_name": "Ada"},
            "date": int(time.time()),
            "old_chat_member": {"status": "left", "user": {"id": 4242, "is_bot": True, "first_name": "Shortstack"}},
            "new_chat_member": {"status": "member", "user": {"id": 4242, "is_bot": True, "first_name": "Shortstack"}}}},
    ]
    logged_before = len(bot_log(stack))
    for update in skipped:
        assert deliver(stack.url, update).status_code == 200
    assert "I shorten links." in ask(stack, fake_api, "/help", user)  # handled after every skipped one
    wait_for(lambda: cache(stack).xlen("bot:updates") == 0, 15, "the queue drained")
    assert [fake_api.replies_to(chat) for chat in (channel, discussion)] == [[], []]
    assert len(fake_api.replies_to(user)) == 1
    logged = [json.loads(line) for line in bot_log(stack)[logged_before:].splitlines()]
    assert [line for line in logged if line["level"] == "ERROR" or "exc_info" in line] == [], logged
    with db(stack) as conn:
        assert conn.execute("SELECT count(*) FROM links WHERE url = %s", (url,)).fetchone()[0] == 0


def test_a_redis_blip_at_the_acknowledgement_does_not_end_the_consumer(stack, fake_api):
    """Redis stops while the bot sends its reply, so the acknowledgement that follows fails."""
    user = next(users)

    def stop_redis(params: dict) -> None:
        if int(params["chat_id"]) == user:
            fake_api.on_send = None
            stack.stop_process("redis")

    fake_api.on_send = stop_redis
    try:
        assert deliver(stack.url, message_update(next(update_ids), "/help", user)).status_code == 200
        wait_for(lambda: "acknowledging 1 entry of bot:updates failed" in bot_log(stack), 30,
                 "the bot worker to retry the acknowledgement")
    finally:
        fake_api.on_send = None
        stack.restart("redis")
    assert "I shorten links." in ask(stack, fake_api, "/help", next(users))  # the consumer goes on
    assert len(fake_api.replies_to(user)) == 1  # and did not answer the first update twice
    assert stack.processes["bot-1"].running


@pytest.mark.parametrize("text, entities, target", [
    ("Read this (https://example.com/docs).", ["https://example.com/docs"], "https://example.com/docs"),
    ("<https://example.com/angle>", ["https://example.com/angle"], "https://example.com/angle"),
    ("«https://example.com/quoted», said she", ["https://example.com/quoted"], "https://example.com/quoted"),
    ("Привет 👋🏽 https://example.com/after-emoji!", ["https://example.com/after-emoji"],
     "https://example.com/after-emoji"),
    ("see example.com/bare, then", ["example.com/bare"], "http://example.com/bare"),
])
def test_the_link_is_the_span_telegram_marked(stack, fake_api, text, entities, target):
    code = ask(stack, fake_api, text, next(users), tuple(entities)).split()[0].rsplit("/", 1)[1]
    assert follow(stack, code).headers["Location"] == target


def test_a_link_behind_words_is_shortened(stack, fake_api):
    text = "the release notes"
    link = entity(text, "release notes", "text_link", url="https://example.com/notes")
    reply = ask(stack, fake_api, text, next(users), entities=(link,))
    assert follow(stack, reply.split()[0].rsplit("/", 1)[1]).headers["Location"] == "https://example.com/notes"


def test_a_link_entity_without_its_target_gets_the_hint(stack, fake_api):
    reply = ask(stack, fake_api, "click", next(users), entities=({"type": "text_link", "offset": 0, "length": 5},))
    assert "Send me a full link" in reply


def test_a_link_in_a_photo_caption_is_shortened(stack, fake_api):
    user, caption = next(users), "our poster https://example.com/poster"
    update = message_update(next(update_ids), "", user, caption=caption,
                            caption_entities=[entity(caption, "https://example.com/poster")],
                            photo=[{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}])
    del update["message"]["text"]
    assert deliver(stack.url, update).status_code == 200
    reply = wait_for(lambda: fake_api.replies_to(user), 15, "the reply")[0]
    assert follow(stack, reply.split()[0].rsplit("/", 1)[1]).headers["Location"] == "https://example.com/poster"


def test_an_update_larger_than_other_requests_is_taken(stack, fake_api):
    """2 700 Cyrillic characters: 16 432 bytes of JSON, over the 16 KiB every other body may have."""
    user, url = next(users), "https://example.com/long-message"
    text = "я" * 2700 + " " + url
    update = message_update(next(update_ids), text, user, (url,))
    body = json.dumps(update).encode()
    assert 16 * 1024 < len(body) < 64 * 1024
    assert deliver(stack.url, update).status_code == 200
    assert url in wait_for(lambda: fake_api.replies_to(user), 15, "the reply")[0]
    too_big = requests.post(f"{stack.url}/api/v1/links", data=json.dumps({"url": url, "pad": "я" * 4000}), timeout=10,
                            headers={"Content-Type": "application/json"})
    assert too_big.status_code == 413


def test_forged_updates_are_set_aside_without_a_traceback(stack, fake_api):
    """Updates Telegram never sends (a message with no sender at all, entity offsets that are not
    integers), delivered with the right secret: set aside as unreadable, no reply, no traceback."""
    user, url = next(users), "https://example.com/forged"
    forged = [
        message_update(next(update_ids), url, user, (url,), **{"from": None}),
        message_update(next(update_ids), f"see {url}", user,
                       entities=({"type": "url", "offset": "4", "length": len(url)},)),
        message_update(next(update_ids), f"see {url}", user,
                       entities=({"type": "url", "offset": 4, "length": None},)),
    ]
    logged_before = len(bot_log(stack))
    for update in forged:
        assert deliver(stack.url, update).status_code == 200
    assert "I shorten links." in ask(stack, fake_api, "/help", user)  # handled after every forged one
    wait_for(lambda: cache(stack).xlen("bot:updates") == 0, 15, "the queue drained")
    dead = {json.loads(fields["update"])["update_id"] for _, fields in cache(stack).xrange("bot:updates:dead")}
    assert {update["update_id"] for update in forged} <= dead
    assert len(fake_api.replies_to(user)) == 1
    assert "Traceback" not in bot_log(stack)[logged_before:]
    with db(stack) as conn:
        assert conn.execute("SELECT count(*) FROM links WHERE url = %s", (url,)).fetchone()[0] == 0
