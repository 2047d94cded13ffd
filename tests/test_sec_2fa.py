"""SEC-6: optional TOTP two-factor login, with recovery codes shown once, and a company
switch that requires it of administrators."""
from __future__ import annotations

import re
import time

import pyotp

from backoffice.extensions import db
from backoffice.models import Company, User
from backoffice.services import twofactor
from tests.conftest import login
from tests.factories import PASSWORD



def code(secret: str, offset: int = 0) -> str:
    """The app's code `offset` steps from now: a code is accepted once, so a test that
    enables TOTP and then logs in, or logs in twice, uses codes of successive steps (one
    step either side of now is accepted)."""
    return pyotp.TOTP(secret).at(time.time(), counter_offset=offset)


def enable_totp(client) -> tuple[str, list[str]]:
    """Through the page: read the secret, confirm with a code; returns secret and codes."""
    page = client.get("/conta/2fa")
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page.text).group(1)
    assert f"secret={secret}" in page.text  # the otpauth:// address for the app
    assert re.search(r'<img src="data:image/svg\+xml[^"]+"[^>]*data-testid="totp-qr"', page.text)
    done = client.submit("/conta/2fa", {"code": code(secret, -1)})
    block = re.search(r'data-testid="recovery-codes">(.*?)</pre>', done.text, re.S).group(1)
    return secret, block.split()


def logged_in(client) -> bool:
    return client.get("/admin/").status_code == 200


def with_totp(app, email) -> tuple[str, list[str]]:
    """TOTP switched on directly (tests that are not about the setup page)."""
    with app.app_context():
        user = db.session.query(User).filter_by(email=email).one()
        secret = twofactor.new_secret()
        codes = twofactor.enable(user, secret, code(secret, -1))
        db.session.commit()
        return secret, codes


def test_SEC_6_user_enables_totp_and_then_login_needs_a_code(app, client, tenants, clock):
    """Enabled from Minha conta (wrong code refused, ten recovery codes shown once, kept
    only hashed); afterwards the password alone does not log in, a wrong code is refused
    and the code from the app does."""
    email = tenants["a"].admin_email
    assert login(client, email).status_code == 302
    assert "/conta/2fa" in client.get("/admin/account/").text
    wrong = client.submit("/conta/2fa", {"code": "000000"})
    assert "Código inválido" in wrong.text
    secret, codes = enable_totp(client)
    assert len(codes) == 10 and len(set(codes)) == 10
    with app.app_context():
        user = db.session.get(User, tenants["a"].admin_id)
        assert user.totp_enabled_at and not set(codes) & set(user.recovery_codes)
    assert "recovery-codes" not in client.get("/conta/2fa").text  # never shown again
    client.submit("/logout")

    resp = login(client, email)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login/codigo")
    assert not logged_in(client)
    assert "Código inválido." in client.submit("/login/codigo", {"code": "123456"}).text
    assert not logged_in(client)
    resp = client.submit("/login/codigo", {"code": code(secret)})
    assert resp.status_code == 302 and logged_in(client)


def test_SEC_6_a_code_from_the_app_is_accepted_once(app, tenants, clock):
    """RFC 6238 5.2: a code that logged in once is refused on a second login (someone who
    saw it over the user's shoulder cannot use it for the rest of its minute and a half),
    and so is an earlier step's code; the answer says to wait for the next code, which
    works. The check itself claims the step once (a conditional UPDATE)."""
    email = tenants["a"].admin_email
    secret, _codes = with_totp(app, email)
    shown = code(secret)
    first = app.test_client()
    login(first, email)
    assert first.submit("/login/codigo", {"code": shown}).status_code == 302
    second = app.test_client()
    login(second, email)
    page = second.submit("/login/codigo", {"code": shown})
    assert "Este código já foi usado. Aguarde o próximo código do aplicativo." in page.text
    assert not logged_in(second)
    assert "já foi usado" in second.submit("/login/codigo", {"code": code(secret, -1)}).text
    assert "Código inválido." in second.submit("/login/codigo", {"code": "12345x"}).text
    assert second.submit("/login/codigo", {"code": code(secret, 1)}).status_code == 302
    assert logged_in(second)
    with app.app_context():
        user = db.session.get(User, tenants["a"].admin_id)
        current = code(secret)  # at most the step just used: refused
        assert twofactor.check(user, current) is False and twofactor.reused(user, current)
        db.session.rollback()


