"""UX-5: the company logo and user avatars.

Uploads are checked by decoding (never by name), resized, stored under instance/ with a
new key each time; a refused file leaves a pt-BR message on the same page and the
previous image in place. The logo is public (the login page shows it); an avatar only to
the users of its company.
"""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from backoffice.extensions import db
from backoffice.models import Company, User
from backoffice.services import images
from tests.conftest import client_as, flashes
from tests.factories import gen_agent_setup

NOT_IMAGE = "O arquivo não é uma imagem PNG, JPEG ou WebP."


def flashed(message: str, html: str) -> bool:
    return any(message in shown for shown in flashes(html))


def picture(fmt: str = "PNG", size=(1000, 300), colour=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format=fmt)
    return out.getvalue()


def decoded(data: bytes):
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def company_form(**over) -> dict:
    data = {"name": "Alfa Comércio", "cnpj": "", "email": "", "phone": "", "address": "",
            "timezone": "America/Sao_Paulo", "language": "pt_BR"}
    data.update(over)
    return data


def logo_of(app, cid) -> tuple[str | None, Path | None]:
    with app.app_context():
        company = db.session.get(Company, cid)
        key = company.logo_key
        return key, (images.path(cid, "logo", key) if key else None)


@pytest.fixture
def world(app):
    """Companies A and B, each with an admin, an agent and a ticket the agent accepted."""
    with app.app_context():
        a = gen_agent_setup(key="a")
        gen_agent_setup(key="b")
        db.session.get(Company, a.company_id).name = "Alfa Comércio"
        db.session.commit()
        return {"company_id": a.company_id, "ticket_id": a.ticket.id, "agent_id": a.agent.id,
                "group_id": a.agent.group_id}


@pytest.fixture
def admin_a(app, world):
    return client_as(app, "admin-a@example.com")


def upload_logo(client, world, data: bytes, file_name: str = "logo.png", **over):
    form = company_form(**over)
    form["logo"] = (io.BytesIO(data), file_name)
    return client.submit(f"/admin/company/edit/?id={world['company_id']}", form,
                         content_type="multipart/form-data")


def test_UX_5_logo_upload_is_resized_served_and_shown_on_login(app, world, admin_a):
    cid = world["company_id"]
    resp = upload_logo(admin_a, world, picture("JPEG", (1600, 400)), "marca.jpg")
    assert resp.status_code == 302, flashes(resp.text)
    key, stored = logo_of(app, cid)
    assert key and stored.is_file()
    image = decoded(stored.read_bytes())
    assert image.format == "PNG" and image.size == (400, 100)  # fitted in 400 × 120

    # public, typed, nosniff, cached for long under its key
    anon = app.test_client()
    served = anon.get(f"/media/logo/{key}")
    assert served.status_code == 200
    assert served.mimetype == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "immutable" in served.headers["Cache-Control"]
    assert served.data == stored.read_bytes()

    # the panel's top bar and the inbox header show it
    assert f"/media/logo/{key}" in admin_a.get("/admin/").text
    assert f'src="/media/logo/{key}"' in client_as(app, "agente-a@example.com").get("/inbox/").text

    with app.app_context():
        domain = db.session.get(Company, cid).domain
    page = anon.get(f"/login?empresa={domain}").text
    assert f'src="/media/logo/{key}"' in page and 'alt="Alfa Comércio"' in page
    plain = anon.get("/login").text
    assert "/media/logo/" not in plain  # no company named, none remembered

    # a logout remembers the company on this browser: the next login page shows it
    admin_a.submit("/logout")
    assert f"/media/logo/{key}" in admin_a.get("/login").text
    # an unknown or malformed domain shows nothing, and no 500
    assert "/media/logo/" not in anon.get("/login?empresa=nao-existe").text
    assert anon.get("/login?empresa=%00%3Cscript%3E").status_code == 200


BAD_LOGOS = [
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "logo.svg",
     NOT_IMAGE),
    (b"isto e texto, nao imagem", "logo.png", NOT_IMAGE),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "quebrada.png", NOT_IMAGE),  # PNG start, no image
    (picture() + b"\x00" * (2 * 1024 * 1024), "grande.png", "A imagem passa do limite de 2 MB."),
]


