"""Internationalisation (PLT): pt-BR by default, English per user or per company.

Our own msgids are Brazilian Portuguese, so the only catalogue of ours is the English
one (backoffice/translations/en). Flask-Admin's strings come from its bundled pt_BR
catalogue (domain "admin"). The .mo is git-ignored: `compile_catalogues()` builds it when
missing or older than the .po, so these tests pass straight after a clone.
"""
from __future__ import annotations

import ast
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.pofile import read_po
from babel.support import Translations
from flask import template_rendered

from backoffice.extensions import db
from backoffice.i18n import compile_catalogues
from backoffice.models import Company, User
from tests.conftest import login
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
BABEL_CFG = ROOT / "babel.cfg"
TRANSLATIONS = ROOT / "backoffice" / "translations"
EN_PO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
# Same keywords as the documented command: pybabel extract -k _l -k lazy_gettext
EXTRA_KEYWORDS = ("_l", "lazy_gettext")
PLACEHOLDER = re.compile(r"%\((\w+)\)[#0 +-]*\d*(?:\.\d+)?[sdifrx]")


# --- compiling the catalogue (create_app does it too) -------------------------------


@pytest.fixture(scope="session")
def compiled_catalogue() -> list[Path]:
    return compile_catalogues()


# --- helpers ---------------------------------------------------------------------------


def read_en_catalogue():
    with EN_PO.open("rb") as f:
        return read_po(f, locale="en")


def extract_messages() -> list[tuple[str, int, str | tuple, str | None]]:
    """(file, line, msgid, context) for every message in the code, as pybabel sees it."""
    with BABEL_CFG.open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f, str(BABEL_CFG))
    keywords = {**DEFAULT_KEYWORDS, **parse_keywords(EXTRA_KEYWORDS)}
    return [
        (filename, lineno, message, context)
        for filename, lineno, message, _comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=keywords
        )
    ]


GETTEXT_NAMES = {"_", "_l", "gettext", "lazy_gettext"}


