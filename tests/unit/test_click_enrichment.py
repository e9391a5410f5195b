from datetime import datetime, timezone

import pytest

from click_worker import classify_user_agent, enrich, referrer_host
from shortstack.clickstream import MAX_HEADER_CHARS, ClickEvent

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def test_event_survives_the_stream_encoding():
    event = ClickEvent(code="abc", at_ms=1_700_000_000_123, referrer="https://t.co/x", user_agent=CHROME)
    assert ClickEvent.from_fields(event.to_fields()) == event


def test_a_spooled_click_keeps_its_own_id_through_the_stream_and_is_stored_under_it():
    event = ClickEvent(code="abc", at_ms=1, click_id="spool-0a1b-7")
    assert ClickEvent.from_fields(event.to_fields()) == event
    assert enrich("1700000000000-0", ClickEvent.from_fields(event.to_fields())).stream_id == "spool-0a1b-7"
    assert enrich("1700000000000-0", ClickEvent(code="abc", at_ms=1)).stream_id == "1700000000000-0"
    assert "click_id" not in ClickEvent(code="abc", at_ms=1).to_fields()  # stream entries stay small


def test_client_headers_are_capped_in_the_stream():
    fields = ClickEvent(code="abc", at_ms=1, referrer="r" * 5000, user_agent="u" * 5000).to_fields()
    assert len(fields["referrer"]) == len(fields["user_agent"]) == MAX_HEADER_CHARS


@pytest.mark.parametrize("fields", [{}, {"code": "abc"}, {"code": "abc", "at_ms": "soon"}])
def test_foreign_entries_are_rejected(fields):
    with pytest.raises(ValueError):
        ClickEvent.from_fields(fields)


@pytest.mark.parametrize("referrer, host", [("https://news.ycombinator.com/item?id=1", "news.ycombinator.com"),
                                            ("http://[::1]:8080/x", "::1"),
                                            ("http://xn--bcher-kva.example/", "xn--bcher-kva.example"),
                                            ("", None), ("not a url", None), ("http://[::1", None),
                                            # not host names: what a forged Referer carries, never stored
                                            ("http://=1+2/", None), ("http://<script>alert(1)</", None),
                                            ("http://%3Cimg%20src=x%3E/", None)])
def test_referrer_host(referrer, host):
    assert referrer_host(referrer) == host


@pytest.mark.parametrize("user_agent, family, visitor", [
    (CHROME, "Chrome", "human"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0"
     " Mobile/15E148 Safari/604.1", "Mobile Safari", "human"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0", "Firefox", "human"),
    (GOOGLEBOT, "Googlebot", "bot"),
    ("", "Unknown", "bot"),  # every browser sends a User-Agent
    ("curl/8.5.0", "curl", "bot"),
    ("python-requests/2.31.0", "Python Requests", "bot"),
    ("Go-http-client/1.1", "Go-http-client", "bot"),
    ("http.rb/5.1.1 (Mastodon/4.0.2; +https://mastodon.social/)", "http.rb", "preview"),
    ("Misskey/2023.11.0 (https://misskey.io)", "Other", "preview"),
    ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "FacebookBot", "preview"),
    ("TelegramBot (like TwitterBot)", "TelegramBot", "preview"),
    ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "Slackbot-LinkExpanding", "preview"),
    # Card fetchers the pattern list does not know: the fediverse beyond Mastodon, and Bluesky.
    ("Mozilla/5.0 (compatible; Bluesky Cardyb/1.1; +mailto:support@bsky.app)", "Other", "preview"),
    ("Akkoma 3.10.4; https://akkoma.example <admin@akkoma.example>", "Other", "preview"),
    ("Pleroma 2.5.0; https://pleroma.example <admin@pleroma.example>", "Other", "preview"),
    ("GoToSocial/0.13.0 (+https://gts.example)", "Other", "preview"),
    # Programs, not browsers: API clients and HTTP libraries no pattern list names.
    ("PostmanRuntime/7.36.0", "PostmanRuntime", "bot"),
    ("reqwest/0.11.22", "reqwest", "bot"),
    ("undici", "Other", "bot"),
    ("Dalvik/2.1.0 (Linux; U; Android 13; Pixel 7 Build/TQ3A.230805.001)", "Android", "bot"),
    ("Mozilla/5.0 (compatible; LinkCheck/2.0; +https://linkcheck.example/about)", "Other", "bot"),
])
def test_user_agents_are_classified(user_agent, family, visitor):
    agent = classify_user_agent(user_agent)
    assert (agent.browser, agent.visitor) == (family, visitor)


@pytest.mark.parametrize("user_agent, os, device_type", [
    (CHROME, "Linux", "desktop"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1"
     " Safari/605.1.15", "Mac OS X", "desktop"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0", "Windows", "desktop"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0"
     " Mobile/15E148 Safari/604.1", "iOS", "mobile"),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile"
     " Safari/537.36", "Android", "mobile"),
    ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0"
     " Mobile/15E148 Safari/604.1", "iOS", "tablet"),
    ("Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0"
     " Safari/537.36", "Android", "tablet"),  # Android without "Mobile": a tablet
    ("Mozilla/5.0 (Android 14; Tablet; rv:121.0) Gecko/121.0 Firefox/121.0", "Android", "tablet"),
    (GOOGLEBOT, "Other", "bot"),
    ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "Other", "bot"),  # a preview
    ("", "Other", "bot"),
])
def test_operating_system_and_device_type(user_agent, os, device_type):
    agent = classify_user_agent(user_agent)
    assert (agent.os, agent.device_type) == (os, device_type)


def test_enrich_builds_the_stored_row():
    click = enrich("1-0", ClickEvent(code="abc", at_ms=1_700_000_000_000, referrer="https://t.co/x",
                                     user_agent=GOOGLEBOT))
    assert click.stream_id == "1-0"
    assert click.clicked_at == datetime.fromtimestamp(1_700_000_000, tz=timezone.utc)
    assert (click.referrer_host, click.ua_family, click.visitor, click.is_bot) == ("t.co", "Googlebot", "bot", True)
    assert (click.os_family, click.device_type) == ("Other", "bot")
