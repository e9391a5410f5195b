"""The click stream's length cap: with no worker running, Redis holds at most about
CLICK_STREAM_MAX_LEN clicks; every click beyond is counted as dropped, none vanishes silently."""

import re

import pytest
import requests

from tests.integration.support import cache, click_count, create_link, disposable_stack, wait_for

CAP = 300
FOLLOWS = 1000


@pytest.fixture(scope="module")
def stack():
    env = {"CLICK_STREAM_MAX_LEN": str(CAP), "LINK_CREATE_RATE_LIMIT": "100000/minute"}
    with disposable_stack(replicas=1, workers=0, env=env) as running:
        yield running


def test_a_backlog_beyond_the_cap_is_trimmed_and_every_drop_counted(stack):
    code = create_link(stack, url="https://example.com/capped")["code"]
    with requests.Session() as session:
        for _ in range(FOLLOWS):
            assert session.get(f"{stack.url}/{code}", allow_redirects=False, timeout=5).status_code == 302
    queued = cache(stack).xlen("clicks")
    dropped = int(cache(stack).get("clicks:dropped"))
    assert CAP <= queued < CAP + 150  # trimmed in whole internal nodes of about 100 entries
    assert queued + dropped == FOLLOWS

    stream = requests.get(f"{stack.url}/api/v1/cluster", timeout=5).json()["stream"]
    assert (stream["length"], stream["dropped"]) == (queued, dropped)
    replica = f"http://127.0.0.1:{stack.app_ports['app-1']}"
    exposition = requests.get(f"{replica}/metrics", timeout=5).text
    assert re.search(rf"^shortstack_clicks_dropped_total {dropped}\.0$", exposition, re.M), exposition
    assert re.search(rf"^shortstack_click_stream_length {queued}\.0$", exposition, re.M), exposition

    stack.add_worker("worker-1")
    wait_for(lambda: click_count(stack, code) == queued, 30, "the worker to store what the cap kept")
    assert click_count(stack, code) + dropped == FOLLOWS
