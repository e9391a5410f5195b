"""Helpers of the in-process view tests: Flask's test client on the session's app."""

from __future__ import annotations

import psycopg
from flask import Flask
from flask.testing import FlaskClient

from shortstack.apikeys import ApiKeys
from tests.integration.support import csrf_token as csrf_token_in


def link_rows(db: psycopg.Connection) -> int:
    return db.execute("SELECT count(*) FROM links").fetchone()[0]


def csrf_token(client: FlaskClient) -> str:
    """The CSRF token the home page's form carries for this client's session."""
    return csrf_token_in(client.get("/").text)


def create_link(client: FlaskClient, **body: object) -> dict:
    response = client.post("/api/v1/links", json=body)
    assert response.status_code == 201, response.text
    return response.get_json()


def new_key(app: Flask, name: str = "tests") -> str:
    """A new API key, made as the admin CLI makes one."""
    keys: ApiKeys = app.extensions["shortstack"]["api_keys"]
    return keys.create(name)[1]
