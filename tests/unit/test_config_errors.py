"""A refused setting ends every entry point the same way: its message, a status, no traceback."""

import os
import subprocess
import sys

import pytest

from local_stack.paths import APP_DIR, WORKER_DIR

BAD = {"CLICK_BATCH_SIZE": "many"}
MESSAGE = "CLICK_BATCH_SIZE must be a whole number, got 'many'"


def run(argv: list[str], cwd, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(APP_DIR), **env})


@pytest.mark.parametrize("argv, cwd", [
    (["-m", "shortstack.migrate"], APP_DIR),
    (["-m", "shortstack.admin", "list-keys"], APP_DIR),
    (["click_worker.py"], WORKER_DIR),
    (["telegram_bot.py", "consume"], WORKER_DIR),
], ids=["migrate", "admin", "click worker", "bot"])
def test_a_bad_setting_is_a_message_and_status_2(argv, cwd):
    result = run([sys.executable, *argv], cwd, **BAD)
    assert result.returncode == 2, result.stderr
    assert MESSAGE in result.stderr and "Traceback" not in result.stderr


def test_a_replica_refused_by_its_configuration_stops_with_the_reason(tmp_path):
    # gunicorn halts on its workers' boot-error status instead of starting the same failing worker again.
    result = run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "shortstack.wsgi:app"], APP_DIR,
                 APP_ENV="production", GUNICORN_BIND="127.0.0.1:0", PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    assert result.returncode == 3, result.stderr[-2000:]
    assert "APP_ENV=production needs" in result.stderr and "Traceback" not in result.stderr