def test_UX_5_bad_logo_is_refused_with_a_message_and_the_previous_logo_kept(app, world, admin_a):
    cid = world["company_id"]
    assert upload_logo(admin_a, world, picture()).status_code == 302
    key, stored = logo_of(app, cid)
    for data, file_name, message in BAD_LOGOS:
        page = upload_logo(admin_a, world, data, file_name, name="Nome Digitado Agora")
        assert page.status_code == 200, file_name
        assert flashed(message, page.text), file_name
        assert 'value="Nome Digitado Agora"' in page.text  # what was typed is still there
        assert logo_of(app, cid) == (key, stored) and stored.is_file()
        with app.app_context():
            assert db.session.get(Company, cid).name == "Alfa Comércio"


def test_UX_5_replacing_and_removing_the_logo_deletes_the_old_file(app, world, admin_a):
    cid = world["company_id"]
    upload_logo(admin_a, world, picture())
    first_key, first = logo_of(app, cid)
    upload_logo(admin_a, world, picture(colour=(0, 0, 200)))
    second_key, second = logo_of(app, cid)
    assert second_key != first_key and second.is_file() and not first.exists()
    assert app.test_client().get(f"/media/logo/{first_key}").status_code == 404
    resp = admin_a.submit(f"/admin/company/edit/?id={cid}", company_form(remove_logo="y"))
    assert resp.status_code == 302
    assert logo_of(app, cid) == (None, None) and not second.exists()
    assert "/media/logo/" not in admin_a.get("/admin/").text  # back to the "Atende" text


def test_UX_5_UX_4_logo_and_avatar_changes_are_in_the_audit_log(app, world, admin_a):
    """Who sent, replaced or removed the company's logo or a user's picture is in the
    audit log, under the form's own label (the files' keys before and after), as any other
    field of the screen; the log's screen shows it."""
    from sqlalchemy import select

    from backoffice.models import AuditLog
    from backoffice.services import audit

    cid, uid = world["company_id"], world["agent_id"]

    def image_entries() -> list[tuple[int, str, str, dict]]:
        with app.app_context():
            found = db.session.scalars(select(AuditLog).where(AuditLog.company_id == cid)
                                       .order_by(AuditLog.id)).all()
            return [(e.id, e.table, e.user_name, e.changes) for e in found
                    if set(e.changes or {}) & {"logo", "avatar"}]

    upload_logo(admin_a, world, picture())
    first, _ = logo_of(app, cid)
    upload_logo(admin_a, world, picture(colour=(0, 0, 200)))
    second, _ = logo_of(app, cid)
    assert admin_a.submit(f"/admin/company/edit/?id={cid}",
                          company_form(remove_logo="y")).status_code == 302
    form = {"name": "Agente a", "email": "agente-a@example.com", "password": "",
            "group": str(world["group_id"]), "active": "y", "language": "",
            "avatar": (io.BytesIO(picture("PNG", (64, 64))), "foto.png")}
    assert admin_a.submit(f"/admin/users/edit/?id={uid}", form,
                          content_type="multipart/form-data").status_code == 302
    avatar, _ = avatar_of(app, "agente-a@example.com")
    entries = image_entries()
    with app.app_context():
        admin = db.session.scalar(select(User.name).where(User.email == "admin-a@example.com"))
    assert [entry[1:] for entry in entries] == [
        ("company", admin, {"logo": [None, first]}),
        ("company", admin, {"logo": [first, second]}),
        ("company", admin, {"logo": [second, None]}),
        ("user", admin, {"avatar": [None, avatar]}),
    ]
    # an edit that leaves the picture alone adds no picture entry
    assert admin_a.submit(f"/admin/company/edit/?id={cid}",
                          company_form(name="Alfa Comércio Ltda")).status_code == 302
    assert image_entries() == entries
    with app.app_context():
        replaced = db.session.get(AuditLog, entries[1][0])
        assert audit.describe(replaced) == [("Logo", first, second)]
    page = admin_a.get(f"/admin/audit/details/?id={entries[1][0]}")
    assert page.status_code == 200 and "Logo" in page.text and second in page.text


# --- avatars ------------------------------------------------------------------------------


def avatar_of(app, email) -> tuple[str | None, Path | None]:
    with app.app_context():
        user = db.session.query(User).filter_by(email=email).one()
        key = user.avatar_key
        return key, (images.path(user.company_id, "avatar", key) if key else None)


def send_avatar(client, data: bytes, name: str):
    return client.submit("/admin/account/avatar", {"avatar": (io.BytesIO(data), name)},
                         content_type="multipart/form-data", follow_redirects=True)


