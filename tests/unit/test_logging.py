"""Logs that join up: JSON lines on every tier, each carrying the request id it belongs to."""

import io
import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from click_worker import REQUEST_IDS_PER_LINE, enrich, log_stored
from shortstack import updatestream
from shortstack.clickstream import MAX_REQUEST_ID_CHARS, ClickEvent
from shortstack.config import Settings
from shortstack.lifecycle import REQUEST_ID, RequestIdFilter, json_formatter
from shortstack.web import create_app

APP_DIR = Path(__file__).resolve().parents[2] / "app"


def test_every_line_is_one_json_object_and_lines_made_while_handling_a_request_carry_its_id():
    # A process of its own: configure_logging sets up the root logger, as each tier's main does.
    script = textwrap.dedent("""
        import logging
        from shortstack.lifecycle import configure_logging, handling_request
        configure_logging()
        log = logging.getLogger("shortstack.test")
        log.info("before")
        with handling_request("req-42"):
            log.warning("during %s", "it", extra={"code": "abc"})
            try:
                1 / 0
            except ZeroDivisionError:
                log.exception("failed")
        with handling_request(""):
            log.info("no id")
        log.info("after")
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=APP_DIR, capture_output=True, text=True, timeout=30,
                            check=True)
    lines = [json.loads(line) for line in result.stderr.splitlines()]  # a traceback too stays on its line
    assert [(line["message"], line.get("request_id")) for line in lines] == [
        ("before", None), ("during it", "req-42"), ("failed", "req-42"), ("no id", None), ("after", None)]
    during = lines[1]
    assert (during["level"], during["logger"], during["code"]) == ("WARNING", "shortstack.test", "abc")
    assert during["time"].endswith("+00:00")
    assert "ZeroDivisionError" in lines[2]["exc_info"]


@pytest.fixture
def access_lines():
    """What the app's access log writes, as parsed JSON lines."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("shortstack.access")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in out.getvalue().splitlines()]
    logger.removeHandler(handler)


def test_the_app_logs_one_line_per_request_with_nginx_s_request_id_and_none_for_probes(access_lines):
    client = create_app(Settings.from_env({})).test_client()
    assert client.get("/no/such/page", headers={"X-Request-ID": "edge-7f3a"}).status_code == 404
    assert client.get("/healthz", headers={"X-Request-ID": "probe-1"}).status_code == 200
    [line] = access_lines()
    assert line["request_id"] == "edge-7f3a"
    assert (line["method"], line["path"], line["status"], line["level"]) == ("GET", "/no/such/page", 404, "INFO")
    assert line["duration_ms"] >= 0
    assert REQUEST_ID.get() == ""  # forgotten once the request is done


def test_a_click_carries_its_request_id_through_the_stream_to_the_stored_click():
    event = ClickEvent(code="abc", at_ms=1, request_id="0f1e2d3c4b5a69788796a5b4c3d2e1f0")
    assert ClickEvent.from_fields(event.to_fields()) == event
    assert enrich("1700000000000-0", ClickEvent.from_fields(event.to_fields())).request_id == event.request_id
    assert "request_id" not in ClickEvent(code="abc", at_ms=1).to_fields()  # older replicas' entries
    # A caller's own X-Request-ID passes nginx as it is: one request cannot bloat the stream.
    assert len(ClickEvent(code="abc", at_ms=1, request_id="r" * 5000).to_fields()["request_id"]) == \
        MAX_REQUEST_ID_CHARS


def test_an_update_entry_without_a_request_id_has_none():
    assert updatestream.request_id({"update": "{}"}) == ""
    assert updatestream.request_id({"update": "{}", "request_id": "abc"}) == "abc"


def test_the_worker_logs_the_request_ids_of_a_stored_batch_in_lines_of_bounded_length(caplog):
    ids = [f"{n:032x}" for n in range(2 * REQUEST_IDS_PER_LINE + 50)]
    clicks = [enrich(f"1-{n}", ClickEvent(code="abc", at_ms=1, request_id=i)) for n, i in enumerate(ids)]
    clicks.append(enrich("2-0", ClickEvent(code="abc", at_ms=1)))  # queued before ids travelled
    with caplog.at_level(logging.INFO, logger="shortstack.worker"):
        log_stored(clicks)
    assert [len(r.request_ids) for r in caplog.records] == [REQUEST_IDS_PER_LINE, REQUEST_IDS_PER_LINE, 50]
    assert [i for r in caplog.records for i in r.request_ids] == ids
    # Docker splits longer lines: even ids at their longest keep a line under 16 KiB.
    longest = ["x" * MAX_REQUEST_ID_CHARS] * REQUEST_IDS_PER_LINE
    assert len(json_formatter().format(logging.makeLogRecord({"msg": "m", "request_ids": longest}))) < 16 * 1024
    caplog.clear()
    log_stored([enrich("3-0", ClickEvent(code="abc", at_ms=1))])
    assert caplog.records == []
