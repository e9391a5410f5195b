"""ratelimit.init_app removes Flask-Limiter's per-request hook, a private method with no public
switch: it resolved limits on every request, the redirect included (a tenth of its cost), while
every limit here is a decorator that checks itself. These fail on an upgrade that moves the hook,
instead of the app failing to start (AttributeError) or quietly paying for it again."""

from flask import Flask
from flask_limiter import Limiter

from shortstack.config import Settings
from shortstack.web import create_app, ratelimit


def test_flask_limiter_still_adds_the_one_hook_that_ratelimit_removes():
    app = Flask("probe")
    limiter = Limiter(key_func=lambda: "client", storage_uri="memory://")
    limiter.init_app(app)
    assert app.before_request_funcs[None] == [limiter._check_request_limit], \
        "Flask-Limiter's before_request hook changed: review ratelimit.init_app"


def test_the_app_checks_limits_only_in_the_views_that_have_one():
    app = create_app(Settings.from_env({}))
    hooks = [f for funcs in app.before_request_funcs.values() for f in funcs
             if getattr(f, "__self__", None) is ratelimit.limiter]
    assert hooks == []
