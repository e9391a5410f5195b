"""Access to the current app's settings, backends and link store from inside a request."""

from __future__ import annotations

from flask import current_app

from .backends import Backends
from .config import Settings
from .links import LinkStore


def settings() -> Settings:
    return current_app.extensions["shortstack"]["settings"]


def backends() -> Backends:
    return current_app.extensions["shortstack"]["backends"]


def links() -> LinkStore:
    return current_app.extensions["shortstack"]["links"]
