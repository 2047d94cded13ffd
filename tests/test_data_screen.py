"""The "Importar/exportar registros" screen (IMP-1..IMP-4, EXP-1) over HTTP, its routes'
isolation walked generically, and the `flask contacts import` twin."""
from __future__ import annotations

import html
import io
import re

import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models import Company, Contact, ContactField, DataJob
from backoffice.models.data_jobs import KIND_EXPORT, KIND_IMPORT
from tests.admin_registry import admin_views, model_views
from tests.conftest import flashes, login
from tests.factories import gen_group, gen_user

# By hand, as Excel pt-BR saves "CSV (separado por ponto e vírgula)": cp1252, CRLF.
EXCEL = ("Nome;Telefone;CPF/CNPJ;Etiquetas;Aniversário\r\n"
         "João Conceição;(11) 98765-4321;529.982.247-25;VIP;01/02\r\n"
         "Ana Araújo;11 3456-7890;;;\r\n"
         "Sem Telefone;;;;\r\n"
         "Bad CPF;(21) 99876-5432;123.456.789-00;;\r\n").encode("cp1252")


@pytest.fixture
def a_client(app, tenants):
    client = app.test_client()
    login(client, tenants["a"].admin_email)
    return client


def upload(client, data: bytes, name="clientes.csv"):
    return client.submit("/admin/data/importar", {"file": (io.BytesIO(data), name)},
                         content_type="multipart/form-data")


def job_id_of(resp) -> int:
    match = re.search(r"/admin/data/importar/(\d+)$", resp.headers["Location"])
    assert match, resp.headers.get("Location")
    return int(match.group(1))


def test_IMP_1_template_download_has_the_columns_in_excel_format(app, tenants, a_client):
    resp = a_client.get("/admin/data/modelo.csv")
    assert resp.status_code == 200
    assert resp.data.startswith(b"\xef\xbb\xbf")
    header = resp.data.decode("utf-8-sig").splitlines()[0].split(";")
    assert header[:2] == ["Nome", "Telefone"] and "CPF/CNPJ" in header
    assert "Campo exclusivo A" in header  # the company's custom field, not B's
    assert "Campo exclusivo B" not in header


def test_IMP_3_upload_preview_shows_detected_format_and_columns(app, tenants, a_client):
    resp = upload(a_client, EXCEL)
    assert resp.status_code == 302
    page = html.unescape(a_client.get(resp.headers["Location"]).text)
    assert 'value="cp1252" selected' in page and 'value=";" selected' in page
    assert "João Conceição" in page  # decoded right: no mojibake
    assert "Colunas ignoradas" in page and "Aniversário" in page
    assert "Importar contatos" in page
    with app.app_context():  # nothing written by a preview
        assert db.session.scalar(select(func.count(Contact.id)).where(
            Contact.company_id == tenants["a"].company_id)) == 1


def test_IMP_3_wrong_encoding_override_changes_the_preview(app, tenants, a_client):
    job_id = job_id_of(upload(a_client, EXCEL))
    a_client.submit(f"/admin/data/importar/{job_id}/formato", {"encoding": "utf-8-sig",
                                                              "delimiter": ","})
    page = html.unescape(a_client.get(f"/admin/data/importar/{job_id}").text)
    assert 'value="," selected' in page and "Faltam colunas obrigatórias" in page
    assert re.search(r'data-testid="run"\s+disabled', page)
    # running anyway is refused before anything is written
    resp = a_client.submit(f"/admin/data/importar/{job_id}/executar", {"update": "no"},
                           follow_redirects=True)
    assert "Faltam colunas obrigatórias" in html.unescape(resp.text)
    with app.app_context():
        assert db.session.get(DataJob, job_id).status == "draft"


def test_IMP_4_run_shows_the_summary_and_the_rejected_rows_report(app, tenants, a_client):
    job_id = job_id_of(upload(a_client, EXCEL))
    resp = a_client.submit(f"/admin/data/importar/{job_id}/executar", {"update": "no"})
    assert resp.status_code == 302
    status = a_client.get(f"/admin/data/tarefas/{job_id}/status").get_json()
    assert status["status"] == "done" and status["percent"] == 100
    assert (status["created"], status["rejected"], status["total"]) == (2, 2, 4)
    page = html.unescape(a_client.get(f"/admin/data/importar/{job_id}").text)
    assert "Concluída" in page and "Baixar linhas rejeitadas" in page
    report = a_client.get(f"/admin/data/importar/{job_id}/rejeitadas.csv")
    assert report.data.startswith(b"\xef\xbb\xbf")
    lines = report.data.decode("utf-8-sig").splitlines()
    assert lines[0] == "Linha;Motivo;Nome;Telefone;CPF/CNPJ;Etiquetas;Aniversário"
    assert lines[1].startswith("4;Telefone em branco.;Sem Telefone")
    assert lines[2].startswith("5;CPF inválido")
    index = html.unescape(a_client.get("/admin/data/").text)
    assert "clientes.csv" in index and "Importações anteriores" in index


