"""Departamentos (DEP-1..DEP-8), message variables (DEP-8) and reasons by department (RSN-1)."""
from __future__ import annotations

import html
import re
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from backoffice.admin.catalog import ReasonDepartmentFilter
from backoffice.extensions import db
from backoffice.models import Company, Department, DepartmentMember, Reason, User
from backoffice.services import messages
from tests.conftest import flashes, login
from tests.factories import gen_department, gen_user

VALID = "{{nome_cliente}}, {{protocolo}}, {{nome_atendente}}, {{departamento}}, {{empresa}}, " \
        "{{data}}, {{hora}}"


@pytest.fixture
def admin_a(app, tenants, client):
    assert login(client, tenants["a"].admin_email).status_code == 302
    return client


def _counts(app):
    with app.app_context(), db.session.no_autoflush:
        return (db.session.scalar(select(func.count()).select_from(Department)),
                db.session.scalar(select(func.count()).select_from(DepartmentMember)))


def _dept(app, dept_id):
    with app.app_context():
        d = db.session.get(Department, dept_id)
        db.session.expunge_all()
        return d


def _snapshot(app, dept_id):
    """Every column of the department and its members, to prove nothing was written."""
    with app.app_context():
        d = db.session.get(Department, dept_id)
        cols = {c.key: getattr(d, c.key) for c in Department.__mapper__.column_attrs}
        members = [(m.user_id, m.receives_tickets, m.responsible) for m in d.members]
        return cols, members


TEXT_FIELDS = ("survey_flow", "survey_timeout_message", "survey_max_inactivity_minutes",
               "close_queue_after_minutes", "close_queue_message",
               "close_in_progress_after_minutes", "close_in_progress_message",
               "on_start_text", "on_transfer_text", "on_close_text", "overflow_department")


def _edit_form(name="Departamento exclusivo A", **extra):
    """A full edit form as the browser sends it: text boxes always (empty or not),
    checked boxes only."""
    data = {"name": name, "description": "Setor de testes", "active": "True", "order": "1"}
    data.update({f: "" for f in TEXT_FIELDS}, overflow_department="__None")
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def _edit(client, dept_id, **extra):
    return client.submit(f"/admin/departments/edit/?id={dept_id}", _edit_form(**extra))


# --- DEP-1: main data and order --------------------------------------------------------


def test_DEP_1_order_left_empty_is_filled_with_the_next_order_of_the_company(app, tenants, admin_a):
    with app.app_context():
        b = db.session.get(Company, tenants["b"].company_id)
        gen_department(b, "Departamento alto B", order=50)  # other company: must not count
        db.session.commit()
    resp = admin_a.submit("/admin/departments/new/", {"name": "Financeiro", "active": "True",
                                                      "order": ""})
    assert resp.status_code == 302, flashes(resp.text)
    resp = admin_a.submit("/admin/departments/new/", {"name": "Suporte", "active": "True",
                                                      "order": "7"})
    assert resp.status_code == 302, flashes(resp.text)
    resp = admin_a.submit("/admin/departments/new/", {"name": "Vendas", "active": "False"})
    assert resp.status_code == 302, flashes(resp.text)
    with app.app_context():
        rows = dict(db.session.execute(select(Department.name, Department.order).where(
            Department.company_id == tenants["a"].company_id)).all())
        assert rows == {"Departamento exclusivo A": 1, "Financeiro": 2, "Suporte": 7, "Vendas": 8}
        vendas = db.session.scalar(select(Department).where(Department.name == "Vendas"))
        assert vendas.active is False and vendas.company_id == tenants["a"].company_id


def test_DEP_1_list_by_order_then_name_with_status_search_and_filter(app, tenants, admin_a):
    with app.app_context():
        a = db.session.get(Company, tenants["a"].company_id)
        gen_department(a, "Zulu Setor", order=0)
        gen_department(a, "Bravo Setor", order=5, active=False)
        gen_department(a, "Delta Setor", order=5)
        db.session.commit()
    page = admin_a.get("/admin/departments/").text
    table = page[page.index("<table"):]
    names = re.findall(r"(\w+ Setor|Departamento exclusivo A)", table)
    assert names == ["Zulu Setor", "Departamento exclusivo A", "Bravo Setor", "Delta Setor"]
    assert "INATIVO" in page and "ATIVO" in page
    found = admin_a.get("/admin/departments/?search=zulu").text
    assert "Zulu Setor" in found and "Delta Setor" not in found
    inactive = admin_a.get("/admin/departments/?flt0_0=0").text
    assert "Bravo Setor" in inactive and "Delta Setor" not in inactive and "Zulu" not in inactive
    active = admin_a.get("/admin/departments/?flt0_0=1").text
    assert "Bravo Setor" not in active and "Delta Setor" in active


