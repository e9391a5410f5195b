"""What the bot reads in a message: its links (Telegram's entities) and who really sent it."""

import pytest
from telegram import Message, Update

from telegram_bot import links_in, sender_id

PERSON = {"id": 5001, "is_bot": False, "first_name": "Ada"}
GROUP = {"id": -1001234, "type": "supergroup", "title": "a group"}
CHANNEL = {"id": -1005678, "type": "channel", "title": "a channel"}


def message(text: str = "", **fields) -> dict:
    return {"message_id": 1, "date": 0, "chat": {"id": 5001, "type": "private"}, "from": PERSON,
            "text": text, **fields}


def url(offset: int, length: int) -> dict:
    return {"type": "url", "offset": offset, "length": length}


@pytest.mark.parametrize("data, links", [
    (message("Read this (https://example.com/docs).", entities=[url(11, 24)]), ["https://example.com/docs"]),
    (message("<https://example.com/angle>", entities=[url(1, 25)]), ["https://example.com/angle"]),
    # Offsets count UTF-16 code units: the emoji is two.
    (message("👋 https://example.com/a", entities=[url(3, 21)]), ["https://example.com/a"]),
    (message("notes", entities=[{"type": "text_link", "offset": 0, "length": 5, "url": "https://example.com/n"}]),
     ["https://example.com/n"]),
    (message(text=None, caption="x https://example.com/c", caption_entities=[url(2, 21)],
             photo=[{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}]), ["https://example.com/c"]),
    (message("example.com/bare", entities=[url(0, 16)]), ["http://example.com/bare"]),
    (message("two https://a.example b", entities=[url(4, 17), {"type": "text_link", "offset": 22, "length": 1,
                                                                "url": "https://b.example/"}]),
     ["https://a.example", "https://b.example/"]),
    (message("no entities here: https://example.com/unmarked"), []),
])
def test_links_are_the_spans_telegram_marked(data, links):
    assert links_in(Message.de_json({k: v for k, v in data.items() if v is not None}, None)) == links


@pytest.mark.parametrize("data, owner", [
    ({"message": message()}, PERSON["id"]),
    ({"message": message(chat=GROUP, sender_chat=GROUP,
                         **{"from": {"id": 1087968824, "is_bot": True, "first_name": "Group"}})}, GROUP["id"]),
    ({"message": message(chat=GROUP, sender_chat=CHANNEL,
                         **{"from": {"id": 136817688, "is_bot": True, "first_name": "Channel"}})}, CHANNEL["id"]),
    ({"message": message(chat=GROUP, sender_chat=CHANNEL, is_automatic_forward=True,
                         **{"from": {"id": 777000, "is_bot": False, "first_name": "Telegram"}})}, CHANNEL["id"]),
])
def test_the_owner_is_who_really_sent_the_message(data, owner):
    assert sender_id(Update.de_json({"update_id": 1, **data}, None)) == owner
