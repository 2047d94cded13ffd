"""Configurações in a real browser: Departamentos (DEP-1, DEP-3, DEP-4, DEP-6, DEP-8),
Controle de pausa (PAU-1), Períodos de atendimento (PER-1, PER-2) and Feriados (HOL-1),
filled in as the demo administrator would, with a Portuguese interface throughout."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import DEMO_ADMIN

DEPARTMENT = "Financeiro E2E"
START_TEXT = "Olá {{nome_cliente}}, aqui é {{nome_atendente}}."
MEMBERS = ("Bruno Lima", "Carla Mendes")

# Flask-Admin's own English labels that a missing translation would let through. Matched as
# whole words, so "Listar", "Editar", "Criar" do not count.
ENGLISH = re.compile(
    r"\b(Save|Create|List|Edit|Delete|Cancel|Search|Export|Add|New|Remove|Filter|Apply"
    r"|With selected|Select all|There are no items|Record was|Are you sure"
    r"|items|Yes|Previous|Next|This field is required)\b")


def open_menu(page, category: str, item: str):
    """Through the side menu (UX-5): the category's group is unfolded when it is closed."""
    group = page.locator(f'#atende-menu .atende-menu-group[data-group="{category}"]')
    toggle = group.get_by_role("button", name=category, exact=True)
    page.wait_for_load_state("load")  # Bootstrap's collapse works once its script ran
    if toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    expect(group.locator(".atende-submenu")).to_have_class(re.compile(r"(^|\s)show(\s|$)"))
    group.get_by_role("link", name=item, exact=True).click()


def flashes(page):
    return page.locator(".alert-dismissable")


def list_rows(page):
    """The records of a list page (not its "Não existem itens na tabela." row)."""
    return page.locator("table.model-list tbody tr:has(td.col-name)")


def click_save(page):
    page.get_by_role("button", name="Salvar", exact=True).click()


def assert_portuguese(page):
    """No English Flask-Admin text on the page: visible text, button values, tooltips."""
    page.wait_for_load_state()
    texts = [page.locator("body").inner_text()]
    texts += page.locator("input[type=submit], input[type=button], button").evaluate_all(
        "els => els.map(e => e.value || e.innerText || '')")
    texts += page.locator("[title], [placeholder], [data-original-title]").evaluate_all(
        "els => els.map(e => [e.title, e.placeholder, e.dataset.originalTitle]"
        ".filter(Boolean).join(' | '))")
    found = sorted({m.group(0) for text in texts for m in ENGLISH.finditer(text or "")})
    assert not found, f"English text on {page.url}: {found}"


def assert_list_page(page, headers: list[str]):
    """A list page of Configurações: Portuguese tabs and column headers."""
    tabs = page.locator("ul.nav-tabs")
    expect(tabs.get_by_role("link", name=re.compile(r"^Listar( \(\d+\))?$"))).to_be_visible()
    expect(tabs.get_by_role("link", name="Criar", exact=True)).to_be_visible()
    header_row = page.locator("table.model-list thead tr")
    for header in headers:
        expect(header_row.locator("th", has_text=header).first).to_be_visible()
    assert_portuguese(page)


def choose_select2(page, select_id: str, label: str, multiple: bool = False):
    """Open the select2 widget drawn over select#select_id and pick `label` with the mouse."""
    container = page.locator(f"#s2id_{select_id}")
    if multiple:
        container.locator("input.select2-input").click()
        container.locator("input.select2-input").press_sequentially(label[:5])
    else:
        container.locator("a.select2-choice").click()
    drop = page.locator("#select2-drop")
    drop.locator(".select2-result-label", has_text=label).click()
    expect(drop).to_be_hidden()


def fill_schedule(row, days: list[str], start: str, end: str, name: str | None = None):
    """One inline row of Horário/Disponibilidade; time inputs take ISO "HH:MM".
    Days are ticked with a real mouse click (test_PER_1_every_weekday_... below proves
    each one is reachable)."""
    if name is not None:
        row.locator("input[name$='-name']").fill(name)
    for day in days:
        box = row.locator("li", has_text=day).get_by_role("checkbox")
        box.click()
        expect(box).to_be_checked()
    start_input = row.locator("input[name$='-start_time']")
    end_input = row.locator("input[name$='-end_time']")
    expect(start_input).to_have_attribute("type", "time")
    expect(end_input).to_have_attribute("type", "time")
    start_input.fill(start)
    end_input.fill(end)


