"""TPL-1..TPL-3 Templates de mensagens: five kinds, shortcuts, which kinds may open a
ticket, and attachment files (type by content + extension, size, storage, serving)."""
from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models import Company, MessageTemplate
from backoffice.models.templates import TEMPLATE_KINDS
from tests.conftest import flashes, login
from tests.factories import gen_group, gen_user

NOT_ALLOWED = "Tipo de arquivo não permitido"
TOO_BIG = "Arquivo grande demais: máximo 16 MB"


def _png() -> bytes:
    """A real 1x1 PNG, chunk by chunk."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


PNG = _png()
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
       b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


def _docx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


@pytest.fixture
def a_client(app, tenants, client):
    assert login(client, tenants["a"].admin_email).status_code == 302
    return client


@pytest.fixture
def b_client(app, tenants):
    client = app.test_client()
    assert login(client, tenants["b"].admin_email).status_code == 302
    return client


def _new(client, kind="text", shortcut="/bomdia", title="Bom dia", body="Bom dia! Como posso ajudar?",
         upload=None, **extra):
    data = {"kind": kind, "shortcut": shortcut, "title": title, "body": body, "active": "y", **extra}
    if upload is not None:
        data["upload"] = (io.BytesIO(upload[1]), upload[0])
    return client.submit("/admin/templates/new/", data, content_type="multipart/form-data")


def _edit(client, tid, **data):
    upload = data.pop("upload", None)
    if upload is not None:
        data["upload"] = (io.BytesIO(upload[1]), upload[0])
    data.setdefault("active", "y")
    return client.submit(f"/admin/templates/edit/?id={tid}", data, content_type="multipart/form-data")


def _rows(app, **where):
    with app.app_context():
        q = select(MessageTemplate)
        for key, value in where.items():
            q = q.where(getattr(MessageTemplate, key) == value)
        rows = db.session.scalars(q.order_by(MessageTemplate.id)).all()
        db.session.expunge_all()
        return rows


def _count(app):
    with app.app_context():
        return db.session.scalar(select(func.count(MessageTemplate.id)))


def _files(app) -> list[Path]:
    root = Path(app.instance_path) / "uploads"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# --- TPL-1 five kinds -------------------------------------------------------------------------


def test_TPL_1_each_of_the_five_kinds_is_created_and_listed_with_its_icon(app, tenants, a_client):
    assert list(TEMPLATE_KINDS) == ["text", "attachment", "instagram", "facebook", "telegram"]
    for kind in TEMPLATE_KINDS:
        upload = ("foto.png", PNG) if kind == "attachment" else None
        resp = _new(a_client, kind=kind, shortcut=f"/t-{kind}", title=f"Modelo {kind}", upload=upload)
        assert resp.status_code == 302, flashes(resp.text)
    assert {r.kind for r in _rows(app, company_id=tenants["a"].company_id)} >= set(TEMPLATE_KINDS)

    page = a_client.get("/admin/templates/").text
    for label, icon in (("Texto", "fa-comment-alt"), ("Anexo", "fa-paperclip"),
                        ("Instagram", "fa-instagram"), ("Facebook", "fa-facebook"),
                        ("Telegram", "fa-telegram-plane")):
        assert re.search(rf'<i class="[^"]*{icon}[^"]*"[^>]*></i> {label}</span>', page), label
    assert "fontawesome-free-5.1.0-web/css/all.css" in page  # Flask-Admin's bundled icons
    assert a_client.get("/admin/static/vendor/fontawesome-free-5.1.0-web/css/all.css").status_code == 200

    # filter by kind
    only_ig = a_client.get("/admin/templates/?flt0_0=instagram").text
    assert "Modelo instagram" in only_ig and "Modelo facebook" not in only_ig
    assert "Modelo text" not in only_ig


def test_TPL_1_unknown_kind_is_refused(app, tenants, a_client):
    before = _count(app)
    resp = _new(a_client, kind="whatsapp", shortcut="/zap")
    assert resp.status_code == 200 and _count(app) == before


def test_TPL_1_search_by_shortcut_title_and_body(app, tenants, a_client):
    _new(a_client, shortcut="/boleto", title="Segunda via", body="Segue o link do boleto atualizado")
    _new(a_client, shortcut="/horario", title="Horário", body="Atendemos das 8h às 18h")
    for term in ("boleto", "Segunda via", "link do boleto"):
        page = a_client.get(f"/admin/templates/?search={term}").text
        assert "Segunda via" in page and "/horario" not in page, term


# --- shortcut ---------------------------------------------------------------------------------


def test_TPL_1_shortcut_format_is_checked_and_stored_lower_case(app, tenants, a_client):
    before = _count(app)
    for bad in ("/bom dia", "/ação", "/", "//x", "/-x", "/x<script>", "/a\nb"):
        resp = _new(a_client, shortcut=bad)
        assert resp.status_code == 200, bad
        assert "Atalho inválido" in resp.text, bad
    assert _new(a_client, shortcut="/" + "a" * 40).status_code == 200  # 41 characters
    assert _count(app) == before

    assert _new(a_client, shortcut="BomDia").status_code == 302  # "/" added, lower-cased
    (row,) = _rows(app, company_id=tenants["a"].company_id, title="Bom dia")
    assert row.shortcut == "/bomdia"
    assert _new(a_client, shortcut="/" + "a" * 39, title="Longo").status_code == 302


def test_TPL_1_shortcut_unique_per_company_ignoring_case(app, tenants, a_client, b_client):
    assert _new(a_client, shortcut="/bomdia").status_code == 302
    before = _count(app)
    for dup in ("/BOMDIA", "/BomDia", "  /bomdia ", "bomdia"):
        resp = _new(a_client, shortcut=dup, title="Outro")
        assert resp.status_code == 200, dup
        assert "Já existe um template com o atalho /bomdia." in resp.text, dup
    assert _count(app) == before
    # Another company has its own /bomdia.
    assert _new(b_client, shortcut="/BomDia").status_code == 302
    # Renaming onto an existing shortcut is refused.
    assert _new(a_client, shortcut="/boatarde", title="Boa tarde").status_code == 302
    (other,) = _rows(app, shortcut="/boatarde")
    resp = _edit(a_client, other.id, kind="text", shortcut="/BOMDIA", title="Boa tarde", body="Oi")
    assert "Já existe um template com o atalho /bomdia." in resp.text
    assert _rows(app, id=other.id)[0].shortcut == "/boatarde"
    # Saving a template under its own shortcut is fine.
    assert _edit(a_client, other.id, kind="text", shortcut="/BoaTarde", title="Boa tarde!",
                 body="Oi").status_code == 302


# --- TPL-2 / TPL-3 which kinds open tickets ----------------------------------------------------


@pytest.mark.parametrize("kind, opens", [("text", False), ("attachment", False),
                                         ("instagram", True), ("facebook", True),
                                         ("telegram", True)])
def test_TPL_2_TPL_3_can_open_ticket_follows_the_kind(kind, opens):
    assert MessageTemplate(kind=kind).can_open_ticket is opens


def test_TPL_2_TPL_3_list_says_which_templates_can_open_a_ticket(app, tenants, a_client):
    _new(a_client, kind="telegram", shortcut="/tg", title="Retomar conversa Telegram")
    _new(a_client, kind="text", shortcut="/tx", title="Atalho de texto")
    page = a_client.get("/admin/templates/").text
    assert "Pode abrir atendimento" in page

    def cell(title):
        row = re.search(rf"<tr>(?:(?!</tr>).)*{title}(?:(?!</tr>).)*</tr>", page, re.S).group(0)
        return re.findall(r'col-can_open_ticket">\s*(\w+)', row)

    assert cell("Retomar conversa Telegram") == ["Sim"]
    assert cell("Atalho de texto") == ["Não"]
    # No form field can make a text template open tickets: it is derived, not stored.
    assert "can_open_ticket" not in a_client.get("/admin/templates/new/").text.split("<form", 1)[1]


def test_TPL_2_text_kinds_need_a_message_attachment_needs_a_file(app, tenants, a_client):
    before = _count(app)
    resp = _new(a_client, kind="instagram", shortcut="/ig", body="")
    assert "Informe a mensagem do template." in resp.text
    resp = _new(a_client, kind="attachment", shortcut="/anexo", body="")
    assert "Envie o arquivo do template de anexo." in resp.text
    resp = _new(a_client, kind="text", shortcut="/comarquivo", upload=("foto.png", PNG))
    assert "Só templates do tipo Anexo levam arquivo." in resp.text
    assert _count(app) == before and _files(app) == []
    # an attachment's caption is optional
    assert _new(a_client, kind="attachment", shortcut="/anexo", body="",
                upload=("foto.png", PNG)).status_code == 302


# --- TPL-2 attachment files --------------------------------------------------------------------


@pytest.mark.parametrize("name, data, mime", [
    ("Foto do Produto.PNG", PNG, "image/png"),
    ("contrato.pdf", PDF, "application/pdf"),
    ("proposta.docx", _docx(),
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
])
def test_TPL_2_attachment_is_stored_under_a_random_name(app, tenants, a_client, name, data, mime):
    a = tenants["a"]
    resp = _new(a_client, kind="attachment", shortcut="/arquivo", title="Arquivo", upload=(name, data))
    assert resp.status_code == 302, flashes(resp.text)
    (row,) = _rows(app, shortcut="/arquivo")
    assert (row.file_name, row.file_mime, row.file_size) == (name, mime, len(data))
    (path,) = _files(app)
    assert path.parent == Path(app.instance_path) / "uploads" / str(a.company_id) / "templates"
    assert re.fullmatch(r"[0-9a-f]{32}", path.name) and path.name == row.file_key
    assert path.read_bytes() == data
    assert name not in str(path)


@pytest.mark.parametrize("name, data", [
    ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 64),
    ("foto.png", b"isto e um texto qualquer, nao uma imagem\n"),   # text renamed .png
    ("foto.png", PDF),                                             # content and name disagree
    ("imagem.exe", PNG),                                           # right bytes, wrong extension
    ("planilha.xlsx", _docx()),                                    # a zip, but not a workbook
    ("vazio.pdf", b""),
])
def test_TPL_2_disallowed_file_types_are_refused_and_nothing_is_kept(app, tenants, a_client, name, data):
    before = _count(app)
    resp = _new(a_client, kind="attachment", shortcut="/ruim", upload=(name, data))
    assert resp.status_code == 200
    assert f"{NOT_ALLOWED}: {name}" in resp.text
    assert _count(app) == before and _files(app) == []


def test_TPL_2_oversize_file_is_refused_and_nothing_is_kept(app, tenants, a_client):
    before = _count(app)
    big = PNG + b"\x00" * (16 * 1024 * 1024 + 1 - len(PNG))
    resp = _new(a_client, kind="attachment", shortcut="/grande", upload=("grande.png", big))
    assert resp.status_code == 200
    assert TOO_BIG in resp.text
    assert _count(app) == before and _files(app) == []
    # exactly at the limit is fine
    resp = _new(a_client, kind="attachment", shortcut="/limite", upload=("limite.png", big[:-1]))
    assert resp.status_code == 302, flashes(resp.text)


def test_TPL_2_size_limit_is_configurable(app, tenants, a_client):
    app.config["TEMPLATE_MAX_BYTES"] = 1024 * 1024
    resp = _new(a_client, kind="attachment", shortcut="/medio",
                upload=("medio.png", PNG + b"\x00" * (1024 * 1024)))
    assert "Arquivo grande demais: máximo 1 MB" in resp.text
    assert _files(app) == []


def test_TPL_2_file_is_served_only_to_same_company_with_the_right(app, tenants, a_client, b_client):
    a = tenants["a"]
    _new(a_client, kind="attachment", shortcut="/contrato", title="Contrato",
         upload=("Contrato Março 2026.pdf", PDF))
    (row,) = _rows(app, shortcut="/contrato")
    url = f"/admin/templates/file/{row.id}"

    resp = a_client.get(url)
    assert resp.status_code == 200 and resp.data == PDF
    assert resp.headers["Content-Type"] == "application/pdf"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''Contrato%20Mar%C3%A7o%202026.pdf" in disposition
    assert url in a_client.get(f"/admin/templates/edit/?id={row.id}").text
    details = a_client.get(f"/admin/templates/details/?id={row.id}").text
    assert url in details and "Contrato Março 2026.pdf" in details

    assert b_client.get(url).status_code == 404           # another company
    assert b_client.get("/admin/templates/file/999999").status_code == 404
    assert app.test_client().get(url).status_code == 302  # anonymous -> login

    with app.app_context():
        company = db.session.get(Company, a.company_id)
        gen_user(company, "sem-templates@example.com", gen_group(company, "Sem templates", ["company.view"]))
        gen_user(company, "so-ver@example.com", gen_group(company, "Só ver", ["templates.view"]))
        db.session.commit()
    no_right = app.test_client()
    login(no_right, "sem-templates@example.com")
    assert no_right.get(url).status_code == 403
    viewer = app.test_client()
    login(viewer, "so-ver@example.com")
    assert viewer.get(url).status_code == 200


def test_TPL_2_file_removed_on_delete_replace_and_kind_change(app, tenants, a_client):
    _new(a_client, kind="attachment", shortcut="/um", title="Um", upload=("um.png", PNG))
    (one,) = _rows(app, shortcut="/um")
    first = _files(app)
    assert len(first) == 1

    # replace the file: the new one is kept, the old one removed
    resp = _edit(a_client, one.id, kind="attachment", shortcut="/um", title="Um", body="",
                 upload=("dois.pdf", PDF))
    assert resp.status_code == 302, flashes(resp.text)
    (now,) = _files(app)
    assert now != first[0] and now.read_bytes() == PDF
    assert _rows(app, id=one.id)[0].file_name == "dois.pdf"

    # editing without a new file keeps it
    assert _edit(a_client, one.id, kind="attachment", shortcut="/um", title="Um!",
                 body="").status_code == 302
    assert _files(app) == [now]

    # a refused replacement keeps the old file and row
    resp = _edit(a_client, one.id, kind="attachment", shortcut="/um", title="Um", body="",
                 upload=("virus.exe", b"MZ" + b"\x00" * 10))
    assert NOT_ALLOWED in resp.text and _files(app) == [now]

    # switching to a text kind drops the file
    assert _edit(a_client, one.id, kind="text", shortcut="/um", title="Um",
                 body="Agora é texto").status_code == 302
    assert _files(app) == []
    row = _rows(app, id=one.id)[0]
    assert row.file_key is None and row.file_name is None

    # delete (single and bulk) removes the file
    _new(a_client, kind="attachment", shortcut="/dois", title="Dois", upload=("d.png", PNG))
    _new(a_client, kind="attachment", shortcut="/tres", title="Tres", upload=("t.png", PNG))
    (two,) = _rows(app, shortcut="/dois")
    (three,) = _rows(app, shortcut="/tres")
    assert len(_files(app)) == 2
    a_client.submit("/admin/templates/delete/", {"id": str(two.id)})
    assert not _rows(app, id=two.id) and len(_files(app)) == 1
    a_client.submit("/admin/templates/action/", {"action": "delete", "rowid": str(three.id)})
    assert not _rows(app, id=three.id) and _files(app) == []


def test_TPL_2_failed_save_leaves_no_file(app, tenants, a_client, monkeypatch):
    """A file written before the commit is removed when the commit fails."""
    from backoffice.admin.templates import MessageTemplateView

    original = MessageTemplateView.on_model_change
    seen = []

    def failing(self, form, model, is_created):
        original(self, form, model, is_created)
        seen.append(_files(app))
        raise RuntimeError("commit failed")

    monkeypatch.setattr(MessageTemplateView, "on_model_change", failing)
    resp = _new(a_client, kind="attachment", shortcut="/falha", upload=("f.png", PNG))
    assert resp.status_code == 200
    assert len(seen) == 1 and len(seen[0]) == 1  # the file was on disk before the failure
    assert _rows(app, shortcut="/falha") == [] and _files(app) == []


def test_TPL_2_original_file_name_is_only_shown_escaped(app, tenants, a_client):
    name = "<img src=x onerror=alert(1)>.png"
    resp = _new(a_client, kind="attachment", shortcut="/xss", title="XSS", upload=(name, PNG))
    assert resp.status_code == 302, flashes(resp.text)
    (row,) = _rows(app, shortcut="/xss")
    assert row.file_name == name
    for page in (a_client.get(f"/admin/templates/edit/?id={row.id}").text,
                 a_client.get(f"/admin/templates/details/?id={row.id}").text):
        assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;.png" in page
    (path,) = _files(app)
    assert "<" not in path.name
