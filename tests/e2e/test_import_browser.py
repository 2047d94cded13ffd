"""Importar/exportar registros in a real browser (IMP-2, IMP-3, IMP-4, EXP-1): a
cp1252 spreadsheet of a few thousand rows uploaded, previewed, run as a background job
whose progress bar moves live, the rejected rows shown and downloaded, the column
mapping changed in the preview (UX-8); an export downloaded as
Excel CSV (";" and UTF-8 with BOM); a .xlsx renamed .csv refused in Portuguese."""
from __future__ import annotations

import csv
import io
import re
import time

import pytest
from playwright.sync_api import expect

from .conftest import DEMO_ADMIN

# make test runs these pages in the services pass, on PostgreSQL, whose import path (COPY,
# ON CONFLICT) differs most from SQLite's (Makefile)
pytestmark = pytest.mark.browser_on_services

VALID_ROWS = 3000
# Excel row number (the header is row 1) -> (cells, the Portuguese reason in the report)
BAD_ROWS = {
    10: (["Márcia Inválida", "123", "", ""], 'Telefone inválido: "123".'),
    1500: (["Açaí do Zé", "(11) 94000-0001", "111.111.111-11", "VIP"],
           "CPF inválido: números com todos os dígitos iguais não existem."),
    2900: (["Conceição Curta", "123", "", "Atacado"], 'Telefone inválido: "123".'),
}
TOTAL_ROWS = VALID_ROWS + len(BAD_ROWS)
HEADER = ["Nome", "Telefone", "CPF/CNPJ", "Etiquetas"]
REPORT_HEADER = "Linha;Motivo;Nome;Telefone;CPF/CNPJ;Etiquetas"
FIRST_NAME = "João Conceição 0000"
JOB_DEADLINE_S = 180  # 3000 rows in 50-row batches; a benchmark may share the 2 cores


@pytest.fixture
def app_config(app_config):
    """The import runs as it does under `make run`: queued to the embedded worker thread
    (not eagerly inside the POST), in small batches so the bar has steps to show."""
    return {**app_config, "TASK_MODE": "embedded", "TASK_EMBEDDED_INTERVAL": 0.2,
            "IMPORT_BATCH_SIZE": 50}


@pytest.fixture
def slow_batches(monkeypatch):
    """At least 25 ms per committed batch (60 batches: 1.5 s), so that even a fast
    machine runs the job across several of the page's 0.7 s status polls. The import
    itself is unchanged: the pause comes after each batch's commit."""
    from backoffice.services import importer

    commit = importer._commit_progress

    def commit_then_pause(*args, **kwargs):
        commit(*args, **kwargs)
        time.sleep(0.025)

    monkeypatch.setattr(importer, "_commit_progress", commit_then_pause)


