"""Who clicked a link (browser, OS, device type), as the click worker rolls it up, through the
stats API and its CSV export."""

import csv
import io

import requests

from tests.integration.support import click_count, create_link, follow, wait_for

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
          " Version/17.0 Mobile/15E148 Safari/604.1")
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"


def test_who_clicked_in_the_stats_and_every_counter_as_csv(stack):
    code = create_link(stack, url="https://example.com/who")["code"]
    clicks = [(IPHONE, "https://news.example/item"), (IPHONE, ""), (IPHONE, ""), (FIREFOX, ""), (FIREFOX, ""),
              ("curl/8", "")]
    for user_agent, referrer in clicks:
        assert follow(stack, code, **{"User-Agent": user_agent, "Referer": referrer}).status_code == 302
    wait_for(lambda: click_count(stack, code) == 6, 15, "6 clicks stored")

    stats = requests.get(f"{stack.url}/api/v1/links/{code}/stats", timeout=5).json()
    assert stats["browsers"] == [{"name": "Mobile Safari", "clicks": 3}, {"name": "Firefox", "clicks": 2},
                                 {"name": "curl", "clicks": 1}]
    assert stats["operating_systems"] == [{"name": "iOS", "clicks": 3}, {"name": "Windows", "clicks": 2},
                                          {"name": "Other", "clicks": 1}]
    assert stats["devices"] == [{"name": "mobile", "clicks": 3}, {"name": "desktop", "clicks": 2},
                                {"name": "bot", "clicks": 1}]

    response = requests.get(f"{stack.url}/api/v1/links/{code}/stats.csv", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{code}-stats.csv"'
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["rollup", "value", "clicks"]
    [(hour, clicks)] = [(value, n) for rollup, value, n in rows[1:] if rollup == "hour"]
    assert hour.endswith(":00:00Z") and clicks == "6"
    assert [row for row in rows[1:] if row[0] != "hour"] == [
        ["referrer", "", "5"], ["referrer", "news.example", "1"],
        ["browser", "Mobile Safari", "3"], ["browser", "Firefox", "2"], ["browser", "curl", "1"],
        ["os", "iOS", "3"], ["os", "Windows", "2"], ["os", "Other", "1"],
        ["device_type", "mobile", "3"], ["device_type", "desktop", "2"], ["device_type", "bot", "1"]]
