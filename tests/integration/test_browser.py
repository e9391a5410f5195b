"""End to end in headless Chromium (Debian's, driven by Playwright): what a person sees and does.

Screenshots of every page are saved to tests/artifacts/.
"""

import http.server
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
import yaml
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect, sync_playwright

from local_stack.paths import REPO
from local_stack.processes import free_port
from tests.integration.support import STACK_VERSION, SteadyLoad, disposable_stack, wait_for

ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
# As root, with no network beyond loopback: no sandbox, no background calls home.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]


@pytest.fixture(scope="module")
def stack():
    with disposable_stack(replicas=3, workers=1,
                          env={"LINK_CREATE_RATE_LIMIT": "100000/minute", "APP_VERSION": STACK_VERSION}) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: make test installs it (apt-get install chromium)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def landing_site():
    """A page on loopback for short links to point at, since the internet is out of reach."""

    class Landing(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<!doctype html><title>Landing</title><h1>You have landed</h1>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Landing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_shorten_follow_and_see_the_click(stack, page, landing_site):
    page.goto(f"{stack.url}/")
    page.fill("#url", f"{landing_site}/welcome")
    page.click("button[type=submit]")
    short_link = page.locator("#short-link")
    expect(short_link).to_be_visible()
    expect(page.locator(".qr svg")).to_be_visible()
    expect(page.locator("table.links tbody tr")).to_have_count(1)  # links from this browser
    expect(page.locator("#url")).to_have_value("")  # ready for the next link
    shot(page, "index-created")
    code = short_link.inner_text().rsplit("/", 1)[1]

    short_link.click()
    expect(page.locator("h1")).to_have_text("You have landed")

    page.goto(f"{stack.url}/links/{code}")
    for _ in range(30):  # the worker stores the click within moments; reload until it shows
        if page.inner_text("#total-clicks") == "1":
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(page.locator("#total-clicks")).to_have_text("1")
    expect(page.locator("canvas#clicks-chart")).to_be_visible()
    # One bar per hour of the last 48, the hours without clicks at zero: time as it passed.
    hourly = page.evaluate("() => Chart.getChart('clicks-chart').data.datasets[0].data")
    assert len(hourly) == 48 and hourly[-1] == 1 and sum(hourly) == 1
    # Who clicked: headless Chromium says so in its User-Agent, so it counts as a bot.
    expect(page.locator("#browsers tbody tr")).to_have_count(1)
    expect(page.locator("#browsers tbody td").first).to_have_text("HeadlessChrome")
    expect(page.locator("#devices tbody td")).to_have_text(["bot", "1"])
    expect(page).to_have_title(f"{code} · Shortstack")
    shot(page, "link-details")
    with page.expect_download() as download:  # the browser's session may read this link's counters
        page.click("#csv-export")
    assert download.value.suggested_filename == f"{code}-stats.csv"
    assert Path(download.value.path()).read_bytes().startswith(b"rollup,value,clicks\r\nhour,")
    page.click(".chart-switch button[data-series=by_day]")
    daily = page.evaluate("() => Chart.getChart('clicks-chart').data.datasets[0].data")
    assert len(daily) == 30 and daily[-1] == 1


def test_the_visibility_checkbox_sits_beside_its_label(stack, page):
    page.goto(f"{stack.url}/")
    box = page.locator("label.check input[type=checkbox]").bounding_box()
    words = page.evaluate("""() => {
        const label = document.querySelector('label.check');
        const text = [...label.childNodes].find((n) => n.nodeType === 3 && n.textContent.trim());
        const range = document.createRange();
        range.selectNodeContents(text);
        const r = range.getBoundingClientRect();
        return { x: r.x, y: r.y, height: r.height };
    }""")
    assert box["x"] + box["width"] <= words["x"], "the checkbox is not left of its label"
    middle = box["y"] + box["height"] / 2
    assert words["y"] <= middle <= words["y"] + words["height"], "the checkbox is not on its label's line"
    page.locator("label.check").screenshot(path=str(ARTIFACTS / "index-checkbox.png"))


def test_validation_errors_appear_next_to_the_field(stack, page):
    page.goto(f"{stack.url}/")
    page.fill("#url", "ftp://example.com/file")
    page.click("button[type=submit]")
    expect(page.locator("#url-error")).to_contain_text("Only http:// and https://")
    expect(page.locator("#url")).to_have_attribute("aria-invalid", "true")
    shot(page, "index-error")


def test_the_form_works_without_javascript(stack, browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{stack.url}/")
    page.fill("#url", "https://example.com/no-js")
    page.click("button[type=submit]")
    expect(page.locator("#short-link")).to_be_visible()
    expect(page.locator("button.copy")).to_be_hidden()  # copying needs JavaScript
    expect(page.locator("#url")).to_have_value("")
    context.close()


def test_cluster_shows_every_replica_and_drops_a_stopped_one(stack, page):
    page.goto(f"{stack.url}/cluster")
    expect(page.locator("#replica-count")).to_have_text("3", timeout=10_000)
    expect(page.locator("#worker-count")).to_have_text("1")
    with SteadyLoad(lambda session, _: session.get(f"{stack.url}/api/v1/openapi.json", timeout=5), threads=2,
                    pause_s=0.01):
        # Each replica's rate, the total, and one band per replica in the chart, all moving.
        expect(page.locator("#total-rate")).not_to_have_text("0.0", timeout=10_000)
        page.wait_for_timeout(3000)
        rates, total, bands = page.evaluate("""() => [
            [...document.querySelectorAll('#replicas tbody tr td:nth-child(6)')].map((td) => Number(td.textContent)),
            Number(document.getElementById('total-rate').textContent),
            Chart.getChart('rate-chart').data.datasets.length]""")
        shot(page, "cluster")
    assert len(rates) == 3 and all(rate > 0 for rate in rates)
    assert total == pytest.approx(sum(rates), abs=0.15)
    assert bands == 3

    stack.stop_process("app-3")
    try:
        expect(page.locator("#replica-count")).to_have_text("2", timeout=10_000)  # heartbeat TTL is 5 s
        expect(page.locator('#replicas tr[data-instance="app-3"]')).to_have_count(0)
    finally:
        stack.restart("app-3")
    expect(page.locator("#replica-count")).to_have_text("3", timeout=10_000)


def test_an_idle_cluster_shows_no_traffic(stack, page):
    """Health checks, Prometheus' scrape and the page's own polling are not traffic."""
    checks = ["/healthz", "/readyz", "/metrics"]

    def requests_served() -> int:
        return sum(r["requests"] for r in requests.get(f"{stack.url}/api/v1/cluster", timeout=5).json()["replicas"])

    page.goto(f"{stack.url}/cluster")
    expect(page.locator("#replica-count")).to_have_text("3", timeout=10_000)
    with SteadyLoad(lambda session, seq: session.get(f"{stack.url}{checks[seq % 3]}", timeout=5), threads=2,
                    pause_s=0.05) as checking:
        wait_for(lambda: len(checking.outcomes) >= 20, 30, "health checks sent")
        page.wait_for_timeout(2500)  # every replica's heartbeat has reported the checks, had they counted
        before = requests_served()
        page.wait_for_timeout(3000)
        assert requests_served() == before, "health checks or the page's polling counted as requests"
        expect(page.locator("#total-rate")).to_have_text("0.0")
        shot(page, "cluster-idle")
    assert all(outcome.status in (200, 404) for outcome in checking.outcomes)  # /metrics is not public


def test_the_locust_dashboard_ticks_the_shortener_mix_only(browser):
    """As docker compose starts it: the scenarios its LOCUST_LOCUSTFILE default names."""
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["locust"]
    scenarios = re.fullmatch(r"\$\{LOCUST_LOCUSTFILE:-(.+)\}", compose["environment"]["LOCUST_LOCUSTFILE"])[1]
    port = free_port()
    locust = subprocess.Popen(
        [str(Path(sys.executable).parent / "locust"), "--class-picker", "--web-host", "127.0.0.1", "--web-port",
         str(port), "--host", "http://127.0.0.1:9"], cwd=REPO / "loadtest" / "scenarios", stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT, env={**os.environ, "LOCUST_LOCUSTFILE": scenarios})
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        page = context.new_page()

        def dashboard():
            try:
                return page.goto(f"http://127.0.0.1:{port}/", timeout=2000)
            except PlaywrightError:  # not listening yet
                return None

        wait_for(dashboard, 30, "the Locust dashboard", interval=0.5)
        picker = page.locator("tr", has=page.locator("input[type=checkbox]")).filter(has_text=re.compile(r"\w"))
        expect(picker).to_have_count(3)
        ticked = {row.inner_text().strip() for row in picker.all() if row.locator("input").is_checked()}
        page.screenshot(path=str(ARTIFACTS / "locust-dashboard.png"))
    finally:
        context.close()
        locust.terminate()
        locust.wait(timeout=30)
    assert ticked == {"Visitor", "Creator", "Analyst"}


@pytest.mark.parametrize("path", ["/", "/cluster", "/no-such-link"])
def test_pages_fit_a_phone_and_say_which_replica_rendered_them(stack, browser, path):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    response = page.goto(f"{stack.url}{path}")
    expect(page.locator("footer .served-by")).to_have_text(response.headers["x-served-by"])
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "page scrolls sideways"
    shot(page, "phone" + (path.replace("/", "-") if path != "/" else "-index"))
    context.close()
