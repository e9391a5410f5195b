"""HTML pages for people: shorten a link, inspect one, manage one's links, sign in with an API key,
watch the cluster balance."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import segno
from flask import Blueprint, Response, flash, redirect, render_template, request, session
from markupsafe import Markup

from ..links import AliasTaken, Link
from ..validation import ValidationError, parse_list_request
from . import context
from .api import cluster_view, edit, owned_links
from .problems import Problem
from .ratelimit import limit_link_creation

bp = Blueprint("pages", __name__)

# Form value: (label, lifetime). The form offers lifetimes, so no time zone has to be guessed.
EXPIRY_CHOICES = {"": ("never", None), "1h": ("in 1 hour", timedelta(hours=1)), "1d": ("in 1 day", timedelta(days=1)),
                  "7d": ("in 7 days", timedelta(days=7)), "30d": ("in 30 days", timedelta(days=30))}
# The edit form: the same lifetimes, counted from the edit, or the expiry left as it is.
EDIT_EXPIRY_CHOICES = {"keep": ("unchanged", None), **EXPIRY_CHOICES}
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
    my_links = context.links().get_many(codes) if codes else []
    page = render_template("index.html", form=form, errors=errors, created=created, my_links=my_links,
                           short_url=context.short_url, qr_svg=_qr_svg, expiry_choices=EXPIRY_CHOICES)
    return Response(page, status=422 if errors else 200)


@bp.get("/links/<code>")
def link_page(code: str) -> Response | str:
    """A link's details and its clicks over time, for its owner (or anyone, if its stats are public)."""
    link = context.readable_link(code)
    stats = context.link_stats().stats(code)
    return render_template("link.html", link=link, stats=stats, short_url=context.short_url(code),
                           expired=link.is_expired(datetime.now(timezone.utc)),
                           owned=link.owned_by(context.current_owner()))


@bp.get("/links")
def my_links() -> str:
    """The asker's links (this browser's, and its signed-in key's), newest first, searchable and in
    pages, as GET /api/v1/links lists them."""
    try:
        wanted = parse_list_request(request.args)
    except ValidationError as exc:
        raise Problem(400, exc.detail) from None
    owner = context.current_owner()
    found, total = ([], 0) if owner.anonymous else owned_links(owner, wanted)
    return render_template("my_links.html", links=found, total=total, wanted=wanted,
                           pages=-(-total // wanted.per_page), short_url=context.short_url,
                           signed_in=owner.key_id is not None)


@bp.route("/links/<code>/edit", methods=["GET", "POST"])
def edit_page(code: str) -> Response | str:
    """Change a link's target, expiry and public flag, for its owner, as PATCH /api/v1/links/<code> does."""
    link = context.owned_link(code)
    form = {"url": link.url, "expires_in": "keep", "public_stats": "on" if link.public_stats else ""}
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = {name: request.form.get(name, "").strip() for name in form}
        errors = _edit_from_form(link, form)
        if not errors:
            flash(f"Saved {link.code}.")
            return redirect("/links", code=303)
    page = render_template("link_edit.html", link=link, form=form, errors=errors,
                           expiry_choices=EDIT_EXPIRY_CHOICES, short_url=context.short_url(code))
    return Response(page, status=422 if errors else 200)


@bp.route("/links/<code>/delete", methods=["GET", "POST"])
def delete_page(code: str) -> Response | str:
    """Asks to confirm, then deletes the link, for its owner, as DELETE /api/v1/links/<code> does."""
    link = context.owned_link(code)
    if request.method == "POST":
        context.links().delete(link.code)
        flash(f"Deleted {link.code}. Its short link now answers 410 Gone, and no other link will get its code.")
        return redirect("/links", code=303)
    return render_template("link_delete.html", link=link, short_url=context.short_url(code))


@bp.route("/login", methods=["GET", "POST"])
def sign_in() -> Response | str:
    """Paste an API key once: this browser then acts for the key (its links, its pages) until it
    signs out, the key is revoked, or apikeys.SIGN_IN_DAYS pass."""
    error = None
    if request.method == "POST":
        token = context.api_keys().sign_in(request.form.get("key", "").strip())
        if token is not None:
            _end_sign_in()
            session[context.SIGN_IN] = token
            flash("Signed in with your API key: these are its links and this browser's.")
            return redirect("/links", code=303)
        error = "That key is unknown or revoked. Paste the whole key, sk_ included."
    return Response(render_template("sign_in.html", error=error), status=401 if error else 200)


@bp.post("/logout")
def sign_out() -> Response:
    """End this browser's sign-in on every replica (a copy of its cookie stops working too)."""
    _end_sign_in()
    return redirect("/", code=303)


def _end_sign_in() -> None:
    token = session.pop(context.SIGN_IN, None)
    if token is not None:
        context.api_keys().sign_out(token)


@bp.get("/cluster")
def cluster_page() -> str:
    """The live view of replicas, click workers and the stream; the page refreshes itself."""
    return render_template("cluster.html", view=cluster_view())


def _create_from_form(form: dict[str, str]):
    now = datetime.now(timezone.utc)
    if context.settings().create_requires_key and context.current_owner().key_id is None:
        return None, {"body": "This shortener creates links only for API key holders: sign in with your key "
                              "at /login (or send X-Api-Key on the API)."}
    if form["expires_in"] not in EXPIRY_CHOICES:
        return None, {"expires_in": "Choose one of the offered expiry times."}
    body: dict[str, object] = {"url": form["url"], "public_stats": form["public_stats"] == "on"}
    if form["alias"]:
        body["alias"] = form["alias"]
    lifetime = EXPIRY_CHOICES[form["expires_in"]][1]
    if lifetime:
        body["expires_at"] = (now + lifetime).isoformat()
    try:
        new = context.parse_link_request(body, now)
        owner = context.browser_owner()
        link = context.links().create(new, owner)
    except ValidationError as exc:
        return None, {exc.field: exc.detail}
    except AliasTaken:
        return None, {"alias": f"The alias {form['alias']!r} is already taken; choose another."}
    if owner.key_id is None:  # a signed-in key's links are listed on /links, never left in the browser
        session["my_links"] = [link.code, *[c for c in session.get("my_links", []) if c != link.code]][:MY_LINKS_KEPT]
    return link, {}


def _edit_from_form(link: Link, form: dict[str, str]) -> dict[str, str]:
    """Edit `link` as the form asks, through the API's validation; the errors by field, if any."""
    if form["expires_in"] not in EDIT_EXPIRY_CHOICES:
        return {"expires_in": "Choose one of the offered expiry times."}
    now = datetime.now(timezone.utc)
    body: dict[str, object] = {"url": form["url"], "public_stats": form["public_stats"] == "on"}
    if form["expires_in"] != "keep":
        lifetime = EDIT_EXPIRY_CHOICES[form["expires_in"]][1]
        body["expires_at"] = (now + lifetime).isoformat() if lifetime else None
    try:
        edit(link, context.parse_link_edit(body, now))
    except ValidationError as exc:
        return {exc.field: exc.detail}
    return {}


def _qr_svg(url: str) -> Markup:
    # segno writes plain SVG attributes (no inline style), which the page's CSP allows.
    return Markup(segno.make(url, error="m").svg_inline(scale=4, dark="#1d2330", omitsize=True))
