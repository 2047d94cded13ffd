"""SEC-6: "Esqueci minha senha". A link by e-mail that works once and expires, stored
only as a hash; the same answer whether or not the e-mail exists; in the embedded mode
the mail is a file in instance/mail/ that only the super user reads."""
from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models import PasswordReset, User, utcnow
from backoffice.services import ratelimit
from tests.conftest import login
from tests.factories import PASSWORD


@pytest.fixture(autouse=True)
def _fresh_counters(monkeypatch):
    """Fresh counters, and a throttle clock that stands still (no window ends mid-test)."""
    monkeypatch.setattr(ratelimit, "clock", lambda: 1_800_000_000.0)
    ratelimit.reset_redis_state()
    yield
    ratelimit.reset_redis_state()


def mails(app) -> list[Path]:
    return sorted((Path(app.instance_path) / "mail").glob("*.eml"))


def ask(client, email):
    return client.submit("/esqueci-senha", {"email": email}, follow_redirects=True)


def link_in(path: Path) -> str:
    match = re.search(r"https?://[^/\s]+(/redefinir-senha/([\w-]+))", path.read_text())
    assert match, path.read_text()
    return match.group(1)


def new_password(client, link, password="nova-senha-123", confirm=None):
    return client.submit(link, {"password": password, "confirm": confirm or password})


def _user(app, email) -> User:
    with app.app_context():
        return db.session.scalar(select(User).where(User.email == email))


def test_SEC_6_reset_link_is_hashed_works_once_and_kills_older_links(app, client, tenants):
    """The owner asks twice, uses the second link: the password changes, a forced change
    is cleared, and neither link works again. The database holds no usable token."""
    email = tenants["a"].admin_email
    with app.app_context():
        db.session.get(User, tenants["a"].admin_id).must_change_password = True
        db.session.commit()
    ask(client, email)
    ask(client, email)
    first, second = (link_in(p) for p in mails(app))
    with app.app_context():
        stored = db.session.scalars(select(PasswordReset.token_hash)).all()
    tokens = [first.rsplit("/", 1)[1], second.rsplit("/", 1)[1]]
    assert len(stored) == 2 and not set(tokens) & set(stored)
    assert {hashlib.sha256(t.encode()).hexdigest() for t in tokens} == set(stored)

    page = new_password(client, second, "curta", "curta")
    assert "A senha deve ter de 8 a 128 caracteres." in page.text
    assert new_password(client, second).status_code == 302
    user = _user(app, email)
    assert user.check_password("nova-senha-123") and not user.must_change_password
    for link in (second, first):
        page = client.get(link, follow_redirects=True)
        assert "Este link é inválido ou expirou." in page.text
        new_password(client, link, "outra-senha-456")
    assert _user(app, email).check_password("nova-senha-123")


def test_SEC_6_reset_link_expires(app, client, tenants, monkeypatch):
    """A link opened after its 60 minutes is refused and changes nothing."""
    from backoffice.services import auth

    email = tenants["a"].admin_email
    ask(client, email)
    link = link_in(mails(app)[-1])
    later = utcnow() + timedelta(minutes=app.config["PASSWORD_RESET_MINUTES"] + 1)
    monkeypatch.setattr(auth, "utcnow", lambda: later)
    assert "Este link é inválido ou expirou." in client.get(link, follow_redirects=True).text
    new_password(client, link)
    assert _user(app, email).check_password(PASSWORD)


def _page(resp) -> bytes:
    return re.sub(rb'name="csrf_token" type="hidden" value="[^"]*"', b"CSRF", resp.get_data())


def test_SEC_6_unknown_inactive_and_real_emails_get_the_same_answer(app, tenants):
    """Asking for a real, an unknown and a deactivated user's e-mail shows the very same
    page; only the real, active user gets a mail."""
    with app.app_context():
        db.session.scalar(select(User).where(User.email == "agente-b@example.com")).active = False
        db.session.commit()
    answers = [_page(ask(app.test_client(), email)) for email in
               (tenants["a"].admin_email, "ninguem@example.com", "agente-b@example.com")]
    assert answers[0] == answers[1] == answers[2]
    assert "Se o e-mail estiver cadastrado".encode() in answers[0]
    sent = mails(app)
    assert len(sent) == 1 and tenants["a"].admin_email in sent[0].read_text()


def test_SEC_6_reset_requests_are_throttled_per_address(app, client, tenants):
    """One address cannot flood mailboxes: past the limit it is told to wait."""
    for i in range(5):
        assert "Se o e-mail estiver cadastrado" in ask(client, f"alvo{i}@example.com").text
    assert "Muitas solicitações" in ask(client, tenants["a"].admin_email).text
    assert mails(app) == []


def test_SEC_6_mail_page_is_for_the_super_user_only(app, tenants):
    """The super user reads the mails of the embedded mode (escaped); a company admin and
    an anonymous visitor do not."""
    with app.app_context():
        admin = db.session.get(User, tenants["a"].admin_id)
        admin.name = "<b>Ana</b>"
        root = User(name="Root", email="root@example.com", is_superuser=True)
        root.set_password(PASSWORD)
        db.session.add(root)
        db.session.commit()
    ask(app.test_client(), tenants["a"].admin_email)
    name = mails(app)[0].name

    root_client = app.test_client()
    assert login(root_client, "root@example.com").status_code == 302
    listing = root_client.get("/admin/mail/")
    assert listing.status_code == 200 and "Atende: redefinição de senha" in listing.text
    # UX-4: the date in the reader's time zone, pt-BR style, never the raw UTC header
    assert re.search(r"<td>\d{2}/\d{2}/\d{4} \d{2}:\d{2}</td>", listing.text)
    assert "-0000" not in listing.text and "+0000" not in listing.text
    page = root_client.get(f"/admin/mail/?name={name}")
    assert "/redefinir-senha/" in page.text
    assert "&lt;b&gt;Ana&lt;/b&gt;" in page.text and "<b>Ana</b>" not in page.text
    assert root_client.get("/admin/mail/?name=../secret_key").status_code == 404

    company_admin = app.test_client()
    assert login(company_admin, tenants["a"].admin_email).status_code == 302
    assert company_admin.get(f"/admin/mail/?name={name}").status_code == 403
    anonymous = app.test_client().get(f"/admin/mail/?name={name}")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_SEC_6_mail_goes_through_smtp_when_configured(app, client, tenants, monkeypatch):
    """With MAIL_SERVER set the link is sent by SMTP (STARTTLS, login) and no file is kept."""
    import smtplib

    sent = []

    class FakeSMTP:
        def __init__(self, host, port, timeout):
            sent.append(("connect", host, port, timeout))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def starttls(self):
            sent.append(("starttls",))

        def login(self, user, password):
            sent.append(("login", user, password))

        def send_message(self, msg):
            sent.append(("send", msg["To"], msg.get_content()))

    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    app.config.update(MAIL_SERVER="smtp.example.com", MAIL_PORT=587, MAIL_USE_TLS=True,
                      MAIL_USERNAME="atende", MAIL_PASSWORD="segredo",
                      MAIL_BASE_URL="https://atende.example.com")
    ask(client, tenants["a"].admin_email)
    assert sent[:3] == [("connect", "smtp.example.com", 587, 10), ("starttls",),
                        ("login", "atende", "segredo")]
    assert sent[3][1] == tenants["a"].admin_email
    assert "https://atende.example.com/redefinir-senha/" in sent[3][2]
    assert mails(app) == []
