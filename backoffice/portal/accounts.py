"""The portal's account pages (POR-1): login, logout, "Esqueci minha senha", the
single-use link that sets a password (invitation and reset), the password change of a
logged-in representative, and the portal's uploaded logo.

The rules live in services/portal/accounts.py; these views parse, call it and answer.
Writes run under `acting_for(<the portal's company>)`: the tenant of a portal request is
the company of the URL, whatever panel session the same browser may also hold.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import (abort, flash, g, make_response, redirect, render_template, request,
                   send_file, url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import PasswordField
from wtforms.validators import DataRequired, Length

from ..auth import ForgotForm, LoginForm, ResetForm, no_store
from ..extensions import db
from ..lib import after_commit
from ..services import RuleError, images
from ..services.portal import accounts as service
from ..services.portal import settings as portal_settings
from ..tenancy import acting_for
from .blueprint import bp
from .guard import account_required, current_account, sign_in, sign_out

YEAR = 365 * 86400


class ChangePasswordForm(ResetForm):
    current = PasswordField(_l("Senha atual"), validators=[
        DataRequired(message=_l("Informe a senha.")), Length(max=128)])


def _client_ip() -> str:
    return request.remote_addr or "?"


def _home() -> str:
    return url_for("portal.home")


def safe_next(target: str | None) -> str | None:
    """A same-site relative path inside this portal (/portal/<domain>/...), else None:
    the login must not become an open redirect, nor a way into the panel."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    prefix = f"/portal/{g.portal_company.domain}/"
    return target if parts.path.startswith(prefix) and ".." not in parts.path else None


@bp.route("/entrar", methods=["GET", "POST"])
def login():
    next_url = safe_next(request.args.get("next"))
    if current_account() is not None:
        return redirect(next_url or _home())
    form = LoginForm()
    if form.validate_on_submit():
        company = g.portal_company
        with acting_for(company.id):
            result = service.authenticate(company.id, form.email.data, form.password.data,
                                          _client_ip())
            if result.account is not None:
                db.session.commit()
                sign_in(result.account)
                return redirect(next_url or _home())
        db.session.rollback()
        flash(result.error, "error")
    return render_template("portal/login.html", form=form)


@bp.route("/sair", methods=["POST"])
def logout():
    # CSRF is checked by CSRFProtect on every POST; this device's session only
    sign_out()
    flash(_("Você saiu do portal."), "info")
    return redirect(url_for("portal.login"))


@bp.route("/esqueci-senha", methods=["GET", "POST"])
def forgot_password():
    form = ForgotForm()
    if form.validate_on_submit():
        error = service.ask_reset(g.portal_company.id, form.email.data, _client_ip(),
                                  request.host_url)
        if error is None:
            flash(_("Se o e-mail estiver cadastrado, enviaremos a ele um link para criar uma "
                    "nova senha."), "info")
            return redirect(url_for("portal.login"))
        flash(error, "error")
    return render_template("portal/password_forgot.html", form=form)


@bp.route("/senha/<token>", methods=["GET", "POST"])
def set_password(token: str):
    company = g.portal_company
    link = service.find_token(company.id, token)
    if link is None:
        flash(str(service.BAD_LINK), "error")
        return redirect(url_for("portal.forgot_password"))
    form = ResetForm()
    if form.validate_on_submit():
        try:
            with acting_for(company.id):
                service.set_password(company.id, token, form.password.data, form.confirm.data)
                after_commit.commit()
        except RuleError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            sign_out()
            flash(_("Senha definida. Entre com o seu e-mail e a nova senha."), "success")
            return redirect(url_for("portal.login"))
    page = render_template("portal/password_set.html", form=form, account=link.account,
                           invitation=link.purpose == "invite")
    return no_store(make_response(page))


@bp.route("/minha-senha", methods=["GET", "POST"])
@account_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        account = current_account()
        try:
            with acting_for(account.company_id):
                service.change_password(account, form.current.data, form.password.data,
                                        form.confirm.data)
                db.session.commit()
        except RuleError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            sign_in(account)  # this session goes on; the account's others end
            flash(_("Senha alterada. As outras sessões desta conta foram encerradas."),
                  "success")
            return redirect(_home())
    return render_template("portal/password_change.html", form=form)


@bp.get("/logo/<key>")
def logo(key: str):
    """The portal's uploaded logo: public like the portal's login page that shows it;
    404 for any other key or when there is none."""
    row = g.portal_settings
    found = portal_settings.logo_file(row) if row.logo_key == key else None
    if found is None:
        abort(404)
    path, mime = found
    response = send_file(path, mimetype=mime, max_age=YEAR, conditional=True)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    return response


@bp.app_template_global()
def portal_logo_url() -> str | None:
    """The portal's own logo, else the company's (UX-5), else None (the title shows)."""
    row, company = g.get("portal_settings"), g.get("portal_company")
    if row is not None and row.logo_key:
        return url_for("portal.logo", key=row.logo_key)
    return images.logo_url(company)
