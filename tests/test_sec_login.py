"""SEC-5: login throttling that neither tells which e-mails exist nor lets an attacker
lock the owner out. Delays are checked against a movable clock, never by sleeping."""
from __future__ import annotations

import re


from backoffice.services import ratelimit
from tests.conftest import login
from tests.factories import PASSWORD

ATTACKER = {"REMOTE_ADDR": "203.0.113.66"}
OWNER = {"REMOTE_ADDR": "198.51.100.7"}
OFFICE = {"REMOTE_ADDR": "192.0.2.10"}  # an office (or a carrier) behind one address



def _client(app, environ):
    client = app.test_client()
    client.environ_base.update(environ)
    return client


def _answer(page, email: str) -> bytes:
    """The page with what differs by construction blanked: the CSRF token of the session
    and the e-mail the visitor typed, echoed back in the form."""
    body = page.get_data()
    body = re.sub(rb'name="csrf_token" type="hidden" value="[^"]*"', b"CSRF", body)
    return body.replace(email.encode(), b"EMAIL")


def test_SEC_5_wrong_passwords_for_real_and_unknown_email_get_identical_answers(app, tenants, clock):
    """Six wrong passwords for a real e-mail and for an unknown one: the attacker sees
    byte-identical pages at every step, so the answers do not reveal who has an account."""
    real, unknown = tenants["a"].admin_email, "ninguem-aqui@example.com"
    pages = {}
    for email in (real, unknown):
        client = _client(app, ATTACKER)
        pages[email] = [_answer(login(client, email, "errada-123"), email) for _ in range(6)]
        ratelimit.reset_redis_state()
    assert pages[real] == pages[unknown]
    assert all(b"E-mail ou senha incorretos." in p for p in pages[real][:5])
    assert b"Muitas tentativas" in pages[real][5]


def test_SEC_5_delays_grow_after_repeated_failures(app, tenants, clock):
    """After 5 failures each new attempt waits 1, 2, 4 ... seconds; a refused attempt
    does not even look at the password."""
    client = _client(app, ATTACKER)
    email = tenants["a"].admin_email
    for _ in range(5):
        assert "E-mail ou senha incorretos." in login(client, email, "errada-123").text
    for delay in (1, 2, 4, 8):
        assert "Muitas tentativas" in login(client, email, PASSWORD).text  # right password, too early
        clock[0] += delay - 0.5
        assert "Muitas tentativas" in login(client, email, "errada-123").text
        clock[0] += 0.5
        assert "E-mail ou senha incorretos." in login(client, email, "errada-123").text
    clock[0] += 16
    assert login(client, email, PASSWORD).status_code == 302


def test_SEC_5_attacker_cannot_lock_the_owner_out_of_a_known_device(app, tenants, clock):
    """The owner logged in once from their computer; an attacker elsewhere then fails
    twenty times. The owner, from that computer, still gets in at once."""
    email = tenants["a"].admin_email
    owner = _client(app, OWNER)
    assert login(owner, email).status_code == 302
    owner.submit("/logout")
    attacker = _client(app, ATTACKER)
    for _ in range(20):
        login(attacker, email, "errada-123")
    assert "Muitas tentativas" in login(attacker, email, PASSWORD).text
    # Without the device cookie the owner would wait like anyone else...
    stranger = _client(app, OWNER)
    assert "Muitas tentativas" in login(stranger, email, PASSWORD).text
    # ...from the known device they are in.
    assert login(owner, email).status_code == 302
    assert owner.get("/admin/").status_code == 200


def test_SEC_5_an_address_at_its_limit_does_not_slow_users_on_their_known_devices(
        app, tenants, clock):
    """An office behind one address (or strangers behind one carrier's): the address's
    counter is spent, by someone's failures or by colleagues' logins still in flight. A
    colleague new to this computer waits; a user on the browser they logged in from before
    is in at once, and that browser's own counter still slows wrong passwords."""
    email = tenants["a"].admin_email
    owner = _client(app, OFFICE)
    assert login(owner, email).status_code == 302
    owner.submit("/logout")
    someone = _client(app, OFFICE)
    for i in range(app.config["LOGIN_IP_FREE_ATTEMPTS"]):
        assert "E-mail ou senha incorretos." in login(someone, f"alguem{i}@example.com", "x1").text
    newcomer = _client(app, OFFICE)
    assert "Muitas tentativas" in login(newcomer, email, PASSWORD).text
    assert login(owner, email).status_code == 302
    assert owner.get("/admin/").status_code == 200
    owner.submit("/logout")
    for _ in range(app.config["LOGIN_FREE_ATTEMPTS"]):
        assert "E-mail ou senha incorretos." in login(owner, email, "errada-123").text
    assert "Muitas tentativas" in login(owner, email, PASSWORD).text
    # and the address's counter is still the one strangers meet
    assert "Muitas tentativas" in login(_client(app, OFFICE), "outro@example.com", "x1").text


def test_SEC_5_one_address_trying_many_accounts_is_slowed_down(app, tenants, clock):
    """Spreading guesses over many e-mails does not escape the per-address delay."""
    client = _client(app, ATTACKER)
    for i in range(app.config["LOGIN_IP_FREE_ATTEMPTS"]):
        assert "E-mail ou senha incorretos." in login(client, f"alvo{i}@example.com", "x1").text
    assert "Muitas tentativas" in login(client, "outro-alvo@example.com", "x1").text
    # Another address is not affected.
    assert login(_client(app, OWNER), tenants["a"].admin_email).status_code == 302


def test_SEC_5_password_reset_lets_the_throttled_owner_in(app, tenants, clock):
    """An attacker keeps the account at its longest delay; the owner resets the password
    by e-mail and logs in straight away."""
    email = tenants["a"].admin_email
    attacker = _client(app, ATTACKER)
    for _ in range(6):
        login(attacker, email, "errada-123")
    owner = _client(app, OWNER)
    assert "Muitas tentativas" in login(owner, email).text
    owner.submit("/esqueci-senha", {"email": email})
    link = _last_mail_link(app)
    page = owner.submit(link, {"password": "nova-senha-123", "confirm": "nova-senha-123"})
    assert page.status_code == 302
    assert login(owner, email, "nova-senha-123").status_code == 302


def _last_mail_link(app) -> str:
    from pathlib import Path

    files = sorted((Path(app.instance_path) / "mail").glob("*.eml"))
    assert files, "no mail written"
    match = re.search(r"https?://[^/\s]+(/redefinir-senha/[\w-]+)", files[-1].read_text())
    assert match, files[-1].read_text()
    return match.group(1)
