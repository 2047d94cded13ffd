"""TAG-1 Etiquetas (company tags and "Minhas etiquetas") and RSN-1 Motivos de atendimento."""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models import Company, PermissionGroup, Reason, Tag, User
from tests.conftest import login
from tests.factories import gen_user

COLOR_ERROR = "Cor inválida: use o formato #RRGGBB."


def _admin_group(app, company_id):
    with app.app_context():
        return db.session.scalar(select(PermissionGroup.id).where(
            PermissionGroup.company_id == company_id, PermissionGroup.name == "Administrador"))


@pytest.fixture
def colleague(app, tenants):
    """A second user of company A, with the same rights as the admin."""
    group_id = _admin_group(app, tenants["a"].company_id)
    with app.app_context():
        company = db.session.get(Company, tenants["a"].company_id)
        user = gen_user(company, "colega@example.com", db.session.get(PermissionGroup, group_id),
                        name="Colega")
        db.session.commit()
        user_id = user.id
    client = app.test_client()
    assert login(client, "colega@example.com").status_code == 302
    client.user_id = user_id
    return client


@pytest.fixture
def a_client(app, tenants, client):
    assert login(client, tenants["a"].admin_email).status_code == 302
    return client


def _tags(app, **where):
    with app.app_context():
        q = select(Tag)
        for key, value in where.items():
            q = q.where(getattr(Tag, key) == value)
        return db.session.scalars(q.order_by(Tag.id)).all()


def _tag_count(app):
    with app.app_context():
        return db.session.scalar(select(func.count(Tag.id)))


def _new_tag(client, name, color="#ff8800", personal=False):
    data = {"name": name, "color": color}
    if personal:
        data["personal"] = "y"
    return client.submit("/admin/tags/new/", data)


# --- TAG-1 ----------------------------------------------------------------------------------


def test_TAG_1_company_tag_and_personal_tag_created_through_the_form(app, tenants, a_client):
    a = tenants["a"]
    assert _new_tag(a_client, "Urgente", "#FF0000").status_code == 302
    assert _new_tag(a_client, "Revisar depois", "#00aa00", personal=True).status_code == 302

    (company_tag,) = _tags(app, name="Urgente")
    assert company_tag.company_id == a.company_id and company_tag.owner_id is None
    assert company_tag.color == "#ff0000"  # stored as <input type="color"> sends it
    (mine,) = _tags(app, name="Revisar depois")
    assert mine.company_id == a.company_id and mine.owner_id == a.admin_id

    page = a_client.get("/admin/tags/")
    assert "Urgente" in page.text and "Revisar depois" in page.text
    assert "Minha etiqueta" in page.text and "Etiqueta da empresa" in page.text
    assert 'type="color"' in a_client.get("/admin/tags/new/").text


def test_TAG_1_personal_tags_are_invisible_to_other_users_of_the_company(app, tenants, a_client,
                                                                          colleague):
    _new_tag(a_client, "Etiqueta compartilhada")
    _new_tag(a_client, "Segredo do admin", personal=True)
    (secret,) = _tags(app, name="Segredo do admin")

    listing = colleague.get("/admin/tags/")
    assert "Etiqueta compartilhada" in listing.text
    assert "Segredo do admin" not in listing.text
    assert "Segredo do admin" not in colleague.get("/admin/tags/?search=Segredo").text
    csv = colleague.get("/admin/tags/export/csv/")
    assert csv.status_code == 200
    assert "Etiqueta compartilhada" in csv.text and "Segredo do admin" not in csv.text
    # The owner filter shows only the user's own tags; the company filter never theirs.
    mine = a_client.get("/admin/tags/?flt0_0=mine")
    assert "Segredo do admin" in mine.text and "Etiqueta compartilhada" not in mine.text
    assert "Segredo do admin" not in colleague.get("/admin/tags/?flt0_0=mine").text

    # Forged ids: open, edit, delete (single and bulk) of someone else's personal tag.
    page = colleague.get(f"/admin/tags/edit/?id={secret.id}", follow_redirects=True)
    assert "Segredo do admin" not in page.text
    colleague.submit(f"/admin/tags/edit/?id={secret.id}",
                     {"name": "Roubada", "color": "#000000", "personal": "y"})
    colleague.submit("/admin/tags/delete/", {"id": str(secret.id)})
    colleague.submit("/admin/tags/action/", {"action": "delete", "rowid": str(secret.id)})
    (after,) = _tags(app, id=secret.id)
    assert (after.name, after.owner_id, after.color) == ("Segredo do admin", tenants["a"].admin_id,
                                                         secret.color)

    # The owner still sees and edits it.
    assert "Segredo do admin" in a_client.get(f"/admin/tags/edit/?id={secret.id}").text


