"""Login and logout (PLT-2); login throttling and known devices (SEC-5); password reset
and the second factor (SEC-6)."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint, current_app, flash, g, jsonify, make_response, redirect, render_template, request,
    session, url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user, user_logged_in
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from .extensions import db, login_manager
from .models import User
from .services import RuleError, access, ratelimit, sessions, twofactor
from .services import auth as auth_service
from .services.auth import authenticate

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = StringField(_l("E-mail"), validators=[
        DataRequired(message=_l("Informe o e-mail.")), Length(max=254)])
    password = PasswordField(_l("Senha"), validators=[
        DataRequired(message=_l("Informe a senha.")), Length(max=128)])


@login_manager.user_loader
def load_user(user_id: str):
    """The user of a live server-side session (SEC-4), checked on every request and every
    socket event: a cookie whose session was ended (logout, password change...) is
    anonymous, whatever its signature."""
    try:
        uid = int(user_id)
    except (TypeError, ValueError):
        return None
    # with the company and group it is checked against on every request: one query
    found = sessions.find(uid, session.get(sessions.COOKIE_KEY))
    if found is None:
        return None
    user, session_id = found
    g.atende_session_id, g.atende_session_user = session_id, user.id
    # A user deactivated (or whose company was disabled) is out on the next request.
    return user if user.is_active else None


@user_logged_in.connect
def _open_session(app, user, **_extra):
    """Every login, whatever view makes it, opens its own server-side session (SEC-4)."""
    session[sessions.COOKIE_KEY] = sessions.open_session(user)
    g.atende_session_id = None  # the new session's id is looked up on the next request
    g.atende_session_user = None


# Reachable while a new password is due (SEC-1): Minha conta (where it is set), logging
# out, assets (the logo and avatars Minha conta shows included).
PASSWORD_DUE_ALLOWED = frozenset({"auth.logout", "static", "admin.static", "media.logo",
                                  "media.avatar"})


def _password_due_guard():
    """A password set by someone else is replaced before anything else is used (SEC-1)."""
    endpoint = request.endpoint or ""
    if endpoint in PASSWORD_DUE_ALLOWED or endpoint.startswith("account.") \
            or request.blueprint == "webchat":
        return None  # the widget serves visitors, never the logged-in user
    if not (current_user.is_authenticated and current_user.must_change_password):
        return None
    return _first_do(_("Defina uma nova senha em Minha conta para continuar."),
                     url_for("account.index"), flash_it=False)  # the page says why


def _first_do(message: str, page: str, flash_it: bool = True):
    """What a guard answers when something must be done before anything else: a JSON 403
    to the JSON routes (the inbox shows the message), else a redirect to `page`."""
    if (request.path.startswith(("/inbox/api/", "/api/", "/presence/")) or request.is_json
            or request.accept_mimetypes.best == "application/json"):
        return jsonify({"error": message}), 403
    if flash_it:
        flash(message, "warning")
    return redirect(page)


def init_sessions(app) -> None:
    """SEC-4 / SEC-1 wiring: sessions end with what they were opened with; a due password
    change comes first."""
    sessions.install()
    app.before_request(_password_due_guard)


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths, so the login cannot be used as an open redirect;
    None when there is none (the user then goes home, access.home_url)."""
    if target and target.startswith("/") and not target.startswith("//") \
            and "\\" not in target and not urlsplit(target).netloc:
        return target
    return None


# -- login (PLT-2, SEC-5, SEC-6) -------------------------------------------------------
# A password alone logs in only users without a second factor. Otherwise the session holds
# a short-lived "pending" login (who, which step, until when) and login_user waits for the
# code, or for the TOTP setup a company requires of its admins.

PENDING_KEY = "atende_pending_login"
SETUP_SECRET_KEY = "atende_totp_setup"
DEVICE_COOKIE = "atende_device"


def _client_ip() -> str:
    return request.remote_addr or "?"


def _known_device():
    return auth_service.read_device_token(request.cookies.get(DEVICE_COOKIE))