def test_DEP_1_departments_of_another_company_are_invisible(app, tenants, admin_a):
    page = admin_a.get("/admin/departments/").text
    assert "Departamento exclusivo A" in page and "Departamento exclusivo B" not in page
    edit = admin_a.get(f"/admin/departments/edit/?id={tenants['b'].ids['departments']}",
                       follow_redirects=True).text
    assert "Departamento exclusivo B" not in edit


# --- DEP-3: the other tabs open after the main tab is saved ---------------------------


OTHER_TABS = ("Parâmetros", "Membros", "Inatividade", "Mensagens de ação", "Telefonia")
OTHER_FIELDS = ("notify_on_ticket", "survey_flow", "close_queue_after_minutes", "on_start_text",
                "overflow_enabled", "members")


def _tab_titles(page: str) -> list[str]:
    """The titles of the form's tabs that open a pane (UX-5), in order."""
    return re.findall(r'<a class="nav-link[^"]*" id="tab-\w+-link" data-toggle="tab"[^>]*>([^<]+)</a>',
                      page)


def test_DEP_3_create_form_shows_the_main_tab_only(admin_a):
    page = admin_a.get("/admin/departments/new/").text
    for name in ("name", "description", "active", "order"):
        assert f'name="{name}"' in page, name
    assert "Principal" in page and "ATIVO" in page and "INATIVO" in page
    for name in OTHER_FIELDS:
        assert f'name="{name}"' not in page and f'id="{name}"' not in page, name
    # UX-5: the other tabs are shown, locked until the main tab is saved
    assert _tab_titles(page) == ["Principal"]
    for title in OTHER_TABS:
        assert re.search(rf'<span class="nav-link disabled" aria-disabled="true"[^>]*>{title}</span>',
                         page), title


def test_DEP_3_saving_the_main_tab_opens_the_edit_form_with_every_tab(app, tenants, admin_a):
    resp = admin_a.submit("/admin/departments/new/", {
        "name": "Financeiro", "description": "Contas a receber", "active": "True",
        # fields of other tabs sent on create are ignored: those tabs are not open yet
        "reason_required_to_close": "y", "on_start_text": "{{inexistente}}",
    })
    assert resp.status_code == 302, flashes(resp.text)
    with app.app_context():
        dept = db.session.scalar(select(Department).where(Department.name == "Financeiro"))
        assert dept.reason_required_to_close is False and dept.on_start_text is None
        assert dept.receives_tickets is True  # default of a new department
        dept_id = dept.id
    assert f"/admin/departments/edit/?id={dept_id}" in resp.headers["Location"]
    page = admin_a.get(resp.headers["Location"]).text
    assert "As abas Parâmetros, Membros, Inatividade, Mensagens de ação e Telefonia já estão " \
           "disponíveis." in html.unescape(page)
    assert _tab_titles(page) == ["Principal", *OTHER_TABS]
    for name in OTHER_FIELDS + ("name", "order"):
        assert f'name="{name}"' in page or f'id="{name}"' in page, name
    # the variables are listed, with their meaning, next to the messages
    assert "<code>{{nome_cliente}}</code> — Nome do cliente" in page
    assert "<code>{{hora}}</code> — Hora atual (hh:mm)" in page


