"""PLT-1 / issue 11: one JSON API kit (backoffice.web.api) for the inbox, the pauses and
the website chat, strict typed request bodies, and the inbox split by resource."""
from __future__ import annotations

from pathlib import Path

import pytest

import backoffice
from backoffice.services import RuleError
from backoffice.services.inbox import (
    BulkInput, CloseInput, FavouriteInput, SendInput, TagsInput, TransferInput,
)
from backoffice.web import api

PACKAGE = Path(backoffice.__file__).resolve().parent


def test_PLT_arch_one_api_error_for_inbox_presence_and_webchat():
    from backoffice import presence_views
    from backoffice.inbox import common
    from backoffice.webchat import views as webchat_views

    assert webchat_views.ApiError is api.ApiError
    assert common.ApiError is api.ApiError
    # the pauses answer through the kit, not a helper of their own
    assert not hasattr(presence_views, "_error")
    for name in ("errors.py", "downloads.py", "uploads.py"):
        assert not (PACKAGE / name).exists() and (PACKAGE / "web" / name).is_file()


def test_PLT_arch_inbox_views_split_by_resource():
    inbox = PACKAGE / "inbox"
    assert not (inbox / "views.py").exists()
    for name in ("pages.py", "api_tickets.py", "api_messages.py", "api_meta.py"):
        lines = (inbox / name).read_text(encoding="utf-8").count("\n")
        assert lines < 250, name


def _refused(app, build, body) -> str:
    """The rule's refusal (a RuleError, which the JSON routes' guard answers with a 400:
    test_inbox_api checks that end to end)."""
    with app.test_request_context():
        with pytest.raises(RuleError) as caught:
            build(api.Fields(body, True))
    return str(caught.value)


def test_PLT_1_request_bodies_refuse_malformed_fields_in_portuguese(app):
    assert _refused(app, TransferInput.from_body, {"department_id": "1 or 1=1"}) == "Departamento inválido."
    assert _refused(app, TransferInput.from_body, {"agent_id": 2**31}) == "Atendente inválido."
    assert _refused(app, CloseInput.from_body, {"reason_id": True}) == "Motivo inválido."
    assert _refused(app, CloseInput.from_body, {"note": ["x"]}) == "Campo note inválido."
    assert _refused(app, SendInput.from_body, {"tags": "1"}) == "Campo tags inválido: envie uma lista."
    assert _refused(app, SendInput.from_body, {"template_id": 1.5}) == "Resposta rápida inválida."
    assert _refused(app, TagsInput.from_body, {"tag_ids": ["a"]}) == "Etiquetas inválidas."
    assert _refused(app, FavouriteInput.from_body, {}) == "Informe o valor (value)."
    assert _refused(app, FavouriteInput.from_body, {"value": "talvez"}) == "Valor inválido: use verdadeiro ou falso."
    assert _refused(app, BulkInput.from_body, {"action": "delete", "ids": [1]}) == "Ação inválida: use close ou transfer."
    assert _refused(app, BulkInput.from_body, {"action": "close", "ids": list(range(1, 202))}) == "Selecione no máximo 200 atendimentos por vez."


def test_PLT_1_request_bodies_read_well_formed_fields(app):
    with app.test_request_context():
        body = api.Fields({"department_id": "3", "agent_id": 4, "observation": "a\x00b",
                           "reason_id": "", "note": "fim", "tags": [5, "5", 6],
                           "text": "oi", "action": "transfer", "ids": ["7", 8]}, True)
        assert TransferInput.from_body(body).fields() == {
            "department_id": 3, "agent_id": 4, "observation": "ab"}
        assert CloseInput.from_body(body).fields() == {
            "reason_id": None, "farewell_id": None, "note": "fim"}
        assert SendInput.from_body(body) == SendInput(text="oi", tag_ids=[5, 6], template_id=None)
        bulk = BulkInput.from_body(body)
        assert (bulk.action, bulk.ids, bulk.fields["department_id"]) == ("transfer", [7, 8], 3)