def test_IMP_2_yes_shows_fields_and_only_ticked_ones_change(app, tenants, a_client):
    a_client.submit(f"/admin/data/importar/{job_id_of(upload(a_client, EXCEL))}/executar",
                    {"update": "no"})
    changed = EXCEL.replace("João Conceição".encode("cp1252"), b"Joao C.").replace(
        b";VIP;", b";Atacado;")
    job_id = job_id_of(upload(a_client, changed))
    page = a_client.get(f"/admin/data/importar/{job_id}").text
    assert 'name="fields" value="tags"' in page and 'name="fields" value="name"' in page
    resp = a_client.submit(f"/admin/data/importar/{job_id}/executar", {"update": "yes"},
                           follow_redirects=True)
    assert "Marque ao menos um campo" in html.unescape(resp.text)
    a_client.submit(f"/admin/data/importar/{job_id}/executar", {"update": "yes", "fields": ["tags"]})
    with app.app_context():
        joao = db.session.scalar(select(Contact).where(Contact.phone == "+5511987654321"))
        assert joao.name == "João Conceição"  # not ticked: kept
        assert [t.name for t in joao.tags] == ["Atacado"]
        job = db.session.get(DataJob, job_id)
        assert (job.created, job.updated, job.unchanged) == (0, 1, 1)


@pytest.mark.parametrize("data, name, message", [
    (b"", "vazio.csv", "O arquivo está vazio"),
    (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 100, "planilha.csv", "planilha do Excel (.xlsx)"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "foto.csv", "é uma imagem"),
])
def test_IMP_3_not_a_csv_is_refused_with_a_clear_message(app, tenants, a_client, data, name, message):
    resp = upload(a_client, data, name)
    page = html.unescape(a_client.get(resp.headers["Location"]).text)
    assert message in page
    with app.app_context():
        assert db.session.scalar(select(func.count(DataJob.id))) == 0


def test_IMP_3_header_only_file_cannot_run(app, tenants, a_client):
    job_id = job_id_of(upload(a_client, b"Nome;Telefone\r\n"))
    page = html.unescape(a_client.get(f"/admin/data/importar/{job_id}").text)
    assert "só tem o cabeçalho" in page


def test_IMP_3_oversize_upload_gets_the_limit_message(app, tenants, a_client):
    app.config["IMPORT_MAX_BYTES"] = 1024
    resp = upload(a_client, EXCEL * 100)
    assert resp.status_code == 302
    page = html.unescape(a_client.get(resp.headers["Location"]).text)
    assert "passa do limite de 1,0 KB" in page or "passa do limite" in page
    with app.app_context():
        assert db.session.scalar(select(func.count(DataJob.id))) == 0


def test_IMP_4_a_group_without_import_right_cannot_upload_or_open(app, tenants):
    with app.app_context():
        company = db.session.get(Company, tenants["a"].company_id)
        viewer = gen_group(company, "Só exporta", ["imports.view", "contacts.view"])
        gen_user(company, "exporta@example.com", viewer)
        db.session.commit()
    client = app.test_client()
    login(client, "exporta@example.com")
    assert "não pode importar" in html.unescape(client.get("/admin/data/").text)
    assert upload(client, EXCEL).status_code == 403


def test_EXP_1_export_from_the_screen_runs_and_downloads(app, tenants, a_client):
    page = a_client.get("/admin/data/?tab=export").text
    assert 'value="contacts"' in page and 'value="audit"' in page
    resp = a_client.submit("/admin/data/exportar", {"collection": "contacts"})
    assert resp.status_code == 302
    job_page = a_client.get(resp.headers["Location"])
    assert "Baixar arquivo" in job_page.text
    job_id = int(resp.headers["Location"].rstrip("/").split("/")[-1])
    assert a_client.get(f"/admin/data/tarefas/{job_id}/status").get_json()["status"] == "done"
    file = a_client.get(f"/admin/data/exportar/{job_id}/arquivo")
    assert file.status_code == 200 and file.data.startswith(b"\xef\xbb\xbf")
    text = file.data.decode("utf-8-sig")
    assert "Contato exclusivo A" in text and "Contato exclusivo B" not in text
    resp = a_client.submit("/admin/data/exportar", {"collection": "planetas"}, follow_redirects=True)
    assert any("desconhecida" in f.lower() or "coleção" in f.lower() for f in flashes(resp.text))