def test_UX_5_department_form_has_tabs_one_variables_help_and_a_save_bar(tenants, admin_a):
    dept_id = tenants["a"].ids["departments"]
    page = admin_a.get(f"/admin/departments/edit/?id={dept_id}").text
    assert _tab_titles(page) == ["Principal", *OTHER_TABS]
    # each field in its tab's pane; Principal open first
    panes = dict(re.findall(r'<div class="tab-pane[^"]*" id="tab-(\w+)"[^>]*>(.*?)(?=<div class="tab-pane|\Z)',
                            page, re.S))
    assert 'id="tab-principal-link" data-toggle="tab" href="#tab-principal" role="tab" ' \
           'aria-controls="tab-principal" aria-selected="true"' in page
    for key, name in (("principal", "name"), ("parametros", "survey_flow"),
                      ("parametros", "period"), ("membros", "members"),
                      ("inatividade", "close_queue_after_minutes"),
                      ("mensagens", "on_start_text"), ("telefonia", "overflow_enabled")):
        assert f'name="{name}"' in panes[key] or f'id="{name}"' in panes[key], (key, name)
    # the variables, once per form, not under every message field
    assert page.count('data-testid="variables-help"') == 1
    assert page.count("<code>{{nome_cliente}}</code>") == 1
    assert 'data-testid="save-bar"' in page


def test_UX_5_a_field_with_an_error_opens_its_tab(tenants, admin_a):
    dept_id = tenants["a"].ids["departments"]
    resp = _edit(admin_a, dept_id, close_queue_after_minutes="0")
    assert resp.status_code == 200
    page = resp.text
    assert re.search(r'<a class="nav-link active has-error" id="tab-inatividade-link"', page)
    assert re.search(r'<div class="tab-pane active" id="tab-inatividade"', page)
    assert '<div class="tab-pane" id="tab-principal"' in page
    assert "Informe um número inteiro de minutos entre 1 e" in page


# --- DEP-2: parameters -----------------------------------------------------------------------


def test_DEP_2_parameters_are_saved(app, tenants, admin_a):
    dept_id = tenants["a"].ids["departments"]
    resp = _edit(admin_a, dept_id, notify_on_ticket="y", reason_required_to_close="y",
                 observation_required_on_transfer="y", direct_to_wallet_agent="y",
                 survey_enabled="y", survey_flow="De 1 a 5, como foi o atendimento?",
                 survey_timeout_message="{{nome_cliente}}, a pesquisa foi encerrada.",
                 survey_max_inactivity_minutes="30")
    assert resp.status_code == 302, flashes(resp.text)
    d = _dept(app, dept_id)
    assert (d.notify_on_ticket, d.reason_required_to_close, d.receives_tickets,
            d.observation_required_on_transfer, d.direct_to_wallet_agent, d.survey_enabled) == \
        (True, True, False, True, True, True)
    assert d.survey_flow == "De 1 a 5, como foi o atendimento?"
    assert d.survey_timeout_message == "{{nome_cliente}}, a pesquisa foi encerrada."
    assert d.survey_max_inactivity_minutes == 30
    # and off again
    resp = _edit(admin_a, dept_id, receives_tickets="y")
    assert resp.status_code == 302, flashes(resp.text)
    d = _dept(app, dept_id)
    assert (d.notify_on_ticket, d.reason_required_to_close, d.receives_tickets, d.survey_enabled) \
        == (False, False, True, False)


def test_DEP_2_survey_on_needs_its_flow(app, tenants, admin_a):
    dept_id = tenants["a"].ids["departments"]
    before = _snapshot(app, dept_id)
    page = _edit(admin_a, dept_id, survey_enabled="y", survey_flow="  ")
    assert page.status_code == 200
    assert "Com a pesquisa de satisfação ativa, informe o fluxo da pesquisa." in page.text
    assert _snapshot(app, dept_id) == before


# --- DEP-4: members --------------------------------------------------------------------------


