"""Shortstack: a link shortener served by N identical Flask replicas behind nginx.

The web app is built by `shortstack.web.create_app` (gunicorn serves `shortstack.wsgi:app`); the
click worker, the bot consumer and the migrate job import only the modules they use, never the
web layer.
"""
