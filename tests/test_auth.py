"""PLT-2: login with e-mail + hashed password, logout, session expiry, CSRF, throttling."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models import User
from tests.conftest import login
from tests.factories import PASSWORD


def _user(app, email):
    with app.app_context():
        return db.session.scalar(select(User).where(User.email == email))


def test_PLT_2_login_with_email_and_password_reaches_panel(client, tenants):
    resp = login(client, tenants["a"].admin_email.upper())  # e-mail is case-insensitive
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/")
    page = client.get("/admin/")
    assert "Admin Alfa Comércio" in page.text


def test_PLT_2_password_is_stored_hashed(app, tenants):
    user = _user(app, tenants["a"].admin_email)
    assert PASSWORD not in user.password_hash and user.password_hash.startswith("pbkdf2:")
    with app.app_context():
        app.config.pop("PASSWORD_HASH_METHOD")  # the production default
        user = db.session.merge(user)
        user.set_password("outra-senha-1")
        assert user.password_hash.startswith("scrypt:") and user.check_password("outra-senha-1")


def test_PLT_2_wrong_password_and_unknown_email_get_the_same_message(client, tenants):
    for email, pw in ((tenants["a"].admin_email, "errada-123"), ("ninguem@example.com", PASSWORD)):
        page = client.submit("/login", {"email": email, "password": pw})
        assert page.status_code == 200
        assert "E-mail ou senha incorretos." in page.text
        assert client.get("/admin/users/").status_code == 302  # still anonymous


def test_PLT_2_empty_and_overlong_fields_are_form_errors(client, tenants):
    page = client.submit("/login", {"email": "", "password": ""})
    assert "Informe o e-mail." in page.text and "Informe a senha." in page.text
    page = client.submit("/login", {"email": "a" * 300 + "@x.com", "password": "x" * 500})
    assert page.status_code == 200 and "E-mail ou senha incorretos." not in page.text


def test_PLT_2_repeated_failures_slow_the_account_down(app, client, tenants, monkeypatch):
    # SEC-5 replaced the 15-minute lock by growing delays (tests/test_sec_login.py).
    from backoffice.services import ratelimit

    now = [1_800_000_000.0]
    monkeypatch.setattr(ratelimit, "clock", lambda: now[0])
    email = tenants["a"].admin_email
    for _ in range(app.config["LOGIN_FREE_ATTEMPTS"]):
        client.submit("/login", {"email": email, "password": "errada-123"})
    # Even the right password is refused while the delay runs.
    page = login(client, email)
    assert page.status_code == 200
    assert "Muitas tentativas sem sucesso" in page.text
    now[0] += 1  # the first delay is over
    assert login(client, email).status_code == 302


def test_PLT_2_logout_requires_post_with_csrf_and_ends_session(client, tenants):
    login(client, tenants["a"].admin_email)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no CSRF token
    assert client.get("/admin/").status_code == 200
    resp = client.submit("/logout")
    assert resp.status_code == 302
    assert client.get("/admin/").status_code == 302


def test_PLT_2_tampered_csrf_token_is_refused_and_nothing_written(app, client, tenants):
    login(client, tenants["a"].admin_email)
    token = client.csrf_token()
    page = client.post("/admin/users/new/", data={
        "csrf_token": token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        "name": "Sem Token", "email": "sem-token@example.com", "password": "senha-segura-2",
    })
    assert page.status_code == 400
    assert "O formulário expirou ou é inválido" in page.text
    assert _user(app, "sem-token@example.com") is None


def test_PLT_2_session_cookie_is_httponly_and_samesite(client, tenants):
    resp = login(client, tenants["a"].admin_email)
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_PLT_2_expired_session_sends_back_to_login(app, client, tenants):
    login(client, tenants["a"].admin_email)
    app.permanent_session_lifetime = timedelta(seconds=-1)  # every cookie is already expired
    resp = client.get("/admin/users/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_PLT_2_deactivated_user_is_logged_out_and_cannot_log_in(app, client, tenants):
    login(client, tenants["a"].admin_email)
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "agente-a@example.com"))
        user.active = False
        db.session.commit()
    other = app.test_client()
    page = login(other, "agente-a@example.com")
    assert "Este usuário está desativado" in page.text


def test_PLT_2_login_next_is_never_an_open_redirect(client, tenants):
    resp = client.submit("/login?next=https://evil.example.com/",
                         {"email": tenants["a"].admin_email, "password": PASSWORD})
    assert resp.headers["Location"].endswith("/admin/")
    client.submit("/logout")
    resp = client.submit("/login?next=/admin/users/",
                         {"email": tenants["a"].admin_email, "password": PASSWORD})
    assert resp.headers["Location"] == "/admin/users/"


def test_PLT_2_anonymous_is_sent_to_login_from_every_screen(app, client):
    for view in app.extensions["admin"][0]._views:
        resp = client.get(view.url + "/")
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], view.endpoint


def test_PLT_2_malformed_requests_are_not_500(client, tenants):
    login(client, tenants["a"].admin_email)
    for url in ("/admin/users/edit/?id=abc", "/admin/users/edit/?id=", "/admin/users/?page=-5",
                "/admin/users/?sort=999", "/admin/users/details/?id=%00", "/nada"):
        assert client.get(url).status_code < 500, url
    page = client.get("/nada")
    assert page.status_code == 404 and "Página não encontrada" in page.text
