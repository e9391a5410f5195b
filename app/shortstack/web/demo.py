"""The I/O-bound demo: a request that waits on a slow downstream, for the worker-class benchmark.

Off unless DOWNSTREAM_DELAY_MS > 0. It shows the lesson of blocking vs non-blocking serving: a
sync worker serves one waiting request at a time, gthread one per thread, gevent hundreds.
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, jsonify

from . import context
from .problems import Problem

bp = Blueprint("demo", __name__, url_prefix="/api/v1/demo")


@bp.get("/downstream")
def downstream() -> Response:
    """Wait DOWNSTREAM_DELAY_MS, as if calling a slow service, then answer."""
    delay_ms = context.settings().downstream_delay_ms
    if delay_ms <= 0:
        raise Problem(404, "The slow-downstream demo is off; start the app with DOWNSTREAM_DELAY_MS > 0.")
    # time.sleep is what a blocking client call looks like to the worker; gevent patches it to yield.
    time.sleep(delay_ms / 1000)
    return jsonify(waited_ms=delay_ms, instance=context.settings().instance_id)