@pytest.fixture
def page_errors(page):
    """Like conftest's console_errors, plus any HTTP error of the page (a failing status
    poll), minus Chromium's own /favicon.ico request, which the app does not serve."""
    errors: list[str] = []

    def favicon(url: str) -> bool:
        return url.split("?")[0].endswith("/favicon.ico")

    page.on("console", lambda m: errors.append(f"{m.text} ({m.location.get('url')})")
            if m.type == "error" and not favicon(m.location.get("url") or "") else None)
    page.on("response", lambda r: errors.append(f"HTTP {r.status} {r.url}")
            if r.status >= 400 and not favicon(r.url) else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
    return errors


def excel_csv() -> bytes:
    """What Excel pt-BR saves as "CSV (separado por ponto e vírgula)": cp1252, ";", CRLF."""
    lines = [";".join(HEADER)]
    valid = 0
    for excel_row in range(2, TOTAL_ROWS + 2):
        if excel_row in BAD_ROWS:
            cells = BAD_ROWS[excel_row][0]
        else:
            # unique mobile numbers (11) 95000-0000, (11) 95000-0001, ...
            phone = f"(11) 9{5000 + valid // 10000:04d}-{valid % 10000:04d}"
            cells = [f"João Conceição {valid:04d}", phone, "", "Importados" if valid % 3 == 0 else ""]
            valid += 1
        lines.append(";".join(cells))
    assert valid == VALID_ROWS
    data = ("\r\n".join(lines) + "\r\n").encode("cp1252")
    assert "João".encode("cp1252") in data and "João".encode("utf-8") not in data
    return data


def open_data_screen(page):
    """Through the menu, as a user gets there: the side menu folds screens into groups
    (UX-5), so the group holding the link is opened first when it is closed."""
    link = page.get_by_role("link", name="Importar/exportar registros", exact=True)
    group = page.locator(".atende-menu-group", has=page.get_by_role(
        "link", name="Importar/exportar registros", exact=True, include_hidden=True))
    if group.count():
        if not link.is_visible():
            group.locator(".atende-group-toggle").click()
        # Bootstrap's collapse is "collapsing" while it slides open: click once it is open
        expect(group.locator(".atende-submenu")).to_have_class(re.compile(r"(^|\s)show(\s|$)"))
    else:  # the top navbar's dropdown
        page.locator("nav.navbar").get_by_role("link", name="Configurações", exact=True).click()
    link.click()
    expect(page).to_have_url(re.compile(r"/admin/data/$"))
    expect(page.get_by_role("heading", name="Importar/exportar registros", level=1)).to_be_visible()


def watch_progress(page, deadline_s: float = JOB_DEADLINE_S) -> list[int]:
    """aria-valuenow of the progress bar, read from the page until the job ends (the page
    updates it by polling the job's status). Returns the distinct values seen, in order."""
    bar = page.get_by_test_id("progress")
    seen: list[int] = []
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        # the status first: the page's script sets the bar before it marks the job ended
        status = page.get_by_test_id("job").get_attribute("data-status")
        value = int(bar.get_attribute("aria-valuenow"))
        if not seen or seen[-1] != value:
            seen.append(value)
        if status in ("done", "failed"):
            break
        page.wait_for_timeout(100)  # a polling interval, not an assertion
    return seen


def test_IMP_2_IMP_3_IMP_4_upload_preview_run_progress_and_rejected_rows_report(
        page, live_server, demo, log_in, page_errors, slow_batches, tmp_path):
    log_in(page, *DEMO_ADMIN)
    expect(page).to_have_url(f"{live_server}/admin/")
    open_data_screen(page)

    # -- upload ---------------------------------------------------------------------------
    source = tmp_path / "clientes-excel.csv"
    source.write_bytes(excel_csv())
    page.get_by_test_id("upload-file").set_input_files(source)
    page.get_by_test_id("upload-submit").click()

    # -- preview: cp1252 and ";" detected, the accents read right -------------------------
    expect(page).to_have_url(re.compile(r"/admin/data/importar/\d+$"), timeout=30_000)
    expect(page.get_by_role("heading", name="Importar contatos")).to_be_visible()
    expect(page.get_by_test_id("encoding")).to_have_value("cp1252")
    expect(page.get_by_test_id("delimiter")).to_have_value(";")
    table = page.get_by_test_id("preview-table")
    expect(table.locator("thead th")).to_have_text(HEADER)
    expect(table.locator("tbody tr").first.locator("td").first).to_have_text(FIRST_NAME)
    expect(table).to_contain_text("João Conceição 0001")
    expect(table).not_to_contain_text("JoÃ")  # no mojibake
    expect(page.get_by_test_id("preview-error")).to_have_count(0)
    expect(page.get_by_test_id("ignored-columns")).to_have_count(0)  # every column is known
    mapping = page.get_by_test_id("mapping")
    for label in HEADER:
        expect(mapping).to_contain_text(label)
    # UX-8: the columns can be reassigned; a field chosen twice stops the import until fixed
    run = page.get_by_role("button", name="Importar contatos")
    tags_column = mapping.get_by_label("Etiquetas", exact=True)
    expect(tags_column).to_have_value("tags")
    tags_column.select_option("name")
    expect(page.get_by_test_id("mapping-error")).to_contain_text(
        "O campo Nome foi escolhido para mais de uma coluna")
    expect(run).to_be_disabled()
    tags_column.select_option(label="Etiquetas")
    expect(page.get_by_test_id("mapping-error")).to_be_hidden()

    # -- IMP-2: the fields to update appear only with "Sim" -------------------------------
    fields = page.get_by_test_id("update-fields")
    expect(page.locator("#update-no")).to_be_checked()
    expect(fields).to_be_hidden()
    page.get_by_label("Sim", exact=True).check()
    expect(fields).to_be_visible()
    for label in ("Nome", "Telefone", "CPF/CNPJ", "Etiquetas"):
        expect(fields.get_by_label(label, exact=True)).to_be_visible()
    page.get_by_label("Não", exact=True).check()
    expect(fields).to_be_hidden()
    expect(page.locator("#update-yes")).not_to_be_checked()

    # -- run: the bar follows the background job up to 100% ------------------------------
    expect(run).to_be_enabled()
    run.click()
    expect(page).to_have_url(re.compile(r"/admin/data/importar/\d+$"))
    expect(page.get_by_role("heading", name=re.compile(r"^Importação #\d+$"))).to_be_visible(
        timeout=30_000)
    job_url = page.url
    seen = watch_progress(page)
    assert seen and seen[-1] == 100, f"the job did not finish in {JOB_DEADLINE_S}s: {seen}"
    assert any(0 < v < 100 for v in seen), f"no intermediate progress observed: {seen}"
    assert seen == sorted(seen), f"the bar went backwards: {seen}"

    bar = page.get_by_test_id("progress")
    expect(bar).to_have_attribute("aria-valuenow", "100")
    expect(bar).to_have_text("100%")
    assert bar.evaluate("el => el.style.width") == "100%"
    expect(page.get_by_test_id("job-status")).to_have_text("Concluída")
    expect(page.get_by_test_id("job-count")).to_have_text(f"{TOTAL_ROWS} de {TOTAL_ROWS} linhas")
    expect(page.get_by_test_id("job-error")).to_be_hidden()
    summary = page.get_by_test_id("job-summary")
    expect(summary).to_be_visible()
    expected = {"created": VALID_ROWS, "updated": 0, "unchanged": 0, "skipped": 0,
                "rejected": len(BAD_ROWS), "processed": TOTAL_ROWS}
    for field, number in expected.items():
        expect(summary.locator(f'[data-field="{field}"]')).to_have_text(str(number))
    # UX-8: the rejected rows on the screen, drawn by the polling script when the job ended
    rejected = page.get_by_test_id("rejected-rows").locator("tbody tr")
    expect(rejected).to_have_text([f"{line}{reason}" for line, (_, reason)
                                   in sorted(BAD_ROWS.items())])

    # the same numbers after a reload (rendered by the server, not by the polling script)
    page.reload()
    expect(page.get_by_test_id("job-status")).to_have_text("Concluída")
    expect(page.get_by_test_id("progress")).to_have_attribute("aria-valuenow", "100")
    for field, number in expected.items():
        expect(summary.locator(f'[data-field="{field}"]')).to_have_text(str(number))
    expect(rejected).to_have_count(len(BAD_ROWS))
    assert page.url == job_url

    # -- the rejected rows, as Excel opens them -------------------------------------------
    report_link = page.get_by_test_id("report-link")
    expect(report_link).to_be_visible()
    with page.expect_download(timeout=30_000) as info:
        report_link.click()
    download = info.value
    assert re.fullmatch(r"linhas-rejeitadas-\d+\.csv", download.suggested_filename)
    assert download.failure() is None
    data = (tmp_path / "report.csv")
    download.save_as(data)
    raw = data.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), raw[:20]
    text = raw.decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0] == REPORT_HEADER
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert len([r for r in rows[1:] if r]) == len(BAD_ROWS), rows
    for row, (line, (cells, reason)) in zip(rows[1:], sorted(BAD_ROWS.items())):
        assert row[0] == str(line), row
        assert row[1] == reason, row
        assert row[2:] == cells, row

    # the history lists the import with its numbers
    page.get_by_role("link", name="← Importar/exportar registros", exact=True).click()
    history = page.get_by_test_id("import-history")
    expect(history.locator("tbody tr").first).to_contain_text("clientes-excel.csv")
    expect(history.locator("tbody tr").first).to_contain_text("Concluída")

    assert page_errors == []


