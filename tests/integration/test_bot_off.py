"""Without TELEGRAM_BOT_TOKEN the bot parts stay off, clearly, and the rest of the stack runs."""

import os
import subprocess
import sys

from local_stack.paths import APP_DIR, WORKER_DIR


def run_bot(command: str, **env: str) -> subprocess.CompletedProcess:
    """`python telegram_bot.py COMMAND` as the worker image runs it, with extra `env`."""
    return subprocess.run([sys.executable, "telegram_bot.py", command], cwd=WORKER_DIR, capture_output=True,
                          env={**os.environ, "PYTHONPATH": str(APP_DIR), **env}, text=True, timeout=30)


def test_bot_commands_say_the_bot_is_off():
    result = run_bot("poll", TELEGRAM_BOT_TOKEN="")
    assert result.returncode == 2
    assert "TELEGRAM_BOT_TOKEN is not set: the bot is off." in result.stderr


def test_a_bot_without_a_public_base_url_refuses_to_start_and_says_why():
    # Its replies carry short links; without the public address they would point nowhere.
    result = run_bot("consume", TELEGRAM_BOT_TOKEN="1:X", PUBLIC_BASE_URL="")
    assert result.returncode == 2
    assert "PUBLIC_BASE_URL is empty" in result.stderr and "Traceback" not in result.stderr