def _log_in(user: User):
    """The one place a login completes; returns what the response needs to remember
    this browser as a known device (SEC-5)."""
    device = _known_device()
    session.clear()
    session.permanent = True
    login_user(user)
    auth_service.record_login(user)
    return auth_service.device_token(user, device)


def _remember_device(response, token: str):
    response.set_cookie(
        DEVICE_COOKIE, token, max_age=current_app.config["LOGIN_DEVICE_DAYS"] * 86400,
        path=url_for("auth.login"), httponly=True, samesite="Lax",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
    return response


def _complete(user: User, next_url: str | None):
    """Log in and go to the page asked for, else home: the inbox for an agent (UX-3)."""
    token = _log_in(user)
    return _remember_device(redirect(next_url or access.home_url(user)), token)


def _start_pending(user: User, step: str, next_url: str | None) -> None:
    session.clear()
    session[PENDING_KEY] = {"uid": user.id, "step": step, "next": next_url,
                            "until": ratelimit.clock() + 60 * current_app.config["LOGIN_2FA_MINUTES"]}


def _pending(step: str) -> tuple[User, str | None] | None:
    data = session.get(PENDING_KEY)
    if (not isinstance(data, dict) or data.get("step") != step
            or not isinstance(data.get("uid"), int) or data.get("until", 0) < ratelimit.clock()):
        return None
    user = db.session.get(User, data["uid"])
    if user is None or not user.is_active:
        return None
    return user, _safe_next(data.get("next"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")) or access.home_url(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        result = authenticate(form.email.data, form.password.data, _client_ip(), _known_device())
        if result.user is not None:
            user, next_url = result.user, _safe_next(request.args.get("next"))
            if twofactor.enabled(user):
                _start_pending(user, "code", next_url)
                return redirect(url_for("auth.login_code"))
            if twofactor.setup_required(user):
                _start_pending(user, "setup", next_url)
                flash(_("Sua empresa exige a verificação em duas etapas dos administradores. "
                        "Ative-a para continuar."), "warning")
                return redirect(url_for("auth.twofactor_setup"))
            return _complete(user, next_url)
        flash(result.error, "error")
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    # this device only: the user's other sessions stay open (SEC-4)
    sessions.end(current_user.id, sessions.current_id())
    db.session.commit()  # after it, this session's sockets are disconnected
    logout_user()
    session.clear()
    flash(_("Você saiu do sistema."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/")
def root():
    return redirect(access.home_url(current_user) if current_user.is_authenticated
                    else url_for("auth.login"))


# -- second factor, password reset (SEC-6) ------------------------------------------------


class CodeForm(FlaskForm):
    code = StringField(_l("Código"), validators=[
        DataRequired(message=_l("Informe o código.")), Length(max=32)])


class PasswordConfirmForm(FlaskForm):
    password = PasswordField(_l("Senha"), validators=[
        DataRequired(message=_l("Informe a senha.")), Length(max=128)])


class ForgotForm(FlaskForm):
    email = StringField(_l("E-mail"), validators=[
        DataRequired(message=_l("Informe o e-mail.")), Length(max=254)])


class ResetForm(FlaskForm):
    password = PasswordField(_l("Nova senha"), validators=[
        DataRequired(message=_l("Informe a senha.")),
        Length(min=8, max=128, message=_l("A senha deve ter de 8 a 128 caracteres."))])
    confirm = PasswordField(_l("Repita a nova senha"), validators=[
        DataRequired(message=_l("Informe a senha."))])


def no_store(response):
    # Secrets on the page (TOTP secret, recovery codes, reset token): no cache, no referrer.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.route("/login/codigo", methods=["GET", "POST"])
def login_code():
    pending = _pending("code")
    if pending is None:
        session.pop(PENDING_KEY, None)
        flash(_("Sua sessão de login expirou. Entre novamente."), "info")
        return redirect(url_for("auth.login"))
    user, next_url = pending
    form = CodeForm()
    if form.validate_on_submit():
        error = auth_service.second_factor(user, form.code.data, _client_ip(), _known_device())
        if error is None:
            return _complete(user, next_url)
        flash(error, "error")
    return render_template("auth/login_code.html", form=form)


@bp.route("/conta/2fa", methods=["GET", "POST"])
def twofactor_setup():
    """Verificação em duas etapas: turn TOTP on (confirmed by a code) or off (password).
    Also reached before login_user by an admin whose company requires it."""
    if current_user.is_authenticated:
        user, next_url = db.session.get(User, current_user.id), url_for("account.index")
    else:
        pending = _pending("setup")
        if pending is None:
            return redirect(url_for("auth.login"))
        user, next_url = pending
    if twofactor.enabled(user):
        form = PasswordConfirmForm()
        if form.validate_on_submit():
            try:
                twofactor.disable(user, form.password.data)
            except RuleError as exc:
                db.session.rollback()
                flash(str(exc), "error")
            else:
                db.session.commit()
                flash(_("Verificação em duas etapas desativada."), "success")
                return redirect(url_for("auth.twofactor_setup"))
        return render_template("auth/twofactor.html", user=user, enabled=True, form=form,
                               codes_left=twofactor.recovery_codes_left(user))
    secret = session.get(SETUP_SECRET_KEY)
    if not isinstance(secret, str) or len(secret) != 32:
        secret = session[SETUP_SECRET_KEY] = twofactor.new_secret()
    form = CodeForm()
    if form.validate_on_submit():
        try:
            codes = twofactor.enable(user, secret, form.code.data)
        except RuleError as exc:
            flash(str(exc), "error")
        else:
            db.session.commit()
            session.pop(SETUP_SECRET_KEY, None)
            token = None if current_user.is_authenticated else _log_in(user)
            page = make_response(render_template("auth/recovery_codes.html", codes=codes,
                                                 next_url=next_url or access.home_url(user)))
            if token:
                _remember_device(page, token)
            return no_store(page)
    uri = twofactor.provisioning_uri(secret, user.email)
    page = make_response(render_template(
        "auth/twofactor.html", user=user, enabled=False, form=form, secret=secret,
        uri=uri, qr=twofactor.qr_code(uri), pending=not current_user.is_authenticated))
    return no_store(page)


# Reachable while the company requires the admin's second factor and it is not set up.
TWOFACTOR_DUE_ALLOWED = frozenset({"auth.twofactor_setup", "auth.logout", "static", "admin.static"})


@bp.before_app_request
def _twofactor_guard():
    """An admin already logged in when the company turned the requirement on sets up
    TOTP before using anything else (new logins never get past the pending step)."""
    if request.endpoint in TWOFACTOR_DUE_ALLOWED or request.blueprint == "webchat":
        return None
    if not current_user.is_authenticated or not twofactor.setup_required(current_user):
        return None
    if current_user.must_change_password:
        return None  # the new password comes first (SEC-1), then this
    return _first_do(_("Sua empresa exige a verificação em duas etapas dos administradores. "
                       "Ative-a para continuar."), url_for("auth.twofactor_setup"))


@bp.route("/esqueci-senha", methods=["GET", "POST"])
def forgot_password():
    form = ForgotForm()
    if form.validate_on_submit():
        error = auth_service.ask_password_reset(form.email.data, _client_ip(),
                                                   request.host_url)
        if error is None:
            flash(_("Se o e-mail estiver cadastrado, enviaremos a ele um link para criar uma "
                    "nova senha."), "info")
            return redirect(url_for("auth.login"))
        flash(error, "error")
    return render_template("auth/forgot_password.html", form=form)


@bp.route("/redefinir-senha/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    if auth_service.find_reset(token) is None:
        flash(_("Este link é inválido ou expirou. Peça um novo."), "error")
        return redirect(url_for("auth.forgot_password"))
    form = ResetForm()
    if form.validate_on_submit():
        try:
            auth_service.reset_password(token, form.password.data, form.confirm.data)
        except RuleError as exc:
            flash(str(exc), "error")
        else:
            flash(_("Senha alterada. Entre com a nova senha."), "success")
            return redirect(url_for("auth.login"))
    return no_store(make_response(render_template("auth/reset_password.html", form=form)))