def test_TAG_1_same_personal_name_for_two_users_but_company_names_are_unique(app, tenants,
                                                                            a_client, colleague):
    assert _new_tag(a_client, "Retornar", personal=True).status_code == 302
    assert _new_tag(colleague, "Retornar", personal=True).status_code == 302
    assert len(_tags(app, name="Retornar")) == 2

    # the owner's own scope refuses a duplicate, ignoring case
    page = _new_tag(a_client, "RETORNAR", personal=True)
    assert "Já existe uma etiqueta com este nome." in page.text

    assert _new_tag(a_client, "Financeiro").status_code == 302
    before = _tag_count(app)
    for client, name in ((a_client, "financeiro"), (colleague, "FINANCEIRO"),
                         (colleague, "  Financeiro ")):
        page = _new_tag(client, name)
        assert page.status_code == 200
        assert "Já existe uma etiqueta com este nome." in page.text
    assert _tag_count(app) == before
    # A company tag may share a name with someone's personal tag, and another company
    # may have its own "Financeiro".
    assert _new_tag(a_client, "Retornar").status_code == 302
    b_client = app.test_client()
    login(b_client, tenants["b"].admin_email)
    assert _new_tag(b_client, "Financeiro").status_code == 302

    # Renaming onto an existing name is refused too.
    (other,) = _tags(app, name="Retornar", owner_id=None)
    page = a_client.submit(f"/admin/tags/edit/?id={other.id}", {"name": "financeiro",
                                                                 "color": "#ff8800"})
    assert "Já existe uma etiqueta com este nome." in page.text
    assert _tags(app, id=other.id)[0].name == "Retornar"


@pytest.mark.parametrize("color", ["red", "#12345", "#GGGGGG", "#1234567", "#123456\n", ""])
def test_TAG_1_invalid_colours_are_refused(app, tenants, a_client, color):
    before = _tag_count(app)
    page = _new_tag(a_client, "Colorida", color)
    assert page.status_code == 200
    assert COLOR_ERROR in html.unescape(page.text)
    assert _tag_count(app) == before

    tag_id = tenants["a"].ids["tags"]
    page = a_client.submit(f"/admin/tags/edit/?id={tag_id}",
                           {"name": "Etiqueta exclusiva A", "color": color})
    assert COLOR_ERROR in html.unescape(page.text)
    assert _tags(app, id=tag_id)[0].color == "#3366cc"


def test_TAG_1_tag_name_is_escaped_in_the_list(app, tenants, a_client):
    assert _new_tag(a_client, "<b>x</b>", "#123abc").status_code == 302
    page = a_client.get("/admin/tags/")
    assert "<b>x</b>" not in page.text
    assert "&lt;b&gt;x&lt;/b&gt;" in page.text
    assert "background-color:#123abc" in page.text  # the colour swatch


