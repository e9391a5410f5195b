"""Helpers shared by the integration tests: HTTP calls through nginx and bounded waiting."""

from __future__ import annotations

import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import psycopg
import redis
import requests

from local_stack import LocalStack

T = TypeVar("T")


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
    response = requests.get(f"{stack.url}/api/v1/links/{code}", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["click_count"]
