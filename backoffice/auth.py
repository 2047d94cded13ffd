"""Login and logout (PLT-2)."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import joinedload
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from .extensions import db, login_manager
from .models import User
from .services.auth import authenticate

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = StringField(_l("E-mail"), validators=[
        DataRequired(message=_l("Informe o e-mail.")), Length(max=254)])
    password = PasswordField(_l("Senha"), validators=[
        DataRequired(message=_l("Informe a senha.")), Length(max=128)])


@login_manager.user_loader
def load_user(user_id: str):
    try:
        # with the company and group it is checked against on every request: one query
        user = db.session.get(User, int(user_id),
                              options=[joinedload(User.company), joinedload(User.group)])
    except (TypeError, ValueError):
        return None
    # A user deactivated (or whose company was disabled) is out on the next request.
    return user if user is not None and user.is_active else None


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths, so the login cannot be used as an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("admin.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("admin.index"))
    form = LoginForm()
    if form.validate_on_submit():
        result = authenticate(form.email.data, form.password.data)
        if result.user is not None:
            session.clear()
            session.permanent = True
            login_user(result.user)
            return redirect(_safe_next(request.args.get("next")))
        flash(result.error, "error")
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    session.clear()
    flash(_("Você saiu do sistema."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/")
def root():
    return redirect(url_for("admin.index") if current_user.is_authenticated else url_for("auth.login"))