def test_TAG_1_personal_flag_is_kept_on_edit_and_owner_is_never_taken_from_the_form(
        app, tenants, a_client, colleague):
    _new_tag(a_client, "Particular", personal=True)
    (tag,) = _tags(app, name="Particular")
    form = a_client.get(f"/admin/tags/edit/?id={tag.id}").text
    (box,) = re.findall(r'<input[^>]*id="personal"[^>]*>', form)
    assert "checked" in box
    # A forged owner_id in the post is ignored: the owner is the logged-in user.
    a_client.submit("/admin/tags/new/", {"name": "Forjada", "color": "#101010", "personal": "y",
                                         "owner_id": str(colleague.user_id),
                                         "owner": str(colleague.user_id)})
    (forged,) = _tags(app, name="Forjada")
    assert forged.owner_id == tenants["a"].admin_id


def test_TAG_1_deleting_a_user_removes_their_personal_tags(app, tenants, a_client, colleague):
    _new_tag(colleague, "Da colega", personal=True)
    assert len(_tags(app, name="Da colega")) == 1
    assert a_client.submit("/admin/users/delete/", {"id": str(colleague.user_id)}).status_code == 302
    with app.app_context():
        assert db.session.get(User, colleague.user_id) is None
    assert _tags(app, name="Da colega") == []


# --- RSN-1 ----------------------------------------------------------------------------------


def _reasons(app, **where):
    with app.app_context():
        q = select(Reason)
        for key, value in where.items():
            q = q.where(getattr(Reason, key) == value)
        return db.session.scalars(q.order_by(Reason.id)).all()


def test_RSN_1_create_search_and_filter_reasons(app, tenants, a_client):
    a = tenants["a"]
    resp = a_client.submit("/admin/reasons/new/", {"name": "Dúvida sobre boleto",
                                                   "description": "Cliente não recebeu o boleto",
                                                   "active": "y"})
    assert resp.status_code == 302
    resp = a_client.submit("/admin/reasons/new/", {"name": "Cancelamento",
                                                   "description": "Pedido de cancelamento"})
    assert resp.status_code == 302  # unchecked box: inactive
    (boleto,) = _reasons(app, name="Dúvida sobre boleto")
    (cancel,) = _reasons(app, name="Cancelamento")
    assert boleto.company_id == a.company_id and boleto.active is True
    assert cancel.active is False

    by_name = a_client.get("/admin/reasons/?search=boleto").text
    assert "Dúvida sobre boleto" in by_name and "Cancelamento" not in by_name
    by_description = a_client.get("/admin/reasons/?search=pedido").text
    assert "Cancelamento" in by_description and "Dúvida sobre boleto" not in by_description

    # filter "Ativo" (the only filter for now; the department filter comes with DEP-1)
    active = a_client.get("/admin/reasons/?flt0_0=1").text
    assert "Dúvida sobre boleto" in active and "Cancelamento" not in active
    inactive = a_client.get("/admin/reasons/?flt0_0=0").text
    assert "Cancelamento" in inactive and "Dúvida sobre boleto" not in inactive


def test_RSN_1_duplicate_reason_name_is_refused(app, tenants, a_client):
    assert a_client.submit("/admin/reasons/new/", {"name": "Suporte técnico",
                                                   "active": "y"}).status_code == 302
    for name in ("Suporte técnico", "SUPORTE TÉCNICO", " suporte técnico "):
        page = a_client.submit("/admin/reasons/new/", {"name": name, "active": "y"})
        assert page.status_code == 200
        assert "Já existe um motivo com este nome." in page.text
    assert len(_reasons(app, company_id=tenants["a"].company_id)) == 2  # fixture's + ours

    # renaming onto an existing name is refused; another company may use the name
    rid = tenants["a"].ids["reasons"]
    page = a_client.submit(f"/admin/reasons/edit/?id={rid}", {"name": "suporte técnico"})
    assert "Já existe um motivo com este nome." in page.text
    assert _reasons(app, id=rid)[0].name == "Motivo exclusivo A"
    b_client = app.test_client()
    login(b_client, tenants["b"].admin_email)
    assert b_client.submit("/admin/reasons/new/", {"name": "Suporte técnico"}).status_code == 302