def test_EXP_1_admin_list_exports_are_excel_csv(app, tenants, a_client):
    """EXP-1 also for the per-screen export buttons: ";" and UTF-8 with BOM."""
    data = a_client.get("/admin/contacts/export/csv/").data
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig").splitlines()[0].startswith("Nome;Telefone;")


# -- UX-8: buttons that say what they do, counts that add up, rejected rows on screen,
#    the column mapping chosen in the preview ------------------------------------------


def test_UX_8_buttons_name_their_action(app, tenants, a_client):
    export_tab = html.unescape(a_client.get("/admin/data/?tab=export").text)
    assert re.search(r'data-testid="export-submit">Exportar</button>', export_tab)
    preview = html.unescape(a_client.get(
        f"/admin/data/importar/{job_id_of(upload(a_client, EXCEL))}").text)
    assert re.search(r'data-testid="run">Importar contatos</button>', preview)
    assert "Ler o arquivo de novo" in preview
    assert "Executar operação" not in export_tab + preview


def test_UX_8_summary_counts_blank_lines_and_adds_up(app, tenants, a_client):
    data = ("Nome;Telefone\r\n\r\nAna;(11) 97777-0001\r\n;\r\nSem Telefone;\r\n\r\n"
            "Bruno;(11) 97777-0002\r\n").encode("cp1252")
    job_id = job_id_of(upload(a_client, data))
    a_client.submit(f"/admin/data/importar/{job_id}/executar", {"update": "no"})
    s = a_client.get(f"/admin/data/tarefas/{job_id}/status").get_json()
    counts = tuple(s[k] for k in ("created", "updated", "unchanged", "skipped", "rejected"))
    assert counts == (2, 0, 0, 3, 1)
    assert s["total"] == s["processed"] == 6 == (s["created"] + s["updated"] + s["unchanged"]
                                                 + s["skipped"] + s["rejected"])
    page = html.unescape(a_client.get(f"/admin/data/importar/{job_id}").text)
    assert re.search(r'Linhas em branco \(ignoradas\)</th><td data-field="skipped">3<', page)
    assert re.search(r'Total de linhas do arquivo</th><td data-field="processed">6<', page)
    index = a_client.get("/admin/data/").text
    assert "<th>Em branco</th>" in index and "<td>3</td>" in index


