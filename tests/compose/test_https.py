"""The https path end to end: PUBLIC_BASE_URL is https, TLS_CERT_DIR starts empty, so the stack
makes its development CA at first start; http is redirected, a link is created and followed over
https, verified against that CA. Its own project (PUBLIC_BASE_URL changes every answer)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from local_stack.processes import free_port
from tests.compose.project import SIDE_NAMESPACE, ComposeProject


@pytest.fixture(scope="module")
def secure(tmp_path_factory) -> Iterator[ComposeProject]:
    https_port = free_port()
    with ComposeProject(env={"HTTPS_PORT": str(https_port), "PUBLIC_BASE_URL": f"https://localhost:{https_port}",
                             "TLS_CERT_DIR": str(tmp_path_factory.mktemp("certs")),
                             "IMAGE_NAMESPACE": SIDE_NAMESPACE}).running() as running:
        yield running


def ca(project: ComposeProject) -> str:
    return str(Path(project.env["TLS_CERT_DIR"]) / "dev-ca.pem")


def test_http_is_redirected_to_the_https_address(secure):
    answer = requests.get(f"{secure.url}/some/page?x=1", allow_redirects=False, timeout=10)
    assert answer.status_code == 308
    assert answer.headers["Location"] == f"{secure.env['PUBLIC_BASE_URL']}/some/page?x=1"
    # The container healthcheck's probe stays on http.
    assert requests.get(f"{secure.url}/nginx-health", allow_redirects=False, timeout=10).status_code == 200


def test_a_link_is_created_and_followed_over_https(secure):
    base = secure.env["PUBLIC_BASE_URL"]
    created = requests.post(f"{base}/api/v1/links", json={"url": "https://example.com/secure"}, verify=ca(secure),
                            timeout=10)
    assert created.status_code == 201, created.text
    assert created.json()["short_url"].startswith(f"{base}/")
    followed = requests.get(created.json()["short_url"], allow_redirects=False, verify=ca(secure), timeout=10)
    assert followed.status_code == 302
    assert followed.headers["Location"] == "https://example.com/secure"
    assert followed.headers["X-Served-By"] in secure.container_ids("app")
    assert followed.headers["Strict-Transport-Security"] == "max-age=63072000"  # once, from nginx


def test_production_with_the_default_settings_refuses_to_start_and_says_what_to_set(secure):
    # The defaults a clone starts with: the development secret, compose's passwords, no public address.
    refused = secure.compose("run", "--rm", "--no-deps", "-T", "-e", "APP_ENV=production", "-e", "PUBLIC_BASE_URL=",
                             "app", check=False, timeout=120)
    assert refused.returncode != 0
    said = refused.stdout + refused.stderr
    assert "APP_ENV=production needs SECRET_KEY set to a long random value" in said, said
    assert "DATABASE_URL with a password of your own" in said and "PUBLIC_BASE_URL set to the https://" in said
    assert "Traceback" not in said


@pytest.mark.parametrize("version, name", [(ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")])
def test_tls_1_2_and_1_3_are_both_spoken(secure, version, name):
    context = ssl.create_default_context(cafile=ca(secure))
    context.minimum_version = context.maximum_version = version
    connection = socket.create_connection(("127.0.0.1", int(secure.env["HTTPS_PORT"])), timeout=10)
    with context.wrap_socket(connection, server_hostname="localhost") as tls:
        assert tls.version() == name