def test_DEP_4_members_with_their_flags(app, tenants, admin_a):
    a = tenants["a"]
    dept_id = a.ids["departments"]
    with app.app_context():
        company = db.session.get(Company, a.company_id)
        maria = gen_user(company, "maria@example.com", name="Maria Souza")
        db.session.commit()
        maria_id = maria.id
        existing = db.session.get(Department, dept_id).members[0]
        existing_id, agent_id = existing.id, existing.user_id
    page = admin_a.get(f"/admin/departments/edit/?id={dept_id}").text
    assert "Maria Souza" in page and "Agente Exclusivo A" in page
    assert "Agente Exclusivo B" not in page  # users of another company are not offered
    assert "Recebe atendimento neste departamento" in page and "Responsável pelo departamento" in page
    resp = _edit(admin_a, dept_id, **{
        "members-0-id": str(existing_id), "members-0-user": str(agent_id),
        "members-0-responsible": "y",  # no longer receives tickets
        "members-1-user": str(maria_id), "members-1-receives_tickets": "y",
    })
    assert resp.status_code == 302, flashes(resp.text)
    with app.app_context():
        rows = sorted((m.user_id, m.receives_tickets, m.responsible, m.company_id)
                      for m in db.session.get(Department, dept_id).members)
        assert rows == sorted([(agent_id, False, True, a.company_id),
                               (maria_id, True, False, a.company_id)])
        maria_member = next(m.id for m in db.session.get(Department, dept_id).members
                            if m.user_id == maria_id)
    # remove a member
    resp = _edit(admin_a, dept_id, **{
        "members-0-id": str(existing_id), "members-0-user": str(agent_id),
        "members-1-id": str(maria_member), "members-1-user": str(maria_id),
        "del-members-1": "on",
    })
    assert resp.status_code == 302, flashes(resp.text)
    with app.app_context():
        assert [m.user_id for m in db.session.get(Department, dept_id).members] == [agent_id]


def test_DEP_4_the_same_user_twice_is_refused(app, tenants, admin_a):
    dept_id = tenants["a"].ids["departments"]
    with app.app_context():
        member = db.session.get(Department, dept_id).members[0]
        member_id, agent_id = member.id, member.user_id
    before = _snapshot(app, dept_id)
    page = _edit(admin_a, dept_id, **{
        "members-0-id": str(member_id), "members-0-user": str(agent_id),
        "members-1-user": str(agent_id), "members-1-receives_tickets": "y",
    })
    assert page.status_code == 200
    assert "O usuário Agente Exclusivo A foi adicionado mais de uma vez aos membros." in page.text
    assert _snapshot(app, dept_id) == before


def test_DEP_4_a_user_of_another_company_cannot_be_a_member(app, tenants, admin_a):
    dept_id = tenants["a"].ids["departments"]
    before, counts = _snapshot(app, dept_id), _counts(app)
    page = _edit(admin_a, dept_id, **{"members-0-user": str(tenants["b"].ids["users"])})
    assert page.status_code == 200
    assert "não pertence à sua empresa" in page.text
    assert _snapshot(app, dept_id) == before and _counts(app) == counts


def test_DEP_4_deleting_a_user_removes_their_memberships(app, tenants):
    with app.app_context():
        user = db.session.get(User, tenants["a"].ids["users"])
        db.session.delete(user)
        db.session.commit()
        assert not db.session.get(Department, tenants["a"].ids["departments"]).members


# --- DEP-5: inactivity -------------------------------------------------------------------


def test_DEP_5_inactivity_minutes_and_messages_are_saved(app, tenants, admin_a):
    dept_id = tenants["a"].ids["departments"]
    resp = _edit(admin_a, dept_id, receives_tickets="y",
                 close_queue_after_minutes="60",
                 close_queue_message="Encerramos por falta de interação. Protocolo {{protocolo}}.",
                 close_in_progress_after_minutes="15",
                 close_in_progress_message="{{ nome_cliente }}, encerramos o atendimento.")
    assert resp.status_code == 302, flashes(resp.text)
    d = _dept(app, dept_id)
    assert (d.close_queue_after_minutes, d.close_in_progress_after_minutes) == (60, 15)
    assert d.close_queue_message == "Encerramos por falta de interação. Protocolo {{protocolo}}."
    assert d.close_in_progress_message == "{{ nome_cliente }}, encerramos o atendimento."
    # empty = no automatic close
    resp = _edit(admin_a, dept_id, close_queue_after_minutes="")
    assert resp.status_code == 302, flashes(resp.text)
    d = _dept(app, dept_id)
    assert d.close_queue_after_minutes is None and d.close_queue_message is None


@pytest.mark.parametrize("field", ["close_queue_after_minutes", "close_in_progress_after_minutes",
                                   "survey_max_inactivity_minutes"])