def test_UX_5_agent_sets_own_avatar_and_only_the_company_sees_it(app, world):
    agent = client_as(app, "agente-a@example.com")
    page = send_avatar(agent, picture("PNG", (300, 200)), "eu.png")
    assert flashed("Foto atualizada.", page.text)
    key, stored = avatar_of(app, "agente-a@example.com")
    assert decoded(stored.read_bytes()).size == (128, 128)  # cropped square
    assert f'src="/media/avatar/{key}"' in page.text

    assert f'src="/media/avatar/{key}"' in agent.get("/inbox/").text  # the inbox header

    url = f"/media/avatar/{key}"
    mine = client_as(app, "admin-a@example.com").get(url)
    assert mine.status_code == 200 and mine.mimetype == "image/png"
    assert mine.headers["X-Content-Type-Options"] == "nosniff"
    assert mine.headers["Cache-Control"].startswith("private")
    assert client_as(app, "admin-b@example.com").get(url).status_code == 404
    assert app.test_client().get(url).status_code == 404

    # the wrong type: a clear message, the previous picture kept
    for data, name, message in ((b"<svg onload='x()'/>", "eu.svg", NOT_IMAGE),
                                (b"GIF89a" + b"lixo" * 10, "eu.gif", NOT_IMAGE),
                                (picture() + b"\x00" * (1024 * 1024), "eu.png",
                                 "A imagem passa do limite de 1 MB.")):
        page = send_avatar(agent, data, name)
        assert flashed(message, page.text)
        assert avatar_of(app, "agente-a@example.com") == (key, stored) and stored.is_file()

    page = agent.submit("/admin/account/avatar", {"remove": "1"}, follow_redirects=True)
    assert flashed("Foto removida.", page.text)
    assert avatar_of(app, "agente-a@example.com") == (None, None) and not stored.exists()
    assert 'data-testid="avatar-initials"' in page.text


def test_UX_5_inbox_json_carries_agent_avatars_or_initials(app, world):
    agent = client_as(app, "agente-a@example.com")
    meta = agent.get("/inbox/api/meta").get_json()
    me = meta["user"]["avatar"]
    assert me["url"] is None and me["initials"] == "AA" and me["color"].startswith("#")

    send_avatar(agent, picture(), "eu.png")
    key, _ = avatar_of(app, "agente-a@example.com")
    meta = agent.get("/inbox/api/meta").get_json()
    assert meta["user"]["avatar"]["url"] == f"/media/avatar/{key}"
    listed = {a["id"]: a["avatar"] for a in meta["agents"]}
    assert listed[world["agent_id"]]["url"] == f"/media/avatar/{key}"

    tid = world["ticket_id"]
    resp = agent.post(f"/inbox/api/tickets/{tid}/messages", json={"text": "Olá!"},
                      headers={"X-CSRFToken": agent.csrf_token()})
    assert resp.status_code in (200, 201), resp.text
    detail = agent.get(f"/inbox/api/tickets/{tid}").get_json()
    mine = [m for m in detail["messages"] if m["author_kind"] == "agent"]
    assert mine and mine[-1]["author_avatar"]["url"] == f"/media/avatar/{key}"
    assert all(m["author_avatar"] is None for m in detail["messages"] if m["author_kind"] == "contact")
    assert detail["ticket"]["agent"]["avatar"]["initials"] == "AA"


def test_UX_5_initials_and_colour_are_stable():
    assert images.initials("Ana Maria Souza") == "AS"
    assert images.initials("  joão ") == "J"
    assert images.initials("") == "?"
    assert images.colour("Ana Souza") == images.colour("Ana Souza")


def test_UX_5_admin_sets_a_users_avatar_in_usuarios(app, world, admin_a):
    uid = world["agent_id"]
    form = {"name": "Agente a", "email": "agente-a@example.com", "password": "",
            "group": str(world["group_id"]), "active": "y", "language": "",
            "avatar": (io.BytesIO(b"texto"), "foto.png")}
    page = admin_a.submit(f"/admin/users/edit/?id={uid}", form, content_type="multipart/form-data")
    assert page.status_code == 200 and flashed(NOT_IMAGE, page.text)
    form["avatar"] = (io.BytesIO(picture("WEBP", (64, 64))), "foto.webp")
    resp = admin_a.submit(f"/admin/users/edit/?id={uid}", form, content_type="multipart/form-data")
    assert resp.status_code == 302, flashes(resp.text)
    key, stored = avatar_of(app, "agente-a@example.com")
    assert stored.is_file()
    listing = admin_a.get("/admin/users/").text
    assert f'src="/media/avatar/{key}"' in listing
    assert 'data-testid="avatar-initials"' in listing  # the others: initials

    # deleting the user deletes the picture
    resp = admin_a.submit("/admin/users/delete/", {"id": str(uid)})
    assert resp.status_code == 302 and not stored.exists()
