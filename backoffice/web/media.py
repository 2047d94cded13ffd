"""Serving the company logo and user avatars (UX-5), and the page helpers that show them.

- GET /media/logo/<key>: public, since the login page shows it before anyone logs in; a
  key is 128 random bits, so only a logo someone was shown can be fetched.
- GET /media/avatar/<key>: a logged-in user of the same company (or the super user);
  anyone else gets 404, the answer for a key that does not exist.

Both answer with the type we stored (always an image we re-encoded), nosniff, and a
year of cache: a new upload gets a new key, hence a new URL.

The login page learns which company it is for from `?empresa=<domain>`, else from a
cookie holding the domain of the last company that logged in or out on this browser.
It shows that company's name and logo only.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, g, request, send_file
from flask_login import current_user, user_logged_in, user_logged_out

from ..services import images

bp = Blueprint("media", __name__, url_prefix="/media")

COMPANY_COOKIE = "atende_empresa"
YEAR = 365 * 86400


def _image(found, public: bool):
    file_path, mime = found
    response = send_file(file_path, mimetype=mime, max_age=YEAR, conditional=True)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = (f"{'public' if public else 'private'}, "
                                         f"max-age={YEAR}, immutable")
    return response


@bp.get("/logo/<key>")
def logo(key: str):
    found = images.logo_file(key)
    if found is None:
        abort(404)
    return _image(found, public=True)


@bp.get("/avatar/<key>")
def avatar(key: str):
    viewer = current_user._get_current_object() if current_user.is_authenticated else None
    found = images.avatar_file(key, viewer) if viewer is not None else None
    if found is None:
        abort(404)
    return _image(found, public=False)


# --- the login page's company ----------------------------------------------------------


@user_logged_in.connect
@user_logged_out.connect
def _remember_company(_app, user, **_extra):
    """On login and logout, note the user's company; the response sets the cookie."""
    company = getattr(user, "company", None)
    if company is not None and company.domain:
        g.atende_login_domain = company.domain


@bp.after_app_request
def _set_company_cookie(response):
    domain = g.pop("atende_login_domain", None)
    if domain:
        response.set_cookie(COMPANY_COOKIE, domain, max_age=YEAR, httponly=True,
                            samesite="Lax", secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
    return response


def login_brand() -> dict | None:
    """The company the login page is for: its name and logo URL, or None."""
    company = images.login_company(request.args.get("empresa")
                                   or request.cookies.get(COMPANY_COOKIE))
    if company is None:
        return None
    return {"name": company.name, "logo_url": images.logo_url(company)}


def init_media(app) -> None:
    app.register_blueprint(bp)
    app.add_template_global(login_brand, "login_brand")
    app.add_template_global(images.logo_url, "company_logo")
    app.add_template_global(images.avatar, "avatar_of")
