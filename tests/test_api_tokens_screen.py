"""TOK-1 "Tokens de API": shown once, kept hashed, only API groups (PLT-3) of the company
(PLT-1), allowed IPs checked line by line, revoked or expired tokens refused at once."""
from __future__ import annotations

import html
import json
import re
from datetime import datetime

import pytest
from sqlalchemy import func, select

from backoffice import permissions
from backoffice.extensions import db
from backoffice.models import AuditLog, Company, PermissionGroup
from backoffice.models.api import ApiToken
from backoffice.services import api_tokens
from tests.conftest import client_as, flashes
from tests.factories import gen_group, gen_user

SHOWN = re.compile(r"Copie este token agora: <code>(atd_[A-Za-z0-9_-]+)</code> "
                   r"Ele não será mostrado de novo.")
URL = "/admin/api_tokens/"


def _group_id(app, company_id, kind=permissions.KIND_API) -> int:
    with app.app_context():
        return db.session.scalar(select(PermissionGroup.id).where(
            PermissionGroup.company_id == company_id, PermissionGroup.kind == kind))


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(ApiToken.id)))


def _create(client, group_id, **fields):
    data = {"name": "ERP da loja", "group": str(group_id), "ip_list": "", **fields}
    return client.submit(f"{URL}new/", data)


def _authenticate(app, raw, address="203.0.113.7"):
    with app.app_context():
        return api_tokens.authenticate(f"Bearer {raw}", address).id


@pytest.fixture
def a_client(app, tenants):
    return client_as(app, tenants["a"].admin_email)


def test_TOK_1_token_is_shown_once_and_only_its_hash_is_kept(app, tenants, a_client):
    page = _create(a_client, _group_id(app, tenants["a"].company_id),
                   ip_list="203.0.113.0/24\n2001:db8::1")
    assert page.status_code == 200, flashes(page.text)
    assert page.headers["Cache-Control"] == "no-store"
    (raw,) = SHOWN.findall(page.text)
    assert "Authorization: Bearer &lt;token&gt;" in page.text and 'href="/api/docs"' in page.text
    with app.app_context():
        token = db.session.scalar(select(ApiToken).where(ApiToken.name == "ERP da loja"))
        assert token.token_hash == api_tokens.digest(raw) and token.prefix == raw[:10]
        assert raw not in repr([getattr(token, c.key) for c in ApiToken.__table__.columns])
        assert token.allowed_ips == ["203.0.113.0/24", "2001:db8::1"]
        token_id = token.id
        entry = db.session.scalar(select(AuditLog).where(AuditLog.table == "api_token",
                                                         AuditLog.row_id == str(token_id)))
        assert entry.changes["token_hash"] == [None, "***"]
        assert raw not in str(entry.changes) and token.token_hash not in str(entry.changes)
    assert _authenticate(app, raw) == token_id
    # never again: list, details, edit form, export, audit log
    listing = a_client.get(URL)
    assert f"{raw[:10]}…" in listing.text and "Ativo" in listing.text
    for url in (URL, f"{URL}details/?id={token_id}", f"{URL}edit/?id={token_id}",
                f"{URL}export/csv/", "/admin/audit/", f"/admin/audit/details/?id={entry.id}"):
        response = a_client.get(url)
        assert response.status_code == 200, url
        assert raw not in response.text and raw[10:30] not in response.text, url
    # an edit changes what a person chooses, never the token (a forged field is ignored)
    edited = a_client.submit(f"{URL}edit/?id={token_id}", {
        "name": "ERP novo", "group": str(_group_id(app, tenants["a"].company_id)),
        "ip_list": "203.0.113.9", "token_hash": "0" * 64, "prefix": "atd_forjado"})
    assert edited.status_code == 302, flashes(edited.text)
    with app.app_context():
        token = db.session.get(ApiToken, token_id)
        assert (token.name, token.allowed_ips) == ("ERP novo", ["203.0.113.9"])
        assert token.token_hash == api_tokens.digest(raw) and token.prefix == raw[:10]


def test_PLT_3_only_the_company_s_api_groups_are_offered(app, tenants, a_client):
    a, b = tenants["a"], tenants["b"]
    api_group, system_group = _group_id(app, a.company_id), _group_id(
        app, a.company_id, permissions.KIND_SYSTEM)
    form = a_client.get(f"{URL}new/").text
    offered = re.findall(r'<option[^>]*value="(\d+)"', form)
    assert offered == [str(api_group)]
    before = _count(app)
    # PLT-1: another company's API group, and a system group of one's own: refused
    for forged in (_group_id(app, b.company_id), system_group):
        page = _create(a_client, forged)
        assert page.status_code == 200 and not SHOWN.search(page.text)
        assert "Escolha inválida" in page.text
    assert _count(app) == before
    # no API group at all: a Portuguese pointer to Permissões instead of an empty list
    with app.app_context():
        db.session.get(PermissionGroup, api_group).kind = permissions.KIND_SYSTEM
        db.session.commit()
    form = a_client.get(f"{URL}new/").text
    assert "ainda não tem um grupo de permissões do tipo API" in form
    assert 'href="/admin/groups/new/"' in form