def test_EXP_1_export_runs_and_downloads_excel_csv(page, live_server, demo, log_in,
                                                   page_errors, tmp_path):
    log_in(page, *DEMO_ADMIN)
    open_data_screen(page)
    page.get_by_test_id("tab-export").click()
    expect(page).to_have_url(re.compile(r"/admin/data/\?tab=export$"))
    collection = page.get_by_test_id("export-collection")
    expect(collection.locator("option")).to_contain_text(["Contatos"])
    collection.select_option(label="Contatos")
    # only the collection's filters are offered: contacts have dates and a tag, no status
    expect(page.get_by_label("De", exact=True)).to_be_visible()
    expect(page.get_by_label("Etiqueta", exact=True)).to_be_visible()
    expect(page.get_by_label("Situação", exact=True)).to_be_hidden()
    page.get_by_test_id("export-submit").click()

    expect(page).to_have_url(re.compile(r"/admin/data/exportar/\d+$"))
    expect(page.get_by_role("heading", name=re.compile(r"^Exportação #\d+$"))).to_be_visible()
    bar = page.get_by_test_id("progress")
    expect(bar).to_have_attribute("aria-valuenow", "100", timeout=60_000)
    expect(bar).to_have_text("100%")
    expect(page.get_by_test_id("job-status")).to_have_text("Concluída")
    expect(page.get_by_test_id("job-count")).to_have_text(re.compile(r"^(\d+) de \1 linhas$"))
    expect(page.get_by_test_id("job-summary")).to_be_visible()

    download_link = page.get_by_test_id("export-download")
    expect(download_link).to_be_visible()
    with page.expect_download(timeout=30_000) as info:
        download_link.click()
    download = info.value
    assert re.fullmatch(r"contatos-\d{4}-\d{2}-\d{2}\.csv", download.suggested_filename)
    target = tmp_path / "export.csv"
    download.save_as(target)
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), raw[:20]
    text = raw.decode("utf-8")  # strict: the whole file is UTF-8
    lines = text.lstrip("\ufeff").splitlines()
    header = lines[0].split(";")
    assert header[:5] == ["Nome", "Telefone", "E-mail", "Tipo de pessoa", "CPF/CNPJ"], header
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert all(len(r) == len(header) for r in rows if r), rows
    names = {r[0] for r in rows[1:] if r}
    assert "Padaria Pão Quente Ltda" in names, names  # accents kept, demo data exported
    count = int(page.get_by_test_id("job-count").inner_text().split()[0])
    assert len([r for r in rows[1:] if r]) == count

    assert page_errors == []


def test_IMP_3_xlsx_renamed_csv_is_refused_in_portuguese(page, live_server, demo, log_in,
                                                        page_errors):
    log_in(page, *DEMO_ADMIN)
    open_data_screen(page)
    page.get_by_test_id("upload-file").set_input_files(files=[{
        "name": "clientes.csv", "mimeType": "text/csv",
        "buffer": b"PK\x03\x04\x14\x00\x06\x00\x08\x00" + b"\x00" * 200 + b"[Content_Types].xml",
    }])
    page.get_by_test_id("upload-submit").click()
    expect(page).to_have_url(re.compile(r"/admin/data/$"))
    expect(page.locator(".alert").filter(has_text="planilha do Excel (.xlsx)")).to_contain_text(
        "O arquivo é uma planilha do Excel (.xlsx) ou um .zip, não um CSV. No Excel, use "
        "Arquivo > Salvar como > CSV (separado por ponto e vírgula).")
    expect(page.get_by_text("Nenhuma importação ainda.")).to_be_visible()  # nothing ran
    assert page_errors == []