def gettext_calls_in_python() -> list[tuple[str, int, str]]:
    """Literal msgids of gettext calls anywhere in backoffice/, f-strings included.

    pybabel's Python extractor does not look inside f-strings on Python 3.11, so a
    `_()` there never reaches the .pot; the AST does see it.
    """
    found = []
    for path in sorted((ROOT / "backoffice").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in GETTEXT_NAMES
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.append((str(path.relative_to(ROOT)), node.lineno, node.args[0].value))
    return found


def untranslated(catalog, msgid, context=None) -> str | None:
    """Why msgid has no usable English translation, or None if it has one."""
    key = msgid[0] if isinstance(msgid, (tuple, list)) else msgid
    message = catalog.get(key, context)
    if message is None:
        return "missing from the .po"
    if message.fuzzy:
        return "fuzzy"
    strings = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
    if not all(s and s.strip() for s in strings):
        return "empty msgstr"
    return None


class _Text(HTMLParser):
    """Visible text of a page, plus the attributes a user reads (title, placeholder)."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in ("title", "placeholder", "aria-label") and value:
                self.parts.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(" ".join(data.split()))


def visible_text(response) -> str:
    parser = _Text()
    parser.feed(response.get_data(as_text=True))
    return "\n".join(parser.parts)


def has_word(text: str, phrase: str) -> bool:
    """`phrase` as whole words: "List" is not found in "Listar (2)"."""
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text) is not None


def assert_words(text: str, present=(), absent=()):
    missing = [p for p in present if not has_word(text, p)]
    unexpected = [a for a in absent if has_word(text, a)]
    assert not missing and not unexpected, (
        f"missing: {missing}; should not be there: {unexpected}\n--- page text ---\n{text}"
    )


def set_language(app, user_id=None, company_id=None, user_lang=None, company_lang=None):
    with app.app_context():
        if user_id is not None:
            db.session.get(User, user_id).language = user_lang
        if company_id is not None:
            db.session.get(Company, company_id).language = company_lang
        db.session.commit()


# Flask-Admin's own strings (flask_admin/translations/pt_BR/LC_MESSAGES/admin.po).
ADMIN_PT = ("Listar", "Criar", "Pesquisar", "Adicionar Filtro", "Exportar", "Com selecionado")
ADMIN_EN = ("List", "Create", "Search", "Add Filter", "Export", "With selected")
# Ours (backoffice/admin/*, templates/admin/atende_base.html) and their translations.
OURS_PT = ("Usuários", "Nome", "Sair", "Grupo de permissão", "Último acesso", "Administração")
OURS_EN = ("Users", "Name", "Log out", "Permission group", "Last login", "Administration")


# --- the catalogue ---------------------------------------------------------------------


MINI_PO = """msgid ""
msgstr ""
"Language: en\\n"
"Content-Type: text/plain; charset=utf-8\\n"

msgid "Sair"
msgstr "{sair}"

#, fuzzy
msgid "Usuários"
msgstr "Users"
"""


def test_PLT_i18n_compile_builds_missing_or_stale_mo(tmp_path):
    lc = tmp_path / "en" / "LC_MESSAGES"
    lc.mkdir(parents=True)
    po, mo = lc / "messages.po", lc / "messages.mo"
    po.write_text(MINI_PO.format(sair="Log out"), encoding="utf-8")

    assert compile_catalogues(tmp_path) == [mo]  # missing -> built
    assert compile_catalogues(tmp_path) == []  # up to date -> left alone
    t = Translations.load(str(tmp_path), ["en"])
    assert t.gettext("Sair") == "Log out"
    assert t.gettext("Usuários") == "Users"  # fuzzy compiled too, like `pybabel compile -f`

    po.write_text(MINI_PO.format(sair="Sign out"), encoding="utf-8")
    future = mo.stat().st_mtime + 10
    os.utime(po, (future, future))
    assert compile_catalogues(tmp_path) == [mo]  # stale -> rebuilt
    assert Translations.load(str(tmp_path), ["en"]).gettext("Sair") == "Sign out"
    assert not list(lc.glob("*.tmp"))


def test_PLT_i18n_session_fixture_leaves_an_up_to_date_mo(compiled_catalogue):
    mo = EN_PO.with_suffix(".mo")
    assert mo.exists()
    assert mo.stat().st_mtime >= EN_PO.stat().st_mtime


def test_PLT_i18n_every_extracted_msgid_has_an_english_translation():
    messages = extract_messages()
    msgids = {m[2] if isinstance(m[2], str) else m[2][0] for m in messages}
    # Sanity: the extraction really covers code, templates and the _l() dicts.
    assert {"Usuários", "Sair", "Página não encontrada.", "Ver", "E-mail"} <= msgids
    assert len(msgids) > 100

    catalog = read_en_catalogue()
    problems = sorted({
        f"{filename}:{lineno}: {msgid!r} ({why})"
        for filename, lineno, msgid, context in messages
        if (why := untranslated(catalog, msgid, context))
    })
    assert not problems, (
        "Portuguese strings without an English translation in "
        f"{EN_PO.relative_to(ROOT)}:\n  " + "\n  ".join(problems)
        + "\nRun: pybabel extract -F babel.cfg -k _l -k lazy_gettext -o /tmp/messages.pot . && "
        "pybabel update -i /tmp/messages.pot -d backoffice/translations -l en, then translate."
    )


def test_PLT_i18n_gettext_calls_pybabel_cannot_extract_are_translated_too():
    """A `_()` inside an f-string is invisible to pybabel; it must still be in the .po."""
    catalog = read_en_catalogue()
    problems = [
        f"{path}:{line}: {msgid!r} ({why})"
        for path, line, msgid in gettext_calls_in_python()
        if (why := untranslated(catalog, msgid))
    ]
    assert not problems, "gettext calls without an English translation:\n  " + "\n  ".join(problems)


def test_PLT_i18n_english_catalogue_is_clean():
    catalog = read_en_catalogue()
    assert str(catalog.locale) == "en"
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not fuzzy, f"fuzzy entries: {fuzzy}"
    errors = [f"{m.id!r}: {errs}" for m, errs in catalog.check()]
    assert not errors, errors
    placeholders = [
        f"{m.id!r} -> {m.string!r}"
        for m in catalog
        if m.id and set(PLACEHOLDER.findall(str(m.id))) != set(PLACEHOLDER.findall(str(m.string)))
    ]
    assert not placeholders, f"%(name)s placeholders changed: {placeholders}"


# --- the pages -------------------------------------------------------------------------


def test_PLT_i18n_admin_defaults_to_pt_BR(compiled_catalogue, client, tenants):
    assert login(client, tenants["a"].admin_email, PASSWORD).status_code == 302
    page = client.get("/admin/users/")
    assert page.status_code == 200
    assert_words(visible_text(page), present=ADMIN_PT + OURS_PT, absent=ADMIN_EN + OURS_EN)


def test_PLT_i18n_english_per_user(compiled_catalogue, app, client, tenants):
    a = tenants["a"]
    assert login(client, a.admin_email, PASSWORD).status_code == 302
    set_language(app, user_id=a.admin_id, user_lang="en")

    page = client.get("/admin/users/")
    assert page.status_code == 200
    assert_words(visible_text(page), present=ADMIN_EN + OURS_EN, absent=ADMIN_PT + OURS_PT)

    # Per user: the other company's admin (no preference) still gets Portuguese.
    other = client.application.test_client()
    assert login(other, tenants["b"].admin_email, PASSWORD).status_code == 302
    assert_words(visible_text(other.get("/admin/users/")), present=OURS_PT, absent=OURS_EN)


def test_PLT_i18n_english_per_company_and_user_choice_wins(compiled_catalogue, app, client, tenants):
    a = tenants["a"]
    assert login(client, a.admin_email, PASSWORD).status_code == 302
    set_language(app, company_id=a.company_id, company_lang="en")
    assert_words(visible_text(client.get("/admin/users/")), present=OURS_EN + ADMIN_EN,
                 absent=OURS_PT + ADMIN_PT)

    set_language(app, user_id=a.admin_id, user_lang="pt_BR")
    assert_words(visible_text(client.get("/admin/users/")), present=OURS_PT + ADMIN_PT,
                 absent=OURS_EN + ADMIN_EN)


def test_PLT_i18n_error_page_follows_the_user_language(compiled_catalogue, app, client, tenants):
    a = tenants["a"]
    assert login(client, a.admin_email, PASSWORD).status_code == 302
    page = client.get("/admin/nao-existe/")
    assert page.status_code == 404
    assert_words(visible_text(page), present=("Erro", "Página não encontrada."))

    set_language(app, user_id=a.admin_id, user_lang="en")
    page = client.get("/admin/nao-existe/")
    assert page.status_code == 404
    assert_words(visible_text(page), present=("Error", "Page not found."),
                 absent=("Erro", "Página não encontrada."))


def test_PLT_i18n_login_page_is_portuguese(compiled_catalogue, client):
    page = client.get("/login")
    assert page.status_code == 200
    assert 'lang="pt-BR"' in page.get_data(as_text=True)
    assert_words(visible_text(page), present=("Entrar", "E-mail", "Senha"),
                 absent=("Log in", "Email", "Password"))


# --- time zone -------------------------------------------------------------------------


def _timezone_during(client, url: str) -> str:
    """flask_babel.get_timezone() as seen inside a real request to `url`."""
    from flask_babel import get_timezone

    seen = []

    def record(sender, template, context, **extra):
        seen.append(str(get_timezone()))

    with template_rendered.connected_to(record, client.application):
        assert client.get(url).status_code == 200
    assert seen, f"no template rendered for {url}"
    return seen[0]


def test_PLT_i18n_company_timezone_defaults_to_sao_paulo(compiled_catalogue, app, client):
    from backoffice.services import saas

    with app.app_context():
        company, admin = saas.create_company(
            name="Gama Fuso", plan=None, admin_name="Admin Gama",
            admin_email="admin-gama@example.com", admin_password=PASSWORD,
        )
        db.session.commit()
        assert company.timezone == "America/Sao_Paulo"
        assert company.language == "pt_BR"
        company_id = company.id

    assert login(client, "admin-gama@example.com", PASSWORD).status_code == 302
    assert _timezone_during(client, "/admin/") == "America/Sao_Paulo"

    # It is the company's setting, not a constant.
    with app.app_context():
        db.session.get(Company, company_id).timezone = "America/Manaus"
        db.session.commit()
    assert _timezone_during(client, "/admin/") == "America/Manaus"


def test_PLT_i18n_anonymous_timezone_is_sao_paulo(compiled_catalogue, client):
    assert _timezone_during(client, "/login") == "America/Sao_Paulo"