@pytest.mark.parametrize("value, message", [
    ("-5", "Informe um número inteiro de minutos entre 1 e 525600."),
    ("0", "Informe um número inteiro de minutos entre 1 e 525600."),
    ("99999999999", "Informe um número inteiro de minutos entre 1 e 525600."),
    ("dez", "O valor inteiro não é válido."),
])
def test_DEP_5_invalid_minutes_are_refused(app, tenants, admin_a, field, value, message):
    dept_id = tenants["a"].ids["departments"]
    before = _snapshot(app, dept_id)
    page = _edit(admin_a, dept_id, **{field: value})
    assert page.status_code == 200
    assert message in page.text
    assert _snapshot(app, dept_id) == before


def test_PAU_4_wait_alert_minutes_saved_and_checked(app, tenants, admin_a):
    """PAU-4: the dashboard's wait alert of the department, 1 to 1440 minutes or empty."""
    dept_id = tenants["a"].ids["departments"]
    page = admin_a.get(f"/admin/departments/edit/?id={dept_id}").text
    assert "Alerta de espera (minutos)" in page and "meta de primeira resposta" in page
    resp = _edit(admin_a, dept_id, wait_alert_minutes="20")
    assert resp.status_code == 302, flashes(resp.text)
    assert _dept(app, dept_id).wait_alert_minutes == 20
    before = _snapshot(app, dept_id)
    for value in ("0", "1441"):
        page = _edit(admin_a, dept_id, wait_alert_minutes=value)
        assert page.status_code == 200
        assert "Informe um número inteiro de minutos entre 1 e 1440." in page.text
    assert _snapshot(app, dept_id) == before
    assert _edit(admin_a, dept_id, wait_alert_minutes="").status_code == 302
    assert _dept(app, dept_id).wait_alert_minutes is None


# --- DEP-6: action messages ----------------------------------------------------------------


def test_DEP_6_action_messages_are_saved_with_their_checkboxes(app, tenants, admin_a):
    dept_id = tenants["a"].ids["departments"]
    resp = _edit(admin_a, dept_id, on_start_enabled="y",
                 on_start_text="Olá {{nome_cliente}}, sou {{nome_atendente}}.",
                 on_transfer_enabled="y", on_transfer_text="",
                 on_close_text="Até logo")
    assert resp.status_code == 302, flashes(resp.text)
    d = _dept(app, dept_id)
    assert (d.on_start_enabled, d.on_transfer_enabled, d.on_close_enabled) == (True, True, False)
    assert d.on_start_text == "Olá {{nome_cliente}}, sou {{nome_atendente}}."
    assert d.on_transfer_text is None and d.on_close_text == "Até logo"
    ctx = {"nome_cliente": "Ana", "nome_atendente": "Bruno", "departamento": "Financeiro",
           "protocolo": "20260101-0001"}
    assert messages.action_message(d, "start", ctx) == "Olá Ana, sou Bruno."
    assert messages.action_message(d, "transfer", ctx) == \
        "Seu atendimento foi transferido para Financeiro."
    assert messages.action_message(d, "close", ctx) is None  # checkbox off, text ignored


def _department(**fields):
    base = {f"on_{k}_enabled": False for k in messages.ACTION_KINDS}
    base.update({f"on_{k}_text": None for k in messages.ACTION_KINDS})
    base.update(fields)
    return SimpleNamespace(**base)


def test_DEP_6_default_system_messages_when_the_checkbox_is_on_and_no_text():
    ctx = {"nome_atendente": "Bruno", "departamento": "Suporte", "protocolo": "123"}
    dept = _department(on_start_enabled=True, on_transfer_enabled=True, on_close_enabled=True,
                       on_close_text="   ")
    assert messages.action_message(dept, "start", ctx) == "Atendente Bruno iniciou o atendimento."
    assert messages.action_message(dept, "transfer", ctx) == \
        "Seu atendimento foi transferido para Suporte."
    assert messages.action_message(dept, "close", ctx) == "Atendimento finalizado. Protocolo 123."
    assert messages.action_message(_department(), "start", ctx) is None
    assert messages.action_message(_department(on_start_text="Oi"), "start", ctx) is None
    assert messages.action_message(_department(on_start_enabled=True, on_start_text="Oi {{empresa}}"),
                                   "start", {"empresa": "Alfa"}) == "Oi Alfa"
    with pytest.raises(ValueError):
        messages.action_message(dept, "reopen", ctx)


# --- DEP-8: message variables --------------------------------------------------------------


