"""The admin panel in a real browser (PLT-2, PLT-4, PLT-5) and an XSS check on its lists."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import DEMO_ADMIN, DEMO_COMPANY, ROOT_USER

XSS_NAME = "<img src=x onerror=alert(1)>"


def navbar(page):
    """The top bar: the user, presence and logout."""
    return page.locator("nav.navbar")


def side_menu(page):
    """The side menu (UX-5): Flask-Admin's menu, its categories as groups that fold."""
    return page.locator("#atende-menu")


def open_group(page, category: str):
    """Unfold a group of the side menu (a no-op when it is open already)."""
    group = side_menu(page).locator(f'.atende-menu-group[data-group="{category}"]')
    toggle = group.get_by_role("button", name=category, exact=True)
    page.wait_for_load_state("load")  # Bootstrap's collapse works once its script ran
    if toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    # while it slides open the list is "collapsing": wait until it is shown
    expect(group.locator(".atende-submenu")).to_have_class(re.compile(r"(^|\s)show(\s|$)"))
    return group


def open_menu(page, category: str, item: str):
    open_group(page, category).get_by_role("link", name=item, exact=True).click()


def create_user(page, live_server, name: str, email: str, password: str, group: str):
    """Usuários > Criar, filled in and saved as an administrator would."""
    page.goto(f"{live_server}/admin/users/")
    page.get_by_role("link", name="Criar", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin/users/new/"))
    # Required fields carry a "*" in their label, so labels are matched by prefix.
    page.get_by_label("Nome").fill(name)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Senha").fill(password)
    page.locator("select#group").select_option(label=group, force=True)
    page.get_by_role("button", name="Salvar", exact=True).click()
    expect(page.locator(".alert")).to_contain_text("Registro criado com sucesso.")


def test_PLT_2_admin_logs_in_and_sees_portuguese_panel(page, live_server, demo, log_in):
    page.goto(f"{live_server}/login")
    expect(page.get_by_role("heading", name="Entrar no Atende")).to_be_visible()

    log_in(page, DEMO_ADMIN[0], "senha-errada")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("alert")).to_have_text("E-mail ou senha incorretos.")

    log_in(page, *DEMO_ADMIN)
    expect(page).to_have_url(f"{live_server}/admin/")
    expect(page.get_by_role("heading", name="Olá, Ana Souza!")).to_be_visible()
    menu = side_menu(page)
    for entry in ("Início", "Contatos", "Relatórios", "Minha conta", "Sobre"):
        expect(menu.get_by_role("link", name=entry, exact=True)).to_be_visible()
    # its name may carry the unread count (UX-1)
    expect(menu.get_by_role("link", name=re.compile(r"^Atendimento\b"))).to_be_visible()
    for group in ("Configurações", "Administração"):  # UX-5: groups of the side menu
        expect(menu.get_by_role("button", name=group, exact=True)).to_be_visible()
    expect(menu).not_to_contain_text("SaaS")
    expect(navbar(page).get_by_role("button", name="Sair")).to_be_visible()

    admin = open_group(page, "Administração")
    expect(admin.locator(".atende-submenu .nav-link")).to_have_text(["Usuários", "Auditoria"])
    # the manual's order (seeds/002): Empresa first, Permissões among the settings; the
    # synced WhatsApp templates (issue 12) beside their connections; the chatbot flows and
    # automation rules (issue 13) after the settings they use; the webhooks' delivery log,
    # the HTTP integrations and the API tokens (issue 15) beside the webhooks; the TV
    # panel's links (issue 16) after the API tokens, the other read-only links
    config = open_group(page, "Configurações").locator(".atende-submenu .nav-link")
    expect(config).to_have_text(["Empresa", "Departamentos", "Conexões", "Modelos do WhatsApp",
                                 "Etiquetas",
                                 "Motivos de atendimento", "Templates de mensagens",
                                 "Mensagens de despedida", "Controle de pausa", "Webhooks",
                                 "Entregas de webhooks", "Integrações", "Tokens de API", "Painel TV",
                                 "Central de Telefonia", "Permissões", "Parâmetros",
                                 "Períodos de atendimento", "Feriados", "Campos de contato",
                                 "Fluxos de chatbot", "Automações",
                                 "Importar/exportar registros"])


