"""UX-4 / SEC-7 / SCL-2: an admin form whose save fails for a reason that is not the user's
says so in Portuguese and keeps what was typed; the exception's own text (SQL, values,
English) never reaches the page (backoffice/admin/base.SecureModelView.handle_view_exception).

Before, Flask-Admin flashed "Falha ao criar o registro." followed by str(exc): for a
database error, the statement and its parameters.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from backoffice.admin import base
from backoffice.extensions import db
from backoffice.models import Tag
from tests.conftest import flashes, login

SECRET = "SELECT segredo FROM tabela_interna"
GENERIC = ("Não foi possível concluir a operação. A equipe foi avisada; tente novamente em "
           "instantes.")
DATABASE_AWAY = ("O banco de dados ficou indisponível por um instante e nada foi salvo. "
                 "Tente de novo.")


@pytest.fixture
def a_client(app, tenants, client):
    assert login(client, tenants["a"].admin_email).status_code == 302
    return client


def _tags(app, name: str) -> int:
    with app.app_context():
        found = db.session.scalar(select(func.count(Tag.id)).where(Tag.name == name))
        db.session.remove()
    return found


def _failing(monkeypatch, exc: Exception) -> None:
    def fail(*_args, **_kwargs):
        raise exc

    monkeypatch.setattr(base.SecureModelView, "on_model_change", fail)
    monkeypatch.setattr(base.SecureModelView, "on_model_delete", fail)


def _shown(response) -> str:
    return " ".join(flashes(response.get_data(as_text=True)))


def test_UX_4_a_failing_save_says_so_in_portuguese_keeps_the_form_and_hides_the_error(
        app, a_client, monkeypatch, caplog):
    _failing(monkeypatch, RuntimeError(f"defeito: {SECRET}"))
    r = a_client.submit("/admin/tags/new/", {"name": "Cliente VIP", "color": "#ff0000"})
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert GENERIC in _shown(r)
    assert SECRET not in page and "defeito" not in page and "Falha ao" not in page
    assert 'value="Cliente VIP"' in page  # what was typed is still in the form
    assert _tags(app, "Cliente VIP") == 0
    assert any(r.exc_info and "admin operation failed" in r.getMessage() for r in caplog.records)


def test_SCL_2_a_save_that_meets_a_database_restart_says_nothing_was_saved(app, a_client,
                                                                           monkeypatch):
    lost = OperationalError(f"INSERT INTO tag ... {SECRET}", {"name": "Cliente VIP"},
                            Exception("terminating connection due to administrator command"),
                            connection_invalidated=True)
    _failing(monkeypatch, lost)
    r = a_client.submit("/admin/tags/new/", {"name": "Cliente VIP", "color": "#ff0000"})
    assert r.status_code == 200
    assert DATABASE_AWAY in _shown(r)
    assert SECRET not in r.get_data(as_text=True)
    assert 'value="Cliente VIP"' in r.get_data(as_text=True)
    monkeypatch.undo()
    assert a_client.submit("/admin/tags/new/", {"name": "Cliente VIP",
                                                "color": "#ff0000"}).status_code == 302
    assert _tags(app, "Cliente VIP") == 1


def test_UX_4_a_failing_delete_says_so_in_portuguese_and_deletes_nothing(app, a_client,
                                                                        monkeypatch):
    assert a_client.submit("/admin/tags/new/", {"name": "Antiga",
                                                "color": "#00ff00"}).status_code == 302
    with app.app_context():
        tag_id = db.session.scalar(select(Tag.id).where(Tag.name == "Antiga"))
    _failing(monkeypatch, RuntimeError(f"defeito: {SECRET}"))
    r = a_client.submit("/admin/tags/delete/", {"id": str(tag_id)}, follow_redirects=True)
    assert GENERIC in _shown(r)
    assert SECRET not in r.get_data(as_text=True)
    assert _tags(app, "Antiga") == 1
