"""`make dev`'s edit-reload loop: with GUNICORN_RELOAD=true an edit to a view or a template shows
on the next requests of the running replica, with no restart by hand."""

import os
import shutil
import signal
import subprocess
import sys

import pytest
import requests

from local_stack.paths import APP_DIR
from local_stack.processes import free_port
from tests.integration.support import wait_for


@pytest.fixture
def reloading_replica(stack, tmp_path):
    """A replica (gevent, the default worker class) running a copy of the app that the test may edit."""
    app = tmp_path / "app"
    shutil.copytree(APP_DIR, app, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    port = free_port()
    env = {**os.environ, "GUNICORN_RELOAD": "true", "GUNICORN_BIND": f"127.0.0.1:{port}",
           "DATABASE_URL": stack.database_url, "REDIS_URL": stack.redis_url, "INSTANCE_ID": "dev",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    with open(tmp_path / "gunicorn.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "shortstack.wsgi:app"],
                                   cwd=app, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(f"{url}/healthz"), 30, "the replica to serve")
        yield app, url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)


def answers(url: str) -> requests.Response | None:
    try:
        return requests.get(url, timeout=5)
    except (requests.ConnectionError, requests.Timeout):
        return None  # a request the reloading worker took with it, or one before the new worker is up


def test_an_edited_view_and_template_show_without_a_restart(reloading_replica):
    app, url = reloading_replica
    assert requests.get(f"{url}/healthz", timeout=5).json()["status"] == "ok"
    view = app / "shortstack" / "web" / "health.py"
    view.write_text(view.read_text().replace('status="ok"', 'status="ok, edited"'))
    wait_for(lambda: (r := answers(f"{url}/healthz")) and r.json()["status"] == "ok, edited", 30,
             "the edited view to answer")

    template = app / "shortstack" / "web" / "templates" / "index.html"
    assert "Edited by the test" not in requests.get(url, timeout=5).text
    edited = template.read_text().replace("{% block main %}", "{% block main %}<p>Edited by the test</p>", 1)
    template.write_text(edited)
    wait_for(lambda: (r := answers(url)) and "Edited by the test" in r.text, 30, "the edited template to render")
