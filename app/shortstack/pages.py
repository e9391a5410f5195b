"""HTML pages for people: shorten a link, inspect one, watch the cluster balance."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import segno
from flask import Blueprint, Response, abort, render_template, request, session
from markupsafe import Markup

from . import services
from .api import PRIVATE_DETAIL, cluster_view
from .links import AliasTaken
from .problems import error_response
from .ratelimit import limit_link_creation
from .validation import ValidationError, looks_like_code

bp = Blueprint("pages", __name__)

# Form value: (label, lifetime). The form offers lifetimes, so no time zone has to be guessed.
EXPIRY_CHOICES = {"": ("never", None), "1h": ("in 1 hour", timedelta(hours=1)), "1d": ("in 1 day", timedelta(days=1)),
                  "7d": ("in 7 days", timedelta(days=7)), "30d": ("in 30 days", timedelta(days=30))}
MY_LINKS_KEPT = 20


@bp.route("/", methods=["GET", "POST"])
@limit_link_creation
def index() -> Response | str:
    """The shorten form; works without JavaScript (the script only avoids the reload)."""
    form = {"url": "", "alias": "", "expires_in": "", "public_stats": ""}
    errors: dict[str, str] = {}
    created = None
    if request.method == "POST":
        form = {name: request.form.get(name, "").strip() for name in form}
        created, errors = _create_from_form(form)
        if created:  # ready for the next link; the expiry and visibility chosen stay
            form = {**form, "url": "", "alias": ""}
    codes = session.get("my_links", [])
    my_links = services.links().get_many(codes) if codes else []
    page = render_template("index.html", form=form, errors=errors, created=created, my_links=my_links,
                           short_url=services.short_url, qr_svg=_qr_svg, expiry_choices=EXPIRY_CHOICES)
    return Response(page, status=422 if errors else 200)


@bp.get("/links/<code>")
def link_page(code: str) -> Response | str:
    """A link's details and its clicks over time, for the browser that created it (or anyone, if
    its stats are public)."""
    link = services.links().get(code) if looks_like_code(code) else None
    if link is None:
        abort(404)
    if not link.visible_to(services.current_owner()):
        return error_response(403, PRIVATE_DETAIL, "Private link")
    stats = services.links().stats(code)
    return render_template("link.html", link=link, stats=stats, short_url=services.short_url(code),
                           expired=link.is_expired(datetime.now(timezone.utc)))


@bp.get("/cluster")
def cluster_page() -> str:
    """The live view of replicas, click workers and the stream; the page refreshes itself."""
    return render_template("cluster.html", view=cluster_view())


def _create_from_form(form: dict[str, str]):
    now = datetime.now(timezone.utc)
    if services.settings().create_requires_key:
        return None, {"body": "This shortener creates links only for API key holders (X-Api-Key on the API)."}
    if form["expires_in"] not in EXPIRY_CHOICES:
        return None, {"expires_in": "Choose one of the offered expiry times."}
    body: dict[str, object] = {"url": form["url"], "public_stats": form["public_stats"] == "on"}
    if form["alias"]:
        body["alias"] = form["alias"]
    lifetime = EXPIRY_CHOICES[form["expires_in"]][1]
    if lifetime:
        body["expires_at"] = (now + lifetime).isoformat()
    try:
        new = services.parse_link_request(body, now)
        link = services.links().create(new, services.browser_owner())
    except ValidationError as exc:
        return None, {exc.field: exc.detail}
    except AliasTaken:
        return None, {"alias": f"The alias {form['alias']!r} is already taken; choose another."}
    session["my_links"] = [link.code, *[c for c in session.get("my_links", []) if c != link.code]][:MY_LINKS_KEPT]
    return link, {}


def _qr_svg(url: str) -> Markup:
    # segno writes plain SVG attributes (no inline style), which the page's CSP allows.
    return Markup(segno.make(url, error="m").svg_inline(scale=4, dark="#1d2330", omitsize=True))
