"""The WSGI entry point gunicorn serves: `gunicorn shortstack.wsgi:app`."""

from .lifecycle import configure_logging
from .web import create_app

configure_logging()
app = create_app()
# gunicorn imports this module in each worker process after forking (preload_app is off), so
# each process announces itself and probes Redis from its own thread.
app.extensions["shortstack"]["heartbeat"].start()