def test_SEC_6_recovery_code_logs_in_once(app, tenants, clock):
    """A recovery code replaces the phone once; used again it is refused."""
    email = tenants["a"].admin_email
    _secret, codes = with_totp(app, email)
    first = app.test_client()
    login(first, email)
    assert first.submit("/login/codigo", {"code": codes[3].upper()}).status_code == 302
    assert logged_in(first)
    second = app.test_client()
    login(second, email)
    assert "Código inválido." in second.submit("/login/codigo", {"code": codes[3]}).text
    assert not logged_in(second)


def test_SEC_6_codes_are_throttled_like_passwords(app, client, tenants, clock):
    """Someone holding the password cannot try the million codes: after five wrong codes
    even the right one waits."""
    email = tenants["a"].admin_email
    secret, _codes = with_totp(app, email)
    login(client, email)
    for _ in range(5):
        assert "Código inválido." in client.submit("/login/codigo", {"code": "111111"}).text
    assert "Muitas tentativas" in client.submit(
        "/login/codigo", {"code": code(secret)}).text
    assert not logged_in(client)


def test_SEC_5_SEC_6_the_code_step_on_a_known_device_ignores_the_address_counter(
        app, tenants, clock):
    """An office address whose counter is spent (someone failing behind it, or many
    colleagues logging in at once): a user with two factors, on the browser they logged
    in from before, gets past the password and the code at once; the code is still
    throttled by the account's own counter (test above)."""
    office = {"REMOTE_ADDR": "192.0.2.10"}
    email = tenants["a"].admin_email
    secret, _codes = with_totp(app, email)
    owner = app.test_client()
    owner.environ_base.update(office)
    login(owner, email)
    assert owner.submit("/login/codigo", {"code": code(secret)}).status_code == 302
    owner.submit("/logout")
    someone = app.test_client()
    someone.environ_base.update(office)
    for i in range(app.config["LOGIN_IP_FREE_ATTEMPTS"]):
        login(someone, f"alguem{i}@example.com", "x1")
    assert "Muitas tentativas" in login(someone, "mais-um@example.com", "x1").text
    resp = login(owner, email)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login/codigo")
    assert owner.submit("/login/codigo", {"code": code(secret, 1)}).status_code == 302
    assert logged_in(owner)


def test_SEC_6_pending_login_expires(app, client, tenants, clock):
    """The password step is good for a few minutes only."""
    email = tenants["a"].admin_email
    secret, _codes = with_totp(app, email)
    login(client, email)
    clock[0] += 60 * app.config["LOGIN_2FA_MINUTES"] + 1
    resp = client.submit("/login/codigo", {"code": code(secret)})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login")
    assert not logged_in(client)


def test_SEC_6_disabling_totp_needs_the_password(app, client, tenants, clock):
    email = tenants["a"].admin_email
    secret, _codes = with_totp(app, email)
    login(client, email)
    client.submit("/login/codigo", {"code": code(secret)})
    assert "Senha incorreta." in client.submit("/conta/2fa", {"password": "errada-123"}).text
    assert client.submit("/conta/2fa", {"password": PASSWORD}).status_code == 302
    with app.app_context():
        user = db.session.get(User, tenants["a"].admin_id)
        assert user.totp_secret is None and user.totp_enabled_at is None


def test_SEC_6_company_requires_totp_of_its_admins(app, tenants, clock):
    """The admin turns on the switch on Empresa. An admin already logged in, and one
    logging in, can use nothing until TOTP is set up; an agent is not affected."""
    a = tenants["a"]
    admin = app.test_client()
    assert login(admin, a.admin_email).status_code == 302
    with app.app_context():
        company = db.session.get(Company, a.company_id)
        form = {"name": company.name, "cnpj": "11.444.777/0001-61", "email": "", "phone": "",
                "address": "", "logo_url": "", "timezone": company.timezone,
                "language": company.language, "require_2fa_admins": "y"}
    assert admin.submit(f"/admin/company/edit/?id={a.company_id}", form).status_code == 302
    with app.app_context():
        assert db.session.get(Company, a.company_id).require_2fa_admins

    # The session already open is sent to the setup page, whatever it asks for.
    resp = admin.get("/admin/users/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/conta/2fa")
    # A new login stops before the panel.
    other = app.test_client()
    resp = login(other, a.admin_email)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/conta/2fa")
    assert not logged_in(other)
    assert login(app.test_client(), "agente-a@example.com").status_code == 302  # not an admin
    # Once set up, the admin is in.
    _secret, codes = enable_totp(other)
    assert len(codes) == 10 and logged_in(other)
    assert admin.get("/admin/users/").status_code == 200