def test_DEP_8_catalogue_has_the_variables_with_portuguese_descriptions(app):
    assert list(messages.VARIABLES) == ["nome_cliente", "protocolo", "nome_atendente",
                                        "departamento", "empresa", "data", "hora"]
    with app.test_request_context():
        assert str(messages.VARIABLES["nome_cliente"]) == "Nome do cliente"
    assert messages.variable_list() == VALID


def test_DEP_8_render_fills_variables_as_plain_text_and_missing_ones_empty():
    text = "Olá {{nome_cliente}}! Protocolo {{ protocolo }} - {{empresa}} em {{data}} {{hora}}."
    ctx = {"nome_cliente": "<b>Ana</b> & cia", "protocolo": 42, "empresa": None}
    assert messages.render(text, ctx) == "Olá <b>Ana</b> & cia! Protocolo 42 -  em  ."
    # a value that looks like a variable is not expanded again; unknown ones never go raw
    assert messages.render("{{nome_cliente}} {{desconhecida}}",
                           {"nome_cliente": "{{protocolo}}", "protocolo": "X"}) == "{{protocolo}} "
    assert messages.render("", ctx) == "" and messages.render(None, ctx) == ""
    assert messages.render("sem variáveis {chave}", None) == "sem variáveis {chave}"


def test_DEP_8_build_context_uses_the_company_time_zone():
    company = SimpleNamespace(name="Alfa Comércio", timezone="America/Sao_Paulo")
    ctx = messages.build_context(customer=SimpleNamespace(name="Ana"), protocol="2026-7",
                                 agent=SimpleNamespace(name="Bruno"),
                                 department=SimpleNamespace(name="Suporte"), company=company,
                                 now=datetime(2026, 1, 2, 1, 30, tzinfo=timezone.utc))
    assert ctx == {"nome_cliente": "Ana", "protocolo": "2026-7", "nome_atendente": "Bruno",
                   "departamento": "Suporte", "empresa": "Alfa Comércio",
                   "data": "01/01/2026", "hora": "22:30"}
    assert messages.build_context()["nome_cliente"] == ""


@pytest.mark.parametrize("text, unknown", [
    ("Olá {{nome_cliente}}, protocolo {{protocolo}}", []),
    ("{{ nome_cliente }} {{data}} {{hora}} {{empresa}} {{departamento}} {{nome_atendente}}", []),
    ("Olá {{nome}}", ["{{nome}}"]),
    ("{{cliente}} e {{cliente}} e {{CPF}}", ["{{cliente}}", "{{CPF}}"]),
    ("Protocolo {{protocolo}", ["{{protocolo}"]),
    ("{{}}", ["{{}}"]),
    ("chaves simples {não são variáveis}", []),
    ("", []),
])
def test_DEP_8_validate_template_lists_unknown_variables(text, unknown):
    assert messages.validate_template(text) == unknown


@pytest.mark.parametrize("field", ["on_start_text", "on_transfer_text", "on_close_text",
                                   "close_queue_message", "close_in_progress_message",
                                   "survey_timeout_message"])
def test_DEP_8_unknown_variable_is_refused_listing_the_valid_ones(app, tenants, admin_a, field):
    dept_id = tenants["a"].ids["departments"]
    before = _snapshot(app, dept_id)
    page = _edit(admin_a, dept_id, **{field: "Olá {{nome}}, protocolo {{protocolo}}"})
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert f"Variável desconhecida: {{{{nome}}}}. Variáveis válidas: {VALID}." in text
    assert _snapshot(app, dept_id) == before


# --- DEP-7: telephony ----------------------------------------------------------------------