def rejected_on_screen(page: str) -> list[tuple[str, str]]:
    section = page.split('data-testid="rejected-rows"', 1)[1].split("</section>", 1)[0]
    return [(html.unescape(a), html.unescape(b)) for a, b in
            re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td></tr>", section)]


def test_UX_8_first_rejected_rows_shown_on_screen_with_line_and_reason(app, tenants, a_client):
    job_id = job_id_of(upload(a_client, EXCEL))
    a_client.submit(f"/admin/data/importar/{job_id}/executar", {"update": "no"})
    page = a_client.get(f"/admin/data/importar/{job_id}").text
    shown = rejected_on_screen(page)
    assert shown[0] == ("4", "Telefone em branco.")
    assert shown[1][0] == "5" and shown[1][1].startswith("CPF inválido")
    assert re.search(r'id="job-rejections-more"\s+hidden', page)  # all of them shown
    status = a_client.get(f"/admin/data/tarefas/{job_id}/status").get_json()
    assert [(str(r["line"]), r["reason"]) for r in status["rejections"]] == shown

    # many bad rows: the first 20 on screen, escaped, and a pointer to the full CSV
    bad = "Nome;Telefone\r\n" + "".join(f"Linha {n};<b>{n}</b>\r\n" for n in range(25))
    job_id = job_id_of(upload(a_client, bad.encode("cp1252")))
    a_client.submit(f"/admin/data/importar/{job_id}/executar", {"update": "no"})
    page = a_client.get(f"/admin/data/importar/{job_id}").text
    shown = rejected_on_screen(page)
    assert len(shown) == 20 and shown[0] == ("2", 'Telefone inválido: "<b>0</b>".')
    assert "&lt;b&gt;0&lt;/b&gt;" in page and "<b>0</b>" not in page
    assert "Mostrando as primeiras 20" in html.unescape(page)
    assert not re.search(r'id="job-rejections-more"\s+hidden', page)


def chosen_columns(page: str) -> dict[str, str]:
    """The value each column select of the preview starts on."""
    return {name: re.search(r'<option value="([^"]*)" selected>', body).group(1)
            for name, body in re.findall(r'<select[^>]*name="(column-\d+)"[^>]*>(.*?)</select>',
                                         page, re.S)}


def test_UX_8_preview_mapping_can_be_changed_and_is_checked_by_the_server(app, tenants, a_client):
    with app.app_context():
        db.session.add(ContactField(company_id=tenants["a"].company_id, label="Código ERP",
                                    key="codigo_erp"))
        db.session.commit()
    data = ("Cliente;Zap do cliente;Aniversário;Cód.\r\n"
            "Helena Prado;(11) 94444-1234;01/02;ERP-1\r\n").encode("cp1252")
    job_id = job_id_of(upload(a_client, data))
    page = html.unescape(a_client.get(f"/admin/data/importar/{job_id}").text)
    # the detector's guess prefills the selects; the missed phone column is on "Ignorar"
    selects = dict(re.findall(r'<select[^>]*name="(column-\d)"[^>]*>(.*?)</select>', page, re.S))
    assert sorted(selects) == ["column-0", "column-1", "column-2", "column-3"]
    assert chosen_columns(page) == {"column-0": "name", "column-1": "", "column-2": "",
                                    "column-3": ""}
    assert "Ignorar esta coluna" in selects["column-1"] and "Código ERP" in selects["column-1"]
    assert "Faltam colunas obrigatórias: Telefone" in page
    assert re.search(r'data-testid="run"\s+disabled', page)

    url = f"/admin/data/importar/{job_id}/executar"
    for form, message in [
        ({"column-0": "name", "column-1": "planeta"},
         'Campo desconhecido escolhido para a coluna "Zap do cliente".'),
        ({"column-0": "name", "column-1": "phone", "column-3": "phone"},
         'O campo Telefone foi escolhido para duas colunas ("Zap do cliente" e "Cód.").'),
        ({"column-0": "name", "column-1": ""},
         "Escolha a coluna dos campos obrigatórios: Telefone."),
    ]:
        resp = a_client.submit(url, {"update": "no", **form}, follow_redirects=True)
        assert any(message in html.unescape(f) for f in flashes(resp.text)), flashes(resp.text)
        # the preview comes back with the user's (known) choices in the selects
        assert chosen_columns(resp.text)["column-1"] == form["column-1"].replace("planeta", "")
        with app.app_context():
            assert db.session.get(DataJob, job_id).status == "draft"
            assert db.session.scalar(select(func.count(Contact.id)).where(
                Contact.phone == "+5511944441234")) == 0

    a_client.submit(url, {"update": "no", "column-0": "name", "column-1": "phone",
                          "column-2": "", "column-3": "cf:codigo_erp"})
    with app.app_context():
        job = db.session.get(DataJob, job_id)
        assert (job.status, job.created, job.rejected) == ("done", 1, 0)
        helena = db.session.scalar(select(Contact).where(Contact.phone == "+5511944441234"))
        assert helena.name == "Helena Prado" and helena.custom_fields == {"codigo_erp": "ERP-1"}


# -- every route of the screen, generically ------------------------------------------


def plain_admin_routes(app):
    """Routes of admin views that are not model views (Flask-Admin's own CRUD routes
    are covered by test_isolation/test_permissions)."""
    models = {v.endpoint for v in model_views(app)}
    plain = {v.endpoint for v in admin_views(app)} - models - {"admin"}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] in plain:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


@pytest.fixture
def jobs(app, tenants, a_client):
    """An import and an export of company A's admin."""
    job_id = job_id_of(upload(a_client, EXCEL))
    a_client.submit(f"/admin/data/importar/{job_id}/executar", {"update": "no"})
    resp = a_client.submit("/admin/data/exportar", {"collection": "tags"})
    export_id = int(resp.headers["Location"].rstrip("/").split("/")[-1])
    return {KIND_IMPORT: job_id, KIND_EXPORT: export_id}


def fill(rule, jobs) -> str:
    values = {}
    for arg in rule.arguments:
        if arg != "job_id":
            pytest.fail(f"{rule.rule}: teach this test what <{arg}> is")
        values[arg] = jobs[KIND_EXPORT] if "export" in rule.endpoint else jobs[KIND_IMPORT]
    return rule.build(values, append_unknown=False)[1]


def call(client, method, url):
    if method == "GET":
        return client.get(url)
    return client.submit(url, {})


def snapshot(app):
    with app.app_context():
        return sorted(db.session.execute(select(DataJob.id, DataJob.status, DataJob.processed,
                                                DataJob.encoding, DataJob.delimiter)).all()), \
            db.session.scalar(select(func.count(Contact.id)))