def test_PLT_4_admin_creates_user_through_the_form(page, live_server, demo, log_in, log_out):
    log_in(page, *DEMO_ADMIN)
    open_menu(page, "Administração", "Usuários")
    expect(page).to_have_url(f"{live_server}/admin/users/")

    create_user(page, live_server, "Fernanda Alves", "fernanda@demo.atende.local",
                "senha-nova-123", "Atendente")
    expect(page).to_have_url(re.compile(r"/admin/users/"))
    row = page.locator("table.model-list tbody tr", has_text="fernanda@demo.atende.local")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Fernanda Alves")
    expect(row).to_contain_text("Atendente")

    log_out(page)
    expect(page.get_by_role("alert")).to_have_text("Você saiu do sistema.")
    log_in(page, "fernanda@demo.atende.local", "senha-nova-123")
    expect(page).to_have_url(f"{live_server}/inbox/")  # UX-3: an agent lands in the inbox
    page.goto(f"{live_server}/admin/")
    expect(page.get_by_test_id("current-user")).to_contain_text("Fernanda Alves")
    menu = side_menu(page)
    expect(menu.get_by_role("link", name="Sobre", exact=True)).to_be_visible()
    # Group Atendente works in the inbox only: no Usuários entry (hidden or not) in the menu.
    expect(menu).not_to_contain_text("Usuários")
    expect(menu).not_to_contain_text("Administração")

    response = page.goto(f"{live_server}/admin/users/")
    assert response.status == 403
    expect(page.get_by_test_id("error-message")).to_contain_text("Você não tem permissão")


def test_PLT_5_superuser_disables_company_and_its_users_cannot_log_in(
        page, live_server, demo, log_in, log_out):
    dialogs = []

    def accept(dialog):
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    log_in(page, *ROOT_USER)
    expect(page).to_have_url(f"{live_server}/admin/")
    open_menu(page, "SaaS", "Empresas")
    expect(page).to_have_url(f"{live_server}/admin/saas_companies/")

    row = page.locator("table.model-list tbody tr", has_text=DEMO_COMPANY)
    expect(row).to_have_count(1)
    row.locator("input.action-checkbox").check()
    # Bootstrap binds the dropdown when the page's scripts have run: a click before the
    # "load" event opens nothing (seen once in a full run)
    page.wait_for_load_state("load")
    page.get_by_role("button", name="Com selecionado").click()
    page.get_by_role("link", name="Desativar", exact=True).click()
    expect(page.locator(".alert")).to_contain_text("1 empresa(s) atualizada(s).")
    assert dialogs == ["Desativar as empresas selecionadas? Os usuários delas não poderão entrar."]

    log_out(page)
    log_in(page, *DEMO_ADMIN)
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("alert")).to_contain_text("O acesso desta empresa está suspenso")


def test_MSG_5_admin_user_list_shows_markup_in_names_as_text(
        page, live_server, demo, log_in, log_out):
    dialogs = []

    def record(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    log_in(page, *DEMO_ADMIN)
    create_user(page, live_server, XSS_NAME, "xss@demo.atende.local", "senha-nova-123",
                "Atendente")
    page.wait_for_load_state("networkidle")

    table = page.locator("table.model-list")
    expect(table.get_by_role("cell", name=XSS_NAME, exact=True)).to_have_count(1)
    expect(table.locator("img")).to_have_count(0)

    # The name also reaches the navbar and the greeting of the user's own home page.
    log_out(page)
    log_in(page, "xss@demo.atende.local", "senha-nova-123")
    expect(page).to_have_url(f"{live_server}/inbox/")  # UX-3: an agent lands in the inbox
    page.goto(f"{live_server}/admin/")
    page.wait_for_load_state("networkidle")
    expect(page.get_by_test_id("current-user")).to_contain_text(XSS_NAME)
    expect(page.get_by_role("heading", name=f"Olá, {XSS_NAME}!")).to_be_visible()
    expect(page.locator("img")).to_have_count(0)
    assert dialogs == []