def test_DEP_7_overflow_rules(app, tenants, admin_a):
    a = tenants["a"]
    dept_id = a.ids["departments"]
    with app.app_context():
        company = db.session.get(Company, a.company_id)
        target = gen_department(company, "Central de chamadas")
        db.session.commit()
        target_id = target.id
    before = _snapshot(app, dept_id)
    cases = [
        ({"overflow_enabled": "y"}, "Com o transbordo ativo, informe o departamento para "
                                    "roteamento de chamadas."),
        ({"overflow_enabled": "y", "overflow_department": str(dept_id)},
         "O departamento para roteamento de chamadas deve ser outro departamento."),
        ({"overflow_enabled": "y", "overflow_department": str(tenants["b"].ids["departments"])},
         "não pertence à sua empresa"),
        ({"overflow_enabled": "y", "overflow_department": "abc"}, "não pertence à sua empresa"),
    ]
    for extra, message in cases:
        page = _edit(admin_a, dept_id, **extra)
        assert page.status_code == 200 and message in page.text, extra
        assert _snapshot(app, dept_id) == before, extra
    # the routing department offered are the company's own
    page = admin_a.get(f"/admin/departments/edit/?id={dept_id}").text
    assert "Central de chamadas" in page and "Departamento exclusivo B" not in page
    resp = _edit(admin_a, dept_id, overflow_enabled="y", overflow_department=str(target_id))
    assert resp.status_code == 302, flashes(resp.text)
    d = _dept(app, dept_id)
    assert d.overflow_enabled and d.overflow_department_id == target_id
    # the target cannot be deleted while it receives the overflow
    resp = admin_a.submit("/admin/departments/delete/", {"id": str(target_id)},
                          follow_redirects=True)
    assert "recebe o transbordo de Departamento exclusivo A" in html.unescape(resp.text)
    assert _dept(app, target_id) is not None
    # overflow off: the routing department is cleared
    resp = _edit(admin_a, dept_id, overflow_department=str(target_id))
    assert resp.status_code == 302, flashes(resp.text)
    d = _dept(app, dept_id)
    assert not d.overflow_enabled and d.overflow_department_id is None
    resp = admin_a.submit("/admin/departments/delete/", {"id": str(target_id)})
    assert resp.status_code == 302 and _dept(app, target_id) is None


# --- bad input on the main tab ---------------------------------------------------------------


@pytest.mark.parametrize("data, message", [
    ({"name": "departamento EXCLUSIVO a"}, "Já existe um departamento com este nome."),
    ({"name": "   "}, "Informe o nome do departamento."),
    ({"name": ""}, "Campo obrigatório."),
    ({"name": "Novo", "order": "-1"}, "Informe uma ordem entre 0 e 1000000."),
    ({"name": "Novo", "order": "99999999999"}, "Informe uma ordem entre 0 e 1000000."),
    ({"name": "Novo", "order": "primeiro"}, "O valor inteiro não é válido."),
    ({"name": "Novo", "active": "talvez"}, "Escolha ATIVO ou INATIVO."),
    ({"name": "x" * 81}, "não podem ter mais do que 80 caracteres"),
    ({"name": "Novo", "description": "x" * 300}, "não podem ter mais do que 255 caracteres"),
])
def test_DEP_1_bad_input_gives_a_portuguese_message_and_writes_nothing(app, tenants, admin_a,
                                                                      data, message):
    before = _counts(app)
    form = {"active": "True", **data}
    page = admin_a.submit("/admin/departments/new/", form)
    assert page.status_code == 200
    assert message in html.unescape(page.text), flashes(page.text)
    assert _counts(app) == before


def test_DEP_1_duplicate_name_on_edit_is_refused(app, tenants, admin_a):
    with app.app_context():
        other = gen_department(db.session.get(Company, tenants["a"].company_id), "Outro")
        db.session.commit()
        other_id = other.id
    before = _snapshot(app, other_id)
    page = admin_a.submit(f"/admin/departments/edit/?id={other_id}",
                          _edit_form(name="Departamento Exclusivo A", order="2"))
    assert "Já existe um departamento com este nome." in page.text
    assert _snapshot(app, other_id) == before
    # the same name in another company is fine
    resp = admin_a.submit(f"/admin/departments/edit/?id={other_id}",
                          _edit_form(name="Departamento exclusivo B", order="2"))
    assert resp.status_code == 302, flashes(resp.text)


# --- RSN-1: reasons and departments ---------------------------------------------------------


def _department_filter_arg(app):
    view = next(v for v in app.extensions["admin"][0]._views if v.endpoint == "reasons")
    for i, flt in enumerate(view._filters):
        if isinstance(flt, ReasonDepartmentFilter):
            return f"flt0_{view.get_filter_arg(i, flt)}"
    raise AssertionError("no department filter on the reasons screen")