def test_PLT_1_another_company_gets_404_on_every_job_route(app, tenants, jobs):
    before = snapshot(app)
    other = app.test_client()
    login(other, tenants["b"].admin_email)
    checked = 0
    for rule, method in plain_admin_routes(app):
        if "job_id" not in rule.arguments:
            continue
        url = fill(rule, jobs)
        assert call(other, method, url).status_code == 404, (method, url)
        checked += 1
    assert checked >= 8
    assert snapshot(app) == before


def test_PLT_3_anonymous_and_users_without_the_right_get_nothing(app, tenants, jobs):
    anonymous = app.test_client()
    with app.app_context():
        company = db.session.get(Company, tenants["a"].company_id)
        gen_user(company, "semdados@example.com", gen_group(company, "Sem dados", ["company.view"]))
        db.session.commit()
    limited = app.test_client()
    login(limited, "semdados@example.com")
    for rule, method in plain_admin_routes(app):
        if not rule.endpoint.startswith("data."):
            continue
        url = fill(rule, jobs)
        resp = call(anonymous, method, url)
        assert resp.status_code in (302, 400) and "/login" in resp.headers.get("Location", "/login"), url
        assert call(limited, method, url).status_code == 403, (method, url)


def test_EXP_1_an_export_is_only_for_who_asked_for_it(app, tenants, jobs):
    """An export holds what its requester may see: a colleague with the same screen
    cannot fetch it."""
    with app.app_context():
        company = db.session.get(Company, tenants["a"].company_id)
        group = gen_group(company, "Colegas", ["imports.view", "tags.view"])
        gen_user(company, "colega@example.com", group)
        db.session.commit()
    colleague = app.test_client()
    login(colleague, "colega@example.com")
    export_id = jobs[KIND_EXPORT]
    for url in (f"/admin/data/exportar/{export_id}", f"/admin/data/exportar/{export_id}/arquivo",
                f"/admin/data/tarefas/{export_id}/status"):
        assert colleague.get(url).status_code == 404, url


def test_positive_control_the_owner_reads_every_get_route(app, tenants, jobs, a_client):
    for rule, method in plain_admin_routes(app):
        if method == "GET" and rule.endpoint.startswith("data."):
            assert a_client.get(fill(rule, jobs)).status_code == 200, rule.rule


# -- CLI -----------------------------------------------------------------------------


def test_IMP_1_cli_import_uses_the_same_service(app, tenants, tmp_path):
    from backoffice.cli.contacts import contacts_import

    path = tmp_path / "clientes.csv"
    path.write_bytes(EXCEL)
    runner = app.test_cli_runner()
    result = runner.invoke(contacts_import, [str(path), "--user", tenants["a"].admin_email])
    assert result.exit_code == 0, result.output
    assert "2 criado(s)" in result.output and "2 rejeitado(s)" in result.output
    assert "linha 4: Telefone em branco." in result.output
    # the same file again, updating names: nothing differs, nothing changes
    result = runner.invoke(contacts_import, [str(path), "--user", tenants["a"].admin_email,
                                             "--update", "name,tags"])
    assert result.exit_code == 0, result.output
    assert "0 criado(s), 0 atualizado(s), 2 sem alteração" in result.output
    with app.app_context():
        jobs = db.session.scalars(select(DataJob).order_by(DataJob.id)).all()
        assert [j.user_id for j in jobs] == [tenants["a"].admin_id] * 2
        assert jobs[1].update_fields == ["name", "tags"]
    result = runner.invoke(contacts_import, [str(path), "--user", "ninguem@example.com"])
    assert result.exit_code != 0 and "Nenhum usuário ativo" in result.output


def test_IMP_3_a_file_over_the_form_limit_but_under_the_import_limit_is_accepted(app, tenants, a_client):
    """The import has its own limit: a CSV larger than the 25 MB of ordinary forms (here
    scaled down) still goes in, and one over the import limit gets the message, not a 413."""
    app.config["MAX_CONTENT_LENGTH"] = 1024
    app.config["IMPORT_MAX_BYTES"] = 400 * 1024
    body = EXCEL + b"".join(f"Cliente {i};(11) 9{i:04d}-{i:04d};;;\r\n".encode() for i in range(2000))
    assert 1024 < len(body) < 400 * 1024
    resp = upload(a_client, body)
    assert resp.status_code == 302 and "/admin/data/importar/" in resp.headers["Location"]
    resp = upload(a_client, body * 10)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/data/")
    assert "passa do limite de 400" in html.unescape(a_client.get("/admin/data/").text)
