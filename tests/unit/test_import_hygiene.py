"""The worker tier and the jobs import the shared modules they use, never the web layer."""

import os
import subprocess
import sys

from local_stack.paths import APP_DIR, WORKER_DIR


def test_the_worker_the_bot_and_migrate_load_no_flask_and_no_view():
    probe = "import sys, click_worker, telegram_bot, shortstack.migrate; print(' '.join(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=WORKER_DIR, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(APP_DIR)}, check=True, timeout=60).stdout.split()
    assert {"click_worker", "shortstack.links"} <= set(loaded)  # the probe imported what it should
    web = {"flask", "flask_limiter", "shortstack.web", "shortstack.web.api", "shortstack.web.context",
           "shortstack.web.telegram_webhook", "shortstack.web.pages", "shortstack.web.redirects"}
    assert web.isdisjoint(loaded), sorted(web & set(loaded))