def test_TOK_1_bad_ip_lines_and_past_expiry_save_nothing(app, tenants, a_client, timeline):
    group = _group_id(app, tenants["a"].company_id)
    before = _count(app)
    page = _create(a_client, group, ip_list="10.0.0.1\nnão-é-ip\n\n300.1.1.1/8")
    assert "Linha 2: &#39;não-é-ip&#39; não é um IP ou bloco CIDR válido." in page.text
    assert "Linha 4: &#39;300.1.1.1/8&#39;" in page.text
    assert "não-é-ip" in page.text.split('name="ip_list"', 1)[1][:300]  # what was typed stays
    page = _create(a_client, group, expiry_date="2026-11-30", expiry_time="10:00")
    assert "A validade precisa ser uma data futura." in page.text
    assert not SHOWN.search(page.text) and _count(app) == before


def test_TOK_1_revoked_token_is_refused_at_once(app, tenants, a_client):
    a = tenants["a"]
    with app.app_context():
        token, raw = api_tokens.issue(a.company_id, "n8n", _group_id(app, a.company_id))
        db.session.commit()
        token_id = token.id
    assert _authenticate(app, raw) == token_id
    # PLT-1: another company's admin cannot revoke it
    b_client = client_as(app, tenants["b"].admin_email)
    b_client.submit(f"{URL}action/", {"action": "revoke", "rowid": str(token_id)})
    assert _authenticate(app, raw) == token_id
    listing = a_client.get(URL).text
    confirmations = json.loads(html.unescape(re.search(
        r'id="actions-confirmation-data"[^>]*>(.*?)</div>', listing).group(1)))
    assert confirmations["revoke"] == ("Revogar os tokens selecionados? As integrações que "
                                       "os usam deixam de funcionar na hora.")
    details = f"{URL}details/?id={token_id}"
    assert 'data-testid="revoke-token"' in a_client.get(details).text
    done = a_client.submit(f"{URL}action/", {"action": "revoke", "rowid": str(token_id),
                                             "url": details}, follow_redirects=True)
    assert "1 token(s) revogado(s)." in done.text and "Revogado" in done.text
    assert done.request.path == f"{URL}details/"  # back where the button was
    assert 'data-testid="revoke-token"' not in done.text
    with pytest.raises(api_tokens.TokenRefused):
        _authenticate(app, raw)
    with app.app_context():
        entry = db.session.scalar(select(AuditLog).where(
            AuditLog.table == "api_token", AuditLog.action == "update"))
        assert list(entry.changes) == ["revoked_at"]


def test_PLT_3_a_group_live_tokens_use_is_neither_deleted_nor_made_a_system_group(app, tenants,
                                                                                  a_client):
    a = tenants["a"]
    group_id = _group_id(app, a.company_id)
    with app.app_context():
        api_tokens.issue(a.company_id, "n8n", group_id)
        db.session.commit()
        token_ids = [t.id for t in api_tokens.tokens_of(db.session.get(PermissionGroup, group_id))]
    refused = a_client.submit("/admin/groups/delete/", {"id": str(group_id)}, follow_redirects=True)
    assert ("Este grupo é usado por tokens de API. Troque o grupo deles ou revogue-os antes de "
            "excluí-lo.") in " ".join(flashes(refused.text))
    assert _group_id(app, a.company_id) == group_id
    for token_id in token_ids:
        a_client.submit(f"{URL}action/", {"action": "revoke", "rowid": str(token_id)})
    with app.app_context():
        assert api_tokens.tokens_of(db.session.get(PermissionGroup, group_id)) == []
    a_client.submit("/admin/groups/delete/", {"id": str(group_id)})
    with app.app_context():
        assert db.session.get(PermissionGroup, group_id) is None


def test_TOK_1_expired_token_is_refused(app, tenants, a_client, timeline):
    """Expiry typed on the company's wall clock (São Paulo, UTC-3), refused once past."""
    page = _create(a_client, _group_id(app, tenants["a"].company_id),
                   expiry_date="2026-12-02", expiry_time="10:00")
    (raw,) = SHOWN.findall(page.text)
    with app.app_context():
        token = db.session.scalar(select(ApiToken).where(ApiToken.name == "ERP da loja"))
        assert token.expires_at == datetime(2026, 12, 2, 13, 0)
    assert _authenticate(app, raw)
    timeline.set(datetime(2026, 12, 2, 13, 1))
    with pytest.raises(api_tokens.TokenRefused):
        _authenticate(app, raw)
    assert "Expirado" in a_client.get(URL).text


def test_PLT_3_without_the_tokens_right_the_screen_is_403(app, tenants):
    a = tenants["a"]
    with app.app_context():
        company = db.session.get(Company, a.company_id)
        gen_user(company, "sem-tokens@example.com", gen_group(company, "Sem tokens",
                                                              ["webhooks.view"]))
        gen_user(company, "so-ve@example.com", gen_group(company, "Só vê", ["api_tokens.view"]))
        db.session.commit()
    token_id = a.ids["api_tokens"]
    none = client_as(app, "sem-tokens@example.com")
    for url in (URL, f"{URL}new/", f"{URL}details/?id={token_id}"):
        assert none.get(url).status_code == 403, url
    assert none.submit(f"{URL}action/", {"action": "revoke", "rowid": str(token_id)}
                       ).status_code == 403
    viewer = client_as(app, "so-ve@example.com")
    assert "Revogar" not in viewer.get(f"{URL}details/?id={token_id}").text
    viewer.submit(f"{URL}action/", {"action": "revoke", "rowid": str(token_id)})
    with app.app_context():
        assert db.session.get(ApiToken, token_id).revoked_at is None