def test_RSN_1_reason_form_links_departments_of_the_company(app, tenants, admin_a):
    a, b = tenants["a"], tenants["b"]
    page = admin_a.get("/admin/reasons/new/").text
    assert 'name="departments"' in page
    assert "Departamento exclusivo A" in page and "Departamento exclusivo B" not in page
    resp = admin_a.submit("/admin/reasons/new/", {"name": "Segunda via de boleto", "active": "y",
                                                  "departments": [str(a.ids["departments"])]})
    assert resp.status_code == 302, flashes(resp.text)
    with app.app_context():
        reason = db.session.scalar(select(Reason).where(Reason.name == "Segunda via de boleto"))
        assert [d.id for d in reason.departments] == [a.ids["departments"]]
        assert [r.name for r in db.session.get(Department, a.ids["departments"]).reasons] == \
            ["Segunda via de boleto"]
        count = db.session.scalar(select(func.count()).select_from(Reason))
    listing = admin_a.get("/admin/reasons/").text
    assert re.search(r"Segunda via de boleto.*Departamento exclusivo A", listing, re.S)
    # a department of another company is refused, nothing written
    page = admin_a.submit("/admin/reasons/new/", {"name": "Forjado", "active": "y",
                                                  "departments": [str(b.ids["departments"])]})
    assert page.status_code == 200 and "não pertence à sua empresa" in page.text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Reason)) == count


def test_RSN_1_filter_by_department_with_options_of_the_current_company_per_request(app, tenants):
    a, b = tenants["a"], tenants["b"]
    arg = _department_filter_arg(app)
    with app.app_context():
        company = db.session.get(Company, a.company_id)
        suporte = gen_department(company, "Suporte técnico")
        db.session.flush()
        linked = Reason(company_id=a.company_id, name="Internet lenta", active=True)
        linked.departments.append(suporte)
        db.session.add(linked)
        db.session.commit()
        suporte_id = suporte.id
    client_a, client_b = app.test_client(), app.test_client()
    login(client_a, a.admin_email)
    login(client_b, b.admin_email)
    page_a = client_a.get("/admin/reasons/").text
    page_b = client_b.get("/admin/reasons/").text
    # the options travel in the page (data for the filter widget)
    assert "Suporte técnico" in page_a and "Departamento exclusivo A" in page_a
    assert "Departamento exclusivo B" in page_b
    assert "Suporte técnico" not in page_b and "Departamento exclusivo A" not in page_b
    assert "Departamento exclusivo B" not in page_a
    # a department created now shows up at once (not a list cached at start-up)
    with app.app_context():
        gen_department(db.session.get(Company, b.company_id), "Ouvidoria recente B")
        db.session.commit()
    assert "Ouvidoria recente B" in client_b.get("/admin/reasons/").text
    assert "Ouvidoria recente B" not in client_a.get("/admin/reasons/").text
    # filtering
    filtered = client_a.get(f"/admin/reasons/?{arg}={suporte_id}").text
    assert "Internet lenta" in filtered and "Motivo exclusivo A" not in filtered
    # B filtering by A's department finds nothing of A
    forged = client_b.get(f"/admin/reasons/?{arg}={suporte_id}")
    assert forged.status_code == 200
    assert "Internet lenta" not in forged.text and "Motivo exclusivo B" not in forged.text
    for bad in ("abc", "-1", "99999999999999"):
        page = client_a.get(f"/admin/reasons/?{arg}={bad}")
        assert page.status_code == 200, bad


def test_RSN_1_link_between_companies_is_refused_by_the_database(app, tenants):
    with app.app_context():
        reason = db.session.get(Reason, tenants["a"].ids["reasons"])
        reason.departments.append(db.session.get(Department, tenants["b"].ids["departments"]))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_RSN_1_deleting_a_department_unlinks_its_reasons(app, tenants, admin_a):
    a = tenants["a"]
    with app.app_context():
        reason = db.session.get(Reason, a.ids["reasons"])
        reason.departments.append(db.session.get(Department, a.ids["departments"]))
        db.session.commit()
    resp = admin_a.submit("/admin/departments/delete/", {"id": str(a.ids["departments"])})
    assert resp.status_code == 302
    with app.app_context():
        assert db.session.get(Department, a.ids["departments"]) is None
        assert db.session.get(Reason, a.ids["reasons"]).departments == []
        assert not db.session.scalar(select(func.count()).select_from(DepartmentMember).where(
            DepartmentMember.department_id == a.ids["departments"]))
