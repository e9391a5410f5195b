"""The WSGI entry point gunicorn serves: `gunicorn shortstack.wsgi:app`."""

from gunicorn.arbiter import Arbiter

from .lifecycle import configure_logging, exit_on_config_error
from .web import create_app

configure_logging()
# A refused configuration stops the replica with its message: with gunicorn's boot-error status the
# arbiter halts instead of starting the same failing worker again and again.
app = exit_on_config_error(create_app, status=Arbiter.WORKER_BOOT_ERROR)()
# gunicorn imports this module in each worker process after forking (preload_app is off), so
# each process announces itself and probes Redis from its own thread.
app.extensions["shortstack"]["heartbeat"].start()
