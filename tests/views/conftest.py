"""The in-process tier: the app from create_app, served by Flask's test client, against one
PostgreSQL and one Redis started for the session. No nginx, no gunicorn, no replicas: these tests
are about the app's own contract (statuses, problem bodies, pages); tests/integration keeps what
needs the balancer, several replicas or a fault."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from local_stack import LocalStack
from shortstack.config import Settings
from shortstack.web import create_app


@pytest.fixture(scope="session")
def databases() -> Iterator[LocalStack]:
    """PostgreSQL (migrated) and Redis of this session, from local binaries on loopback ports."""
    # Not below pytest's tmp_path, whose 0700 parents keep the postgres user out.
    data_dir = Path(tempfile.mkdtemp(prefix="shortstack-views-"))
    stack = LocalStack(data_dir=data_dir)
    try:
        stack.start_databases()
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def settings_env() -> dict[str, str]:
    """Settings on top of the session's; a test changes them with
    @pytest.mark.parametrize("settings_env", [{"NAME": "value"}])."""
    return {}


@pytest.fixture
def app(databases: LocalStack, settings_env: dict[str, str]) -> Iterator[Flask]:
    """A fresh app per test, as a gunicorn worker builds it (without its heartbeat thread)."""
    settings = Settings.from_env({"DATABASE_URL": databases.database_url, "REDIS_URL": databases.redis_url,
                                  "INSTANCE_ID": "views", "LINK_CREATE_RATE_LIMIT": "100000/minute",
                                  **settings_env})
    app = create_app(settings)
    yield app
    app.extensions["shortstack"]["backends"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A browser of one: it keeps its cookies between requests."""
    return app.test_client()


@pytest.fixture
def db(databases: LocalStack) -> Iterator[psycopg.Connection]:
    """A direct connection to the session's PostgreSQL (autocommit), for looking behind the app."""
    with psycopg.connect(databases.database_url, autocommit=True) as conn:
        yield conn
