"""A Telegram Bot API stand-in: real HTTP on loopback, recording what the bot sends.

python-telegram-bot calls POST {base}/bot<token>/<method> with form-encoded or JSON parameters
and expects {"ok": true, "result": ...}; it calls getMe when it starts. GET /sent lists what the bot
sent, for a test that runs the fake in another process (the compose suite runs it in a container:
`python fake_telegram.py --serve PORT`, token from TELEGRAM_BOT_TOKEN).
"""

from __future__ import annotations

import http.server
import json
import os
import sys
import threading
import time
from typing import Callable
from urllib.parse import parse_qsl

BOT_USER = {"id": 4242, "is_bot": True, "first_name": "Shortstack", "username": "shortstack_test_bot",
            "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}


# The placeholder users Telegram sends messages from when a chat, not a person, is the sender
# (the real sender is then in sender_chat): anonymous group admins, a channel writing in its
# discussion group, and the service user of a channel post forwarded there automatically.
ANONYMOUS_ADMIN = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
CHANNEL_BOT = {"id": 136817688, "is_bot": True, "first_name": "Channel", "username": "Channel_Bot"}
SERVICE_USER = {"id": 777000, "is_bot": False, "first_name": "Telegram"}


def utf16_len(text: str) -> int:
    """Telegram measures entity offsets and lengths in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def entity(text: str, span: str, kind: str = "url", **extra: object) -> dict:
    """The entity Telegram sends for the first occurrence of `span` in `text`."""
    start = text.index(span)
    return {"type": kind, "offset": utf16_len(text[:start]), "length": utf16_len(span), **extra}


def group(chat_id: int, kind: str = "supergroup") -> dict:
    return {"id": chat_id, "type": kind, "title": f"chat {chat_id}"}


def message_update(update_id: int, text: str, user_id: int = 1001, links: tuple[str, ...] = (),
                   entities: tuple[dict, ...] = (), kind: str = "message", **fields: object) -> dict:
    """An Update carrying a text message, by default a private one from `user_id`. A command
    gets its bot_command entity and each of `links` its url entity, as Telegram marks them;
    `fields` override the message's own (chat, from, sender_chat, …; None removes one)."""
    message = {"message_id": update_id, "date": int(time.time()), "text": text,
               "chat": {"id": user_id, "type": "private", "first_name": "Ada"},
               "from": {"id": user_id, "is_bot": False, "first_name": "Ada"}}
    marked = [entity(text, text.split()[0], "bot_command")] if text.startswith("/") else []
    marked += [entity(text, link) for link in links] + list(entities)
    if marked:
        message["entities"] = marked
    message.update(fields)
    return {"update_id": update_id, kind: {k: v for k, v in message.items() if v is not None}}


class FakeBotAPI:
    """Answers getMe, sendMessage, getUpdates, setWebhook and deleteWebhook for one token."""

    def __init__(self, token: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.token = token
        self.sent: list[dict] = []  # sendMessage parameters, in order
        self.calls: list[str] = []  # every method called
        self.params: dict[str, dict] = {}  # the parameters of each method's latest call
        # Called with sendMessage's parameters before the message is recorded and answered: a test
        # makes something fail at a precise point of the bot's handling with it.
        self.on_send: Callable[[dict], None] | None = None
        self._updates: list[dict] = []
        self._lock = threading.Lock()
        self._server = http.server.ThreadingHTTPServer((host, port), self._handler())
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()

    def queue_update(self, update: dict) -> None:
        """Make getUpdates return `update` (polling mode)."""
        with self._lock:
            self._updates.append(update)

    def replies_to(self, chat_id: int) -> list[str]:
        with self._lock:
            return [m["text"] for m in self.sent if int(m["chat_id"]) == chat_id]

    def _answer(self, method: str, params: dict) -> object:
        if method == "sendMessage" and self.on_send is not None:
            self.on_send(params)
        with self._lock:
            self.calls.append(method)
            self.params[method] = params
            if method == "getMe":
                return BOT_USER
            if method == "sendMessage":
                self.sent.append(params)
                return {"message_id": len(self.sent), "date": int(time.time()), "text": params["text"],
                        "chat": {"id": int(params["chat_id"]), "type": "private"}}
            if method == "getUpdates":
                offset = int(params.get("offset") or 0)
                ready = [u for u in self._updates if u["update_id"] >= offset]
                if ready:
                    return ready
        if method == "getUpdates":
            time.sleep(0.3)  # a short long-poll
            return []
        return True  # setWebhook, deleteWebhook, …

    def _handler(self):
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/sent":
                    return self._reply(404, {"ok": False})
                with fake._lock:
                    self._reply(200, {"ok": True, "result": list(fake.sent)})

            def do_POST(self):
                _, bot_token, method = (self.path.split("/", 2) + ["", ""])[:3]
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if bot_token != f"bot{fake.token}":
                    return self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    params = json.loads(raw or b"{}")
                else:
                    params = dict(parse_qsl(raw.decode()))
                self._reply(200, {"ok": True, "result": fake._answer(method, params)})

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler


if __name__ == "__main__" and sys.argv[1:2] == ["--serve"]:
    api = FakeBotAPI(os.environ["TELEGRAM_BOT_TOKEN"], host="0.0.0.0", port=int(sys.argv[2]))
    print(f"fake Bot API for token {api.token[:6]}… on port {sys.argv[2]}", flush=True)
    threading.Event().wait()
