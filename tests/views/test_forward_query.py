"""GET /<code> with the settings that change it (the hot path itself is tests/integration's)."""

import pytest


@pytest.mark.parametrize("settings_env", [{"FORWARD_QUERY": "false"}])
def test_with_forward_query_off_the_query_is_dropped(client):
    code = client.post("/api/v1/links", json={"url": "https://example.com/page?id=1#top"}).get_json()["code"]
    assert client.get(f"/{code}?utm_source=mail").headers["Location"] == "https://example.com/page?id=1#top"