def test_DEP_PAU_PER_HOL_admin_configures_operation_in_portuguese(
        page, live_server, demo, log_in):
    log_in(page, *DEMO_ADMIN)
    expect(page).to_have_url(f"{live_server}/admin/")

    # -- Departamentos: main tab, then the tabs of the edit form ------------------------
    open_menu(page, "Configurações", "Departamentos")
    expect(page).to_have_url(re.compile(r"/admin/departments/"))
    expect(page.get_by_role("heading", level=1, name="Departamentos")).to_be_visible()
    assert_list_page(page, ["Ordem", "Nome", "Descrição", "Status",
                            "Departamento para roteamento de chamadas"])
    departments_before = list_rows(page).count()

    page.locator("ul.nav-tabs").get_by_role("link", name="Criar", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin/departments/new/"))
    form = page.locator("form.admin-form")
    # UX-5: real tabs; the later ones open once the main tab is saved
    expect(form.get_by_role("tab", name="Principal")).to_be_visible()
    for later_tab in ("Parâmetros", "Membros", "Mensagens de ação"):
        expect(form.get_by_role("tab", name=later_tab)).to_have_attribute("aria-disabled", "true")
    assert_portuguese(page)
    page.get_by_label("Nome").fill(DEPARTMENT)
    page.get_by_label("Descrição").fill("Contas a receber e boletos")
    click_save(page)

    expect(page).to_have_url(re.compile(r"/admin/departments/edit/\?id=\d+"))
    expect(flashes(page).filter(has_text="Registro criado com sucesso.")).to_have_count(1)
    expect(flashes(page).filter(has_text="As abas Parâmetros, Membros")).to_have_count(1)
    for tab in ("Principal", "Parâmetros", "Membros", "Inatividade", "Mensagens de ação",
                "Telefonia"):
        expect(form.get_by_role("tab", name=tab, exact=True)).to_be_visible()
    expect(page.get_by_label("Nome")).to_have_value(DEPARTMENT)
    edit_url = page.url
    assert_portuguese(page)

    page.wait_for_load_state()  # Bootstrap's tabs listen once its script has run
    form.get_by_role("tab", name="Membros", exact=True).click()
    add_member = page.get_by_role("button", name="Adicionar Membro", exact=True)
    for index, member in enumerate(MEMBERS):
        add_member.click()
        expect(page.locator(f"select#members-{index}-user")).to_be_attached()
        choose_select2(page, f"members-{index}-user", member)
        expect(page.locator(f"#s2id_members-{index}-user .select2-chosen")).to_have_text(member)
    form.get_by_role("tab", name="Mensagens de ação", exact=True).click()
    page.get_by_label("Mensagem ao iniciar o atendimento").check()
    page.get_by_label("Texto ao iniciar o atendimento").fill(START_TEXT)
    click_save(page)

    expect(page).to_have_url(re.compile(r"/admin/departments/(\?.*)?$"))
    expect(flashes(page).filter(has_text="Registro salvo com sucesso.")).to_have_count(1)
    row = list_rows(page).filter(has_text=DEPARTMENT)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Contas a receber e boletos")
    expect(row).to_contain_text("ATIVO")
    expect(list_rows(page)).to_have_count(departments_before + 1)
    assert_list_page(page, ["Nome", "Status"])

    # Reopened, the form shows what was saved.
    page.goto(edit_url)
    for index, member in enumerate(MEMBERS):
        expect(page.locator(f"#s2id_members-{index}-user .select2-chosen")).to_have_text(member)
    expect(page.locator("#members > .inline-field-list > .inline-field")).to_have_count(2)
    expect(page.get_by_label("Mensagem ao iniciar o atendimento")).to_be_checked()
    expect(page.get_by_label("Texto ao iniciar o atendimento")).to_have_value(START_TEXT)
    expect(page.get_by_label("Mensagem ao transferir o atendimento")).not_to_be_checked()

    # -- Controle de pausa --------------------------------------------------------------
    open_menu(page, "Configurações", "Controle de pausa")
    expect(page).to_have_url(re.compile(r"/admin/pauses/"))
    assert_list_page(page, ["Nome", "Departamentos", "Disponibilidade", "Ativa"])
    page.locator("ul.nav-tabs").get_by_role("link", name="Criar", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin/pauses/new/"))
    assert_portuguese(page)
    page.get_by_label("Nome").fill("Almoço E2E")
    choose_select2(page, "departments", DEPARTMENT, multiple=True)
    expect(page.locator("#s2id_departments .select2-search-choice")).to_have_text([DEPARTMENT])
    page.get_by_role("button", name="Adicionar Horário de disponibilidade", exact=True).click()
    fill_schedule(page.locator("#windows-0"), ["Segunda-feira", "Quarta-feira", "Sexta-feira"],
                  "11:00", "14:30")
    click_save(page)

    expect(flashes(page).filter(has_text="Registro criado com sucesso.")).to_have_count(1)
    row = list_rows(page).filter(has_text="Almoço E2E")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(DEPARTMENT)
    expect(row).to_contain_text("Seg, Qua, Sex 11:00–14:30")
    assert_list_page(page, ["Nome", "Departamentos", "Disponibilidade"])

    # -- Períodos de atendimento: two schedules -----------------------------------------
    open_menu(page, "Configurações", "Períodos de atendimento")
    expect(page).to_have_url(re.compile(r"/admin/periods/"))
    assert_list_page(page, ["Nome", "Descrição", "Horários", "Ativo"])
    page.locator("ul.nav-tabs").get_by_role("link", name="Criar", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin/periods/new/"))
    assert_portuguese(page)
    page.get_by_label("Nome").fill("Comercial E2E")
    page.get_by_label("Descrição").fill("Loja e plantão de sábado")
    add_schedule = page.get_by_role("button", name="Adicionar Horário", exact=True)
    add_schedule.click()
    fill_schedule(page.locator("#schedules-0"),
                  ["Segunda-feira", "Terça-feira", "Quarta-feira", "Quinta-feira",
                   "Sexta-feira"], "08:00", "18:00", name="Semana")
    add_schedule.click()
    fill_schedule(page.locator("#schedules-1"), ["Sábado"], "09:00", "13:00", name="Sábado")
    click_save(page)

    expect(flashes(page).filter(has_text="Registro criado com sucesso.")).to_have_count(1)
    row = list_rows(page).filter(has_text="Comercial E2E")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Semana: Seg, Ter, Qua, Qui, Sex 08:00–18:00")
    expect(row).to_contain_text("Sábado: Sáb 09:00–13:00")
    assert_list_page(page, ["Nome", "Horários"])

    # -- Feriados -----------------------------------------------------------------------
    open_menu(page, "Configurações", "Feriados")
    expect(page).to_have_url(re.compile(r"/admin/holidays/"))
    assert_list_page(page, ["Nome", "Data", "Repete todo ano"])
    page.locator("ul.nav-tabs").get_by_role("link", name="Criar", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin/holidays/new/"))
    assert_portuguese(page)
    page.get_by_label("Nome").fill("Natal E2E")
    date_input = page.get_by_label("Data")
    expect(date_input).to_have_attribute("type", "date")
    date_input.fill("2026-12-25")  # a date input takes ISO whatever the locale shows
    page.get_by_label("Repete todo ano").check()
    click_save(page)

    expect(flashes(page).filter(has_text="Registro criado com sucesso.")).to_have_count(1)
    row = list_rows(page).filter(has_text="Natal E2E")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("25/12/2026")
    expect(row.locator("td.col-every_year .fa-check-circle")).to_have_count(1)
    assert_list_page(page, ["Nome", "Data", "Repete todo ano"])


def test_DEP_8_unknown_variable_in_action_message_is_refused(page, live_server, demo, log_in):
    log_in(page, *DEMO_ADMIN)
    page.goto(f"{live_server}/admin/departments/new/")
    page.get_by_label("Nome").fill(DEPARTMENT)
    click_save(page)
    expect(flashes(page).filter(has_text="Registro criado com sucesso.")).to_have_count(1)
    edit_url = page.url
    page.goto(f"{live_server}/admin/departments/")
    expect(list_rows(page).filter(has_text=DEPARTMENT)).to_have_count(1)
    list_before = list_rows(page).all_inner_texts()

    page.goto(edit_url)
    page.get_by_label("Descrição").fill("Descrição que não deve ser salva")
    page.get_by_role("tab", name="Mensagens de ação", exact=True).click()
    page.get_by_label("Mensagem ao iniciar o atendimento").check()
    page.get_by_label("Texto ao iniciar o atendimento").fill("Olá {{inexistente}}!")
    click_save(page)

    expect(page).to_have_url(edit_url)  # the form again, not the list
    # UX-5: the refused field's tab is the one open
    expect(page.get_by_role("tab", name="Mensagens de ação", exact=True)).to_have_attribute(
        "aria-selected", "true")
    expect(page.get_by_label("Texto ao iniciar o atendimento")).to_be_visible()
    refused = "Não foi possível salvar o registro: corrija os campos indicados."
    expect(flashes(page).filter(has_text=refused)).to_have_count(1)
    field = page.locator(".form-group", has=page.locator("#on_start_text"))
    expect(field.locator(".invalid-feedback")).to_have_text(
        "Variável desconhecida: {{inexistente}}. Variáveis válidas: {{nome_cliente}}, "
        "{{protocolo}}, {{nome_atendente}}, {{departamento}}, {{empresa}}, {{data}}, {{hora}}.")
    expect(page.get_by_label("Texto ao iniciar o atendimento")).to_have_value(
        "Olá {{inexistente}}!")
    expect(flashes(page).filter(has_text="Registro salvo com sucesso.")).to_have_count(0)
    assert_portuguese(page)

    # Nothing was saved: the list and the reopened form are as before.
    page.goto(f"{live_server}/admin/departments/")
    expect(list_rows(page)).to_have_count(len(list_before))
    assert list_rows(page).all_inner_texts() == list_before
    page.goto(edit_url)
    expect(page.get_by_label("Mensagem ao iniciar o atendimento")).not_to_be_checked()
    expect(page.get_by_label("Texto ao iniciar o atendimento")).to_have_value("")


def test_DEP_4_labels_of_an_added_member_row_belong_to_that_row(page, live_server, demo, log_in):
    log_in(page, *DEMO_ADMIN)
    page.goto(f"{live_server}/admin/departments/new/")
    page.get_by_label("Nome").fill(DEPARTMENT)
    click_save(page)
    # The create form has the same checkbox: wait for the edit page (DEP-3) and its
    # scripts, or the click on "Adicionar Membro" can land before the handler is bound.
    expect(page).to_have_url(re.compile(r"/admin/departments/edit/"))
    page.wait_for_load_state()
    department_receives = page.locator("#receives_tickets")
    expect(department_receives).to_be_checked()

    page.get_by_role("tab", name="Membros", exact=True).click()
    page.get_by_role("button", name="Adicionar Membro", exact=True).click()
    row = page.locator("#members-0")
    member_receives = row.get_by_role("checkbox", name="Recebe atendimento neste departamento")
    row.locator("label", has_text="Recebe atendimento neste departamento").click()
    expect(department_receives).to_be_checked(timeout=1_000)
    expect(member_receives).not_to_be_checked(timeout=1_000)


def test_PER_1_every_weekday_of_a_new_schedule_can_be_clicked(page, live_server, demo, log_in):
    log_in(page, *DEMO_ADMIN)
    page.goto(f"{live_server}/admin/periods/new/")
    page.get_by_role("button", name="Adicionar Horário", exact=True).click()
    row = page.locator("#schedules-0")
    for day in ("Segunda-feira", "Terça-feira", "Quarta-feira", "Quinta-feira", "Sexta-feira",
                "Sábado", "Domingo"):
        row.locator("li", has_text=day).get_by_role("checkbox").check(timeout=1_000)
