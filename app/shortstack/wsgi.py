"""The WSGI entry point gunicorn serves: `gunicorn shortstack.wsgi:app`."""

from .web import create_app

app = create_app()
