"""HTML pages for people; the browser UI grows here."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("pages", __name__)


@bp.get("/")
def index() -> str:
    """The landing page: what this service is and how to use its API."""
    return render_template("index.html")
