"""Helpers shared by the integration tests: HTTP calls through nginx and bounded waiting."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import psycopg
import redis
import requests

from local_stack import LocalStack

T = TypeVar("T")


# What the session stack's replicas report as their version (an image sets it from IMAGE_TAG).
STACK_VERSION = "integration-1"

def fresh_data_dir() -> Path:
    """A data folder for a disposable stack; not below pytest's tmp_path, whose 0700 parents keep
    the postgres user out."""
    return Path(tempfile.mkdtemp(prefix="shortstack-test-"))


@contextmanager
def disposable_stack(**options: object) -> Iterator[LocalStack]:
    """A running LocalStack with its own PostgreSQL and Redis, deleted afterwards."""
    data_dir = fresh_data_dir()
    try:
        with LocalStack(data_dir=data_dir, **options) as running:
            yield running
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def wait_for(probe: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    """Call `probe` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {result!r})")
        time.sleep(interval)


def create_link(stack: LocalStack, **body: object) -> dict:
    """POST a link through nginx and return the created link; fails unless 201."""
    response = requests.post(f"{stack.url}/api/v1/links", json=body, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def follow(stack: LocalStack, code: str, **headers: str) -> requests.Response:
    """GET /<code> through nginx without following the redirect."""
    return requests.get(f"{stack.url}/{code}", headers=headers, allow_redirects=False, timeout=10)


def db(stack: LocalStack) -> psycopg.Connection:
    """A direct connection to the stack's PostgreSQL (autocommit), for looking behind the API."""
    return psycopg.connect(stack.database_url, autocommit=True)


def cache(stack: LocalStack) -> redis.Redis:
    """A direct client of the stack's Redis."""
    return redis.Redis.from_url(stack.redis_url, decode_responses=True)


def click_count(stack: LocalStack, code: str) -> int:
    """The clicks stored for `code`, read in PostgreSQL (whoever may see them through the API)."""
    with db(stack) as conn:
        return conn.execute("SELECT click_count FROM links WHERE code = %s", (code,)).fetchone()[0]


def link_rows(stack: LocalStack) -> int:
    """How many links PostgreSQL holds (to show a refused request stored nothing)."""
    with db(stack) as conn:
        return conn.execute("SELECT count(*) FROM links").fetchone()[0]


def stored_clicks(stack: LocalStack, *codes: str) -> int:
    """The click rows PostgreSQL holds for `codes`, counted one by one (not the roll-up counters)."""
    with db(stack) as conn:
        return conn.execute("SELECT count(*) FROM clicks WHERE code = ANY(%s)", (list(codes),)).fetchone()[0]


def csrf_token(page: str) -> str:
    """The CSRF token in the link form of a page's HTML, as a browser would send it back."""
    return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


@dataclass(frozen=True)
class Outcome:
    """One request of a SteadyLoad: its sequence number, status (None if it raised) and timing."""

    seq: int
    status: int | None
    served_by: str | None
    seconds: float
    error: str | None = None


class SteadyLoad:
    """Requests sent back to back from background threads until stopped (and never past `limit_s`).

    `send(session, seq)` makes one request; `seq` is unique across threads, for requests that
    must differ (e.g. one new URL per POST).
    """

    def __init__(self, send: Callable[[requests.Session, int], requests.Response], threads: int = 4,
                 limit_s: float = 120.0, pause_s: float = 0.0) -> None:
        self._send, self._threads, self._limit_s, self._pause_s = send, threads, limit_s, pause_s
        self._stop = threading.Event()
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self.outcomes: list[Outcome] = []
        self._workers = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> "SteadyLoad":
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=60)

    def _run(self) -> None:
        deadline = time.monotonic() + self._limit_s
        with requests.Session() as session:
            while not self._stop.is_set() and time.monotonic() < deadline:
                with self._lock:
                    seq = next(self._seq)
                started = time.monotonic()
                try:
                    response = self._send(session, seq)
                    outcome = Outcome(seq, response.status_code, response.headers.get("X-Served-By"),
                                      time.monotonic() - started)
                except requests.RequestException as exc:
                    outcome = Outcome(seq, None, None, time.monotonic() - started, f"{type(exc).__name__}: {exc}")
                with self._lock:
                    self.outcomes.append(outcome)
                if self._pause_s:
                    self._stop.wait(self._pause_s)

    def failed(self, ok: set[int]) -> list[Outcome]:
        """Outcomes whose status is not in `ok`."""
        return [o for o in self.outcomes if o.status not in ok]


def form_create(stack: LocalStack, browser: requests.Session, url: str, public: bool = False) -> str:
    """Shorten `url` through the home page's form in `browser` (a session keeps its cookie); the code."""
    token = csrf_token(browser.get(f"{stack.url}/", timeout=5).text)
    form = {"csrf_token": token, "url": url, "alias": "", "expires_in": ""}
    if public:
        form["public_stats"] = "on"
    page = browser.post(f"{stack.url}/", data=form, timeout=5)
    assert page.status_code == 200, page.text
    return re.search(r'id="short-link">[^<]*/([A-Za-z0-9_-]+)</a>', page.text)[1]


def admin(stack: LocalStack, *args: str) -> subprocess.CompletedProcess:
    """python -m shortstack.admin against the stack's PostgreSQL and Redis."""
    env = {**os.environ, "DATABASE_URL": stack.database_url, "REDIS_URL": stack.redis_url}
    return subprocess.run([sys.executable, "-m", "shortstack.admin", *args], env=env, capture_output=True,
                          text=True, timeout=30)


def new_key(stack: LocalStack, name: str = "tests") -> str:
    """A new API key made with the admin CLI, as an operator does."""
    result = admin(stack, "create-key", name)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()[-1]
