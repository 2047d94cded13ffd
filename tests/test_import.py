"""IMP-1..IMP-4 Importar contatos: the files people really make (tests/fixtures/imports,
see its README), what ends up in the database, what the user is told, and a job killed
midway that resumes without half-written batches or duplicates."""
from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text, update
from sqlalchemy.exc import IntegrityError

from backoffice.extensions import db
from backoffice.models import Contact, ContactField, DataJob, DataJobError, Tag, User, contact_tag
from backoffice.models import data_jobs as states
from backoffice.models.base import utcnow
from backoffice.services import RuleError, data_jobs, importer
from backoffice.lib.csvfiles import rows_to_text
from tests.factories import gen_tag

FIXTURES = Path(__file__).parent / "fixtures" / "imports"
ROOT = Path(__file__).resolve().parent.parent

ALL_FIELDS = ["name", "phone", "email", "document", "tags", "owner", "notes"]


# -- helpers -----------------------------------------------------------------------------


# The contacts tests.factories gives each company (not imported, must stay untouched);
# the helpers below leave them out.
PRESET: set[int] = set()


@pytest.fixture
def ctx(app, tenants):
    """An app context for the whole test, with companies A and B."""
    PRESET.clear()
    PRESET.update(t.ids["contacts"] for t in tenants.values() if "contacts" in t.ids)
    with app.app_context():
        yield tenants


def admin(tenant) -> User:
    return db.session.get(User, tenant.admin_id)


def run_import(user, path: Path, update: bool = False, fields=None) -> DataJob:
    """Upload, confirm and run (TASK_MODE eager: the job runs inside start_import)."""
    job = data_jobs.import_from_path(user, path)
    data_jobs.start_import(job, update, fields)
    db.session.refresh(job)
    assert job.status == states.DONE, job.error
    return job


def counters(job: DataJob) -> dict:
    return {k: getattr(job, k) for k in ("created", "updated", "unchanged", "rejected")}


def snapshot(company_id: int) -> dict[str, dict]:
    """The company's contacts by phone, as the user would see them."""
    db.session.expire_all()
    out = {}
    for c in db.session.scalars(select(Contact).where(Contact.company_id == company_id,
                                                      Contact.id.not_in(PRESET))):
        out[c.phone] = {
            "name": c.name, "email": c.email, "person_type": c.person_type,
            "document": c.document, "tags": sorted(t.name for t in c.tags), "notes": c.notes,
            "owner": c.owner.email if c.owner else None, "custom": c.custom_fields or {},
        }
    return out


def stamps(company_id: int) -> dict[str, object]:
    return dict(db.session.execute(select(Contact.phone, Contact.updated_at).where(
        Contact.company_id == company_id, Contact.id.not_in(PRESET))).all())


def presets() -> dict[int, tuple]:
    """The factories' contacts as saved: imports must never touch them."""
    db.session.expire_all()
    return {c.id: (c.company_id, c.name, c.phone, c.updated_at, sorted(t.id for t in c.tags))
            for c in db.session.scalars(select(Contact).where(Contact.id.in_(PRESET)))}


def errors(job: DataJob) -> list[tuple[int, str]]:
    return [(e.line, e.reason) for e in db.session.scalars(
        select(DataJobError).where(DataJobError.job_id == job.id).order_by(DataJobError.line))]


def contact_count(company_id: int | None = None) -> int:
    q = select(func.count()).select_from(Contact).where(Contact.id.not_in(PRESET))
    if company_id is not None:
        q = q.where(Contact.company_id == company_id)
    return db.session.scalar(q)


def uploads_left(app) -> list[Path]:
    root = Path(app.instance_path) / "uploads"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def write(tmp_path: Path, name: str, text: str, encoding: str = "cp1252") -> Path:
    """A small file for one test (the real-world ones are in tests/fixtures/imports)."""
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def person(name, email=None, person_type=None, document=None, tags=(), notes=None,
           owner=None, custom=None) -> dict:
    return {"name": name, "email": email, "person_type": person_type, "document": document,
            "tags": sorted(tags), "notes": notes, "owner": owner, "custom": custom or {}}


EXCEL_CONTACTS = {
    "+5511987654321": person("João da Silva", "joao.silva@exemplo.com.br", "PF", "52998224725",
                             ["VIP", "Atacado"], "Cliente desde 2019"),
    "+5511987651234": person("Maria Conceição Araújo", "maria.conceicao@exemplo.com.br", "PF",
                             "12345678909", ["Varejo"]),
    "+5511987651111": person("Ações & Cia Ltda", "contato@acoes.com.br", "PJ", "11444777000161",
                             ["Atacado"], "Compra à vista – boleto"),
    # old 8-digit mobile: the 9 is inserted; "vip" is the VIP tag of row 2
    "+5521987654321": person("José Antônio", None, "PF", "98765432100", ["VIP"]),
    "+551134567890": person("Padaria Pão Quente", None, "PJ", "11222333000181", [],
                            "Entregar após 14h; portão azul\nFalar com Sr. Conceição"),
    "+5531991234567": person("Luís Gonçalves", "luis@exemplo.com.br", "PF", "11144477735"),
}

BAD_ROWS_ERRORS = [
    (3, "CPF inválido: confira os dígitos."),
    (4, "CPF inválido: números com todos os dígitos iguais não existem."),
    (5, 'Telefone inválido: "123".'),
    (6, "Nome em branco."),
    (7, "E-mail inválido."),
    (8, "Pessoa física precisa de um CPF, não de um CNPJ."),
]


# -- IMP-1: template, required columns, what is refused before anything is written ------


def test_IMP_1_template_file_imports(ctx, tmp_path):
    a = ctx["a"]
    path = tmp_path / "modelo.csv"
    path.write_bytes(rows_to_text(importer.template_rows([])).encode("utf-8"))
    job = run_import(admin(a), path)
    assert counters(job) == {"created": 1, "updated": 0, "unchanged": 0, "rejected": 0}
    assert snapshot(a.company_id) == {
        "+5511987654321": person("Maria da Silva", "maria@exemplo.com.br", "PF", "52998224725",
                                 ["VIP", "Atacado"], "Cliente desde 2019")}


def test_IMP_1_missing_required_column_refused_before_anything_is_written(ctx):
    a = ctx["a"]
    job = data_jobs.import_from_path(admin(a), FIXTURES / "missing_phone_column.csv")
    expected = ("Faltam colunas obrigatórias: Telefone. Baixe o modelo para ver as colunas "
                "esperadas.")
    shown = importer.preview(data_jobs.job_path(job), job.encoding, job.delimiter, a.company_id)
    assert shown.error == expected
    assert [f.key for f in shown.mapping.missing] == ["phone"]
    with pytest.raises(RuleError) as exc:
        data_jobs.start_import(job, False, None)
    assert str(exc.value) == expected
    db.session.refresh(job)
    assert job.status == states.DRAFT and job.processed == 0
    assert contact_count() == 0
    assert db.session.scalar(select(func.count()).select_from(DataJobError)) == 0


def test_IMP_1_header_only_refused(ctx):
    a = ctx["a"]
    job = data_jobs.import_from_path(admin(a), FIXTURES / "header_only.csv")
    with pytest.raises(RuleError) as exc:
        data_jobs.start_import(job, False, None)
    assert str(exc.value) == "O arquivo só tem o cabeçalho: nenhuma linha para importar."
    db.session.refresh(job)
    assert job.status == states.DRAFT
    assert contact_count() == 0


NOT_CSV = {
    "empty.csv": "O arquivo está vazio.",
    "planilha.xlsx.csv": "O arquivo é uma planilha do Excel (.xlsx) ou um .zip, não um CSV. "
                         "No Excel, use Arquivo > Salvar como > CSV (separado por ponto e "
                         "vírgula).",
    "foto.png.csv": "O arquivo é uma imagem, não um CSV.",
}


def test_IMP_1_not_a_csv_refused_and_nothing_kept(app, ctx):
    for name, message in NOT_CSV.items():
        with pytest.raises(RuleError) as exc:
            data_jobs.import_from_path(admin(ctx["a"]), FIXTURES / name)
        assert str(exc.value) == message, name
    assert db.session.scalar(select(func.count()).select_from(DataJob)) == 0
    assert contact_count() == 0
    assert uploads_left(app) == []


def test_IMP_1_oversize_upload_refused_and_nothing_kept(app, ctx):
    app.config["IMPORT_MAX_BYTES"] = 1024
    body = "Nome;Telefone\r\n" + "".join(
        f"Cliente {i};(11) 9{7000_0000 + i}\r\n" for i in range(200))
    assert len(body) > 3 * 1024
    with pytest.raises(RuleError) as exc:
        data_jobs.save_upload(admin(ctx["a"]), io.BytesIO(body.encode()), "grande.csv")
    assert str(exc.value) == ("O arquivo passa do limite de 1 KB. Divida a planilha em arquivos "
                              "menores e importe um de cada vez.")
    assert db.session.scalar(select(func.count()).select_from(DataJob)) == 0
    assert contact_count() == 0
    assert uploads_left(app) == []


def test_IMP_1_unknown_columns_custom_field_mapped_rest_ignored(ctx):
    a = ctx["a"]
    db.session.add(ContactField(company_id=a.company_id, label="Código ERP", key="codigo_erp"))
    db.session.commit()
    job = data_jobs.import_from_path(admin(a), FIXTURES / "unknown_columns.csv")
    shown = importer.preview(data_jobs.job_path(job), job.encoding, job.delimiter, a.company_id)
    assert shown.error is None
    assert shown.header == ["Nome", "Telefone", "Aniversário", "Código ERP"]
    assert shown.mapping.columns == {"name": 0, "phone": 1}
    assert shown.mapping.custom == {"codigo_erp": 3}
    assert shown.mapping.ignored == ["Aniversário"]
    data_jobs.start_import(job, False, None)
    db.session.refresh(job)
    assert counters(job) == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 0}
    assert snapshot(a.company_id) == {
        "+5511944441234": person("Helena Prado", custom={"codigo_erp": "ERP-0042"}),
        "+5511944445678": person("Otávio Reis"),
    }


def test_IMP_1_wallet_column_resolves_users_of_the_company_only(ctx, tmp_path):
    a, b = ctx["a"], ctx["b"]
    path = write(tmp_path, "carteira.csv",
                 "Nome;Telefone;Carteira\r\n"
                 "Por e-mail;(11) 96000-0001;agente-a@example.com\r\n"
                 "Por e-mail em maiúsculas;(11) 96000-0002;AGENTE-A@EXAMPLE.COM\r\n"
                 "Por nome;(11) 96000-0003;Agente Exclusivo A\r\n"
                 "Por nome sem acento;(11) 96000-0004;admin alfa comercio\r\n"
                 "Usuário da outra empresa;(11) 96000-0005;agente-b@example.com\r\n"
                 "Ninguém;(11) 96000-0006;fulano@example.com\r\n"
                 "Sem carteira;(11) 96000-0007;\r\n")
    job = run_import(admin(a), path)
    assert counters(job) == {"created": 5, "updated": 0, "unchanged": 0, "rejected": 2}
    assert errors(job) == [
        (6, 'Carteira: nenhum usuário da empresa com o e-mail ou nome "agente-b@example.com".'),
        (7, 'Carteira: nenhum usuário da empresa com o e-mail ou nome "fulano@example.com".'),
    ]
    owners = {phone: c["owner"] for phone, c in snapshot(a.company_id).items()}
    assert owners == {"+5511960000001": "agente-a@example.com",
                      "+5511960000002": "agente-a@example.com",
                      "+5511960000003": "agente-a@example.com",
                      "+5511960000004": "admin-a@example.com",
                      "+5511960000007": None}
    assert contact_count(b.company_id) == 0


# -- IMP-3: files as people make them -------------------------------------------------------


FORMATS = {
    "excel_ptbr_cp1252.csv": ("cp1252", ";"),
    "utf8_bom_comma.csv": ("utf-8-sig", ","),
    "utf8_nobom_tab.csv": ("utf-8-sig", "\t"),
    "duplicates.csv": ("utf-8-sig", ";"),
    "bad_rows.csv": ("cp1252", ";"),
    "unknown_columns.csv": ("cp1252", ";"),
    "missing_phone_column.csv": ("utf-8-sig", ";"),
}


def test_IMP_3_detects_encoding_and_delimiter(ctx):
    found = {}
    for name in FORMATS:
        job = data_jobs.import_from_path(admin(ctx["a"]), FIXTURES / name)
        assert job.status == states.DRAFT and job.file_name == name
        found[name] = (job.encoding, job.delimiter)
    assert found == FORMATS


def test_IMP_3_excel_ptbr_cp1252(ctx):
    a = ctx["a"]
    gen_tag(a.company_id, "Varejo", color="#00aa00")
    db.session.commit()
    varejo_id = db.session.scalar(select(Tag.id).where(Tag.name == "Varejo"))
    job = data_jobs.import_from_path(admin(a), FIXTURES / "excel_ptbr_cp1252.csv")
    shown = importer.preview(data_jobs.job_path(job), job.encoding, job.delimiter, a.company_id)
    assert shown.error is None
    assert shown.header[:7] == ["Nome", "Telefone", "E-mail", "Tipo de pessoa", "CPF/CNPJ",
                                "Etiquetas", "Observações"]
    assert set(shown.mapping.columns) == {"name", "phone", "email", "person_type", "document",
                                          "tags", "notes"}
    assert shown.mapping.ignored == []  # the trailing separator's nameless column
    assert [r[0] for r in shown.rows] == ["João da Silva", "Maria Conceição Araújo",
                                          "Ações & Cia Ltda", "José Antônio",
                                          "Padaria Pão Quente", "Luís Gonçalves",
                                          "Cliente Sem Telefone"]
    data_jobs.start_import(job, False, None)
    db.session.refresh(job)
    assert job.status == states.DONE and job.error is None
    assert counters(job) == {"created": 6, "updated": 0, "unchanged": 0, "rejected": 1}
    assert (job.total, job.processed, job.percent) == (8, 8, 100)
    assert job.started_at is not None and job.finished_at is not None
    assert snapshot(a.company_id) == EXCEL_CONTACTS
    # Excel numbers rows: the header is 1, the ";;;;;;;" row is 5, the quoted two-line
    # cell is row 7 alone, so the row without phone is 9 (its text line is 10)
    assert errors(job) == [(9, "Telefone em branco.")]
    tags = dict(db.session.execute(select(Tag.name, Tag.id).where(
        Tag.company_id == a.company_id, Tag.name.in_(["VIP", "vip", "Atacado", "Varejo"]))).all())
    assert set(tags) == {"VIP", "Atacado", "Varejo"}  # created when missing, "vip" is VIP
    assert tags["Varejo"] == varejo_id  # the existing tag is linked, not a copy


def test_IMP_3_utf8_bom_comma_quoted_fields(ctx):
    a = ctx["a"]
    job = run_import(admin(a), FIXTURES / "utf8_bom_comma.csv")
    assert counters(job) == {"created": 3, "updated": 0, "unchanged": 0, "rejected": 0}
    assert job.total == 4  # the empty line counts as a record
    assert snapshot(a.company_id) == {
        "+5541998765432": person("Souza, Maria", "maria.souza@exemplo.com", "PF", "93541134780",
                                 ["VIP", "Atacado"], "Rua das Flores, 123, apto 4"),
        "+5541998760000": person("Conceição Lima", tags=["Varejo"],
                                 notes='Disse "ligar depois das 18h"'),
        "+554132221100": person("Distribuidora Ações, Ltda", "compras@acoes-dist.com.br", "PJ",
                                "07182390000107", ["Atacado"]),
    }


def test_IMP_3_utf8_tab_odd_header_names(ctx):
    a = ctx["a"]
    job = run_import(admin(a), FIXTURES / "utf8_nobom_tab.csv")
    assert counters(job) == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 0}
    assert snapshot(a.company_id) == {
        "+5585988887777": person("Irmã Conceição", "irma@paroquia.org.br", "PF", "98765432100",
                                 ["VIP"]),
        "+556130334455": person("Antônio Gonçalves, Jr."),
    }


def test_IMP_3_user_overrides_the_detected_format(ctx):
    a = ctx["a"]
    job = data_jobs.import_from_path(admin(a), FIXTURES / "utf8_nobom_tab.csv")
    data_jobs.set_format(job, None, ";")
    with pytest.raises(RuleError) as exc:
        data_jobs.start_import(job, False, None)
    assert str(exc.value).startswith("Faltam colunas obrigatórias: Nome, Telefone.")
    with pytest.raises(RuleError) as exc:
        data_jobs.set_format(job, None, "|")
    assert str(exc.value) == "Separador desconhecido."
    with pytest.raises(RuleError) as exc:
        data_jobs.set_format(job, "utf-16", None)
    assert str(exc.value) == "Codificação desconhecida."
    data_jobs.set_format(job, "utf-8-sig", "tab")
    data_jobs.start_import(job, False, None)
    db.session.refresh(job)
    assert counters(job) == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 0}
    assert snapshot(a.company_id)["+5585988887777"]["name"] == "Irmã Conceição"
    with pytest.raises(RuleError) as exc:
        data_jobs.set_format(job, "cp1252", None)
    assert str(exc.value) == "Esta importação já foi iniciada."


def test_IMP_3_bad_rows_reported_with_line_and_reason_valid_rows_imported(ctx):
    a = ctx["a"]
    job = run_import(admin(a), FIXTURES / "bad_rows.csv")
    assert counters(job) == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 6}
    assert errors(job) == BAD_ROWS_ERRORS
    assert snapshot(a.company_id) == {
        "+5511977770001": person("Válido Um", "valido1@exemplo.com", "PF", "52998224725"),
        "+5511977770008": person("Válido Dois", None, "PJ", "11222333000181"),
    }


def test_IMP_3_duplicates_in_the_file_never_create_two_contacts(ctx):
    a = ctx["a"]
    job = run_import(admin(a), FIXTURES / "duplicates.csv")
    assert counters(job) == {"created": 2, "updated": 0, "unchanged": 3, "rejected": 0}
    assert snapshot(a.company_id) == {
        "+5511912345678": person("Ana Paula", None, "PF", "39053344705", ["VIP"]),
        "+5511990000001": person("Bruno Lima"),
    }
    assert db.session.scalar(select(func.count()).select_from(contact_tag).where(
        contact_tag.c.contact_id.not_in(PRESET))) == 1


def test_IMP_3_line_numbers_are_excel_rows_when_row_1_is_empty(ctx):
    """Excel writes an empty first row as ";;;" and the header lands on row 2: the
    rejected row is Excel's row 4."""
    a = ctx["a"]
    job = run_import(admin(a), FIXTURES / "blank_first_row.csv")
    assert counters(job) == {"created": 1, "updated": 0, "unchanged": 0, "rejected": 1}
    assert errors(job) == [(4, "Telefone em branco.")]


# -- IMP-2: "Atualizar registros existentes" ----------------------------------------------


def test_IMP_2_no_update_second_run_changes_nothing(ctx):
    a = ctx["a"]
    run_import(admin(a), FIXTURES / "excel_ptbr_cp1252.csv")
    before, before_stamps = snapshot(a.company_id), stamps(a.company_id)
    tag_count = db.session.scalar(select(func.count()).select_from(Tag))
    job = run_import(admin(a), FIXTURES / "excel_ptbr_cp1252.csv")
    assert counters(job) == {"created": 0, "updated": 0, "unchanged": 6, "rejected": 1}
    assert snapshot(a.company_id) == before == EXCEL_CONTACTS
    assert stamps(a.company_id) == before_stamps
    assert db.session.scalar(select(func.count()).select_from(Tag)) == tag_count


def test_IMP_2_no_update_keeps_existing_contacts_as_saved(ctx, tmp_path):
    a = ctx["a"]
    run_import(admin(a), FIXTURES / "excel_ptbr_cp1252.csv")
    before_stamps = stamps(a.company_id)
    path = write(tmp_path, "outra.csv",
                 "Nome;Telefone;E-mail;Etiquetas\r\n"
                 "Outro Nome;(11) 98765-4321;outro@exemplo.com;Ouro\r\n"
                 "Novo Cliente;(11) 95432-1000;novo@exemplo.com;Ouro\r\n")
    job = run_import(admin(a), path)
    assert counters(job) == {"created": 1, "updated": 0, "unchanged": 1, "rejected": 0}
    after = snapshot(a.company_id)
    assert after["+5511987654321"] == EXCEL_CONTACTS["+5511987654321"]
    assert after["+5511954321000"] == person("Novo Cliente", "novo@exemplo.com", tags=["Ouro"])
    assert {p: s for p, s in stamps(a.company_id).items() if p in before_stamps} == before_stamps


def test_IMP_2_yes_updates_only_the_ticked_fields_and_blanks_never_erase(ctx, tmp_path):
    a = ctx["a"]
    run_import(admin(a), FIXTURES / "excel_ptbr_cp1252.csv")
    before_stamps, untouched = stamps(a.company_id), presets()
    path = write(tmp_path, "atualizacao.csv",
                 "Nome;Telefone;E-mail;CPF/CNPJ;Etiquetas;Observações\r\n"
                 # found by phone: new name, blank e-mail, new tags, new notes
                 "João da Silva Sauro;(11) 98765-4321;;;Ouro;Nova observação\r\n"
                 # found by CPF (other phone): new name, new e-mail, blank tags
                 "Maria C. Araújo;(11) 90000-1111;maria.nova@exemplo.com;123.456.789-09;;\r\n"
                 # same values as saved
                 "Luís Gonçalves;(31) 99123-4567;;;;\r\n"
                 # new contact
                 "Cliente Novo;(11) 95432-1000;novo@exemplo.com;;Ouro;Veio da planilha\r\n")
    job = run_import(admin(a), path, update=True, fields=["name", "tags"])
    assert counters(job) == {"created": 1, "updated": 2, "unchanged": 1, "rejected": 0}
    expected = {k: dict(v) for k, v in EXCEL_CONTACTS.items()}
    expected["+5511987654321"].update(name="João da Silva Sauro", tags=["Ouro"])
    expected["+5511987651234"].update(name="Maria C. Araújo")  # blank tags: kept
    expected["+5511954321000"] = person("Cliente Novo", "novo@exemplo.com", tags=["Ouro"],
                                        notes="Veio da planilha")
    assert snapshot(a.company_id) == expected
    after_stamps = stamps(a.company_id)
    for phone, stamp in before_stamps.items():
        if phone in ("+5511987654321", "+5511987651234"):
            assert after_stamps[phone] > stamp
        else:
            assert after_stamps[phone] == stamp

    # e-mail, notes and phone ticked: blank cells erase nothing, values change
    path = write(tmp_path, "atualizacao2.csv",
                 "Nome;Telefone;E-mail;CPF/CNPJ;Observações\r\n"
                 "João;(11) 98765-4321;;;\r\n"
                 "Maria;(11) 90000-1111;maria.nova@exemplo.com;123.456.789-09;Ligar cedo\r\n")
    job = run_import(admin(a), path, update=True, fields=["email", "notes", "phone"])
    assert counters(job) == {"created": 0, "updated": 1, "unchanged": 1, "rejected": 0}
    after = snapshot(a.company_id)
    assert after["+5511987654321"] == expected["+5511987654321"]
    assert "+5511987651234" not in after  # Maria found by CPF, her phone ticked: changed
    assert after["+5511900001111"] == {**expected["+5511987651234"],
                                       "email": "maria.nova@exemplo.com", "notes": "Ligar cedo"}
    assert presets() == untouched


def test_IMP_2_same_file_twice_with_every_field_ticked_changes_nothing(ctx):
    a = ctx["a"]
    run_import(admin(a), FIXTURES / "excel_ptbr_cp1252.csv")
    before_stamps = stamps(a.company_id)
    job = run_import(admin(a), FIXTURES / "excel_ptbr_cp1252.csv", update=True, fields=ALL_FIELDS)
    assert counters(job) == {"created": 0, "updated": 0, "unchanged": 6, "rejected": 1}
    assert snapshot(a.company_id) == EXCEL_CONTACTS
    assert stamps(a.company_id) == before_stamps


def test_IMP_2_custom_field_updated_only_when_ticked(ctx, tmp_path):
    a = ctx["a"]
    db.session.add(ContactField(company_id=a.company_id, label="Código ERP", key="codigo_erp"))
    db.session.commit()
    run_import(admin(a), FIXTURES / "unknown_columns.csv")
    path = write(tmp_path, "erp.csv", "Nome;Telefone;Código ERP\r\n"
                                      "Helena P.;(11) 94444-1234;ERP-0099\r\n"
                                      "Otávio Reis;(11) 94444-5678;ERP-0100\r\n")
    job = run_import(admin(a), path, update=True, fields=["name"])
    assert counters(job) == {"created": 0, "updated": 1, "unchanged": 1, "rejected": 0}
    assert snapshot(a.company_id)["+5511944441234"]["custom"] == {"codigo_erp": "ERP-0042"}
    job = run_import(admin(a), path, update=True, fields=["cf:codigo_erp"])
    assert counters(job) == {"created": 0, "updated": 2, "unchanged": 0, "rejected": 0}
    after = snapshot(a.company_id)
    assert after["+5511944441234"] == person("Helena P.", custom={"codigo_erp": "ERP-0099"})
    assert after["+5511944445678"] == person("Otávio Reis", custom={"codigo_erp": "ERP-0100"})


def test_IMP_2_yes_needs_a_ticked_field(ctx):
    job = data_jobs.import_from_path(admin(ctx["a"]), FIXTURES / "excel_ptbr_cp1252.csv")
    for fields in ([], None, ["person_type", "password", "cf:nao_existe"]):
        with pytest.raises(RuleError) as exc:
            data_jobs.start_import(job, True, fields)
        assert str(exc.value) == 'Marque ao menos um campo a atualizar, ou escolha "Não".'
    db.session.refresh(job)
    assert job.status == states.DRAFT
    assert contact_count() == 0


def test_IMP_2_row_whose_phone_and_document_are_two_contacts_is_rejected(ctx, tmp_path):
    a = ctx["a"]
    run_import(admin(a), FIXTURES / "excel_ptbr_cp1252.csv")
    before = snapshot(a.company_id)
    path = write(tmp_path, "conflito.csv",
                 "Nome;Telefone;CPF/CNPJ\r\n"
                 "João ou Maria;(11) 98765-4321;123.456.789-09\r\n")
    for ticked, fields in ((False, None), (True, ALL_FIELDS)):
        job = run_import(admin(a), path, update=ticked, fields=fields)
        assert counters(job) == {"created": 0, "updated": 0, "unchanged": 0, "rejected": 1}
        assert errors(job) == [(2, "O telefone é de um contato (João da Silva) e o CPF/CNPJ de "
                                   "outro (Maria Conceição Araújo).")]
    assert snapshot(a.company_id) == before


def test_IMP_2_import_never_matches_another_companys_contact(ctx):
    a, b = ctx["a"], ctx["b"]
    vip_b = gen_tag(b.company_id, "VIP", color="#ff0000")
    theirs = Contact(company_id=b.company_id, name="Contato da Beta", phone="+5511987654321",
                     document="52998224725", person_type="PF", email="beta@exemplo.com",
                     tags=[vip_b])
    db.session.add(theirs)
    db.session.commit()
    before_b, stamps_b, untouched = snapshot(b.company_id), stamps(b.company_id), presets()
    job = run_import(admin(a), FIXTURES / "excel_ptbr_cp1252.csv", update=True, fields=ALL_FIELDS)
    assert counters(job) == {"created": 6, "updated": 0, "unchanged": 0, "rejected": 1}
    assert snapshot(a.company_id) == EXCEL_CONTACTS
    assert snapshot(b.company_id) == before_b
    assert stamps(b.company_id) == stamps_b
    assert presets() == untouched
    linked = db.session.scalars(select(Tag.company_id).join(
        contact_tag, contact_tag.c.tag_id == Tag.id).join(
        Contact, Contact.id == contact_tag.c.contact_id).where(
        Contact.company_id == a.company_id)).all()
    assert linked and set(linked) == {a.company_id}  # A's own VIP, never B's


# -- IMP-4: background job, report, batches ------------------------------------------------


def test_IMP_4_rejected_rows_report_csv(ctx):
    a = ctx["a"]
    job = run_import(admin(a), FIXTURES / "bad_rows.csv")
    text = "".join(data_jobs.stream_csv(data_jobs.report_rows(job)))
    assert text.startswith("\ufeffLinha;Motivo;Nome;Telefone;E-mail;Tipo de pessoa;CPF/CNPJ\r\n")
    rows = list(csv.reader(io.StringIO(text[1:], newline=""), delimiter=";"))
    assert rows == [
        ["Linha", "Motivo", "Nome", "Telefone", "E-mail", "Tipo de pessoa", "CPF/CNPJ"],
        ["3", "CPF inválido: confira os dígitos.", "CPF Errado", "(11) 97777-0002", "", "PF",
         "529.982.247-24"],
        ["4", "CPF inválido: números com todos os dígitos iguais não existem.", "CPF Repetido",
         "(11) 97777-0003", "", "", "111.111.111-11"],
        ["5", 'Telefone inválido: "123".', "Telefone Curto", "123", "", "", ""],
        ["6", "Nome em branco.", "", "(11) 97777-0005", "", "", ""],
        ["7", "E-mail inválido.", "Email Ruim", "(11) 97777-0006", "fulano.exemplo.com", "", ""],
        ["8", "Pessoa física precisa de um CPF, não de um CNPJ.", "Física com CNPJ",
         "(11) 97777-0007", "", "PF", "11.444.777/0001-61"],
    ]


def test_IMP_4_report_keeps_multiline_cells_and_can_be_imported_again(ctx, tmp_path):
    a = ctx["a"]
    path = write(tmp_path, "corrigir.csv",
                 "Nome;Telefone;Observações;\r\n"
                 "Sem Fone;;\"linha 1; ainda\nlinha 2\";\r\n"
                 "Fone Ruim;+55 11 1234;;\r\n")
    job = run_import(admin(a), path)
    assert errors(job) == [(2, "Telefone em branco."), (3, 'Telefone inválido: "+55 11 1234".')]
    report = tmp_path / "erros.csv"
    report.write_text("".join(data_jobs.stream_csv(data_jobs.report_rows(job))),
                      encoding="utf-8", newline="")
    rows = list(csv.reader(io.StringIO(report.read_text("utf-8-sig"), newline=""), delimiter=";"))
    assert rows == [["Linha", "Motivo", "Nome", "Telefone", "Observações", ""],
                    ["2", "Telefone em branco.", "Sem Fone", "", "linha 1; ainda\nlinha 2", ""],
                    # a cell starting with "+" is neutralised for Excel
                    ["3", 'Telefone inválido: "+55 11 1234".', "Fone Ruim", "'+55 11 1234", "",
                     ""]]
    # fixed in Excel and imported again: Linha and Motivo are ignored, "'+" is undone
    fixed = report.read_text("utf-8-sig").replace(";;", ";(11) 93333-0000;", 1).replace(
        "'+55 11 1234", "'+55 11 93333-0001")
    report.write_text(fixed, encoding="utf-8-sig", newline="")
    again = data_jobs.import_from_path(admin(a), report)
    assert (again.encoding, again.delimiter) == ("utf-8-sig", ";")
    shown = importer.preview(data_jobs.job_path(again), again.encoding, again.delimiter,
                             a.company_id)
    assert shown.mapping.ignored == ["Linha", "Motivo"]
    data_jobs.start_import(again, False, None)
    db.session.refresh(again)
    assert counters(again) == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 0}
    assert snapshot(a.company_id) == {
        "+5511933330000": person("Sem Fone", notes="linha 1; ainda\nlinha 2"),
        "+5511933330001": person("Fone Ruim"),
    }


def test_SCL_4_the_default_batch_follows_the_database(app, monkeypatch):
    """Without IMPORT_BATCH_SIZE, batches of 5000 rows on PostgreSQL (its server work per
    row falls about 15%) and of 1000 on SQLite (5000 would take a million-row import over
    its memory bound); the setting, when given, wins on both."""
    monkeypatch.setenv("IMPORT_BATCH_SIZE", "")
    from backoffice import config

    assert config.load(str(app.instance_path))["IMPORT_BATCH_SIZE"] is None
    app.config["IMPORT_BATCH_SIZE"] = None
    with app.app_context():
        postgresql = db.engine.dialect.name == "postgresql"
        assert importer.batch_size() == (5000 if postgresql else 1000)
        app.config["IMPORT_BATCH_SIZE"] = 7
        assert importer.batch_size() == 7


def test_IMP_4_batch_size_does_not_change_the_result(app, ctx):
    """Company A imports with batches of 2 rows, B with the default: same outcome."""
    a, b = ctx["a"], ctx["b"]
    files = ["excel_ptbr_cp1252.csv", "duplicates.csv", "bad_rows.csv", "utf8_bom_comma.csv",
             "utf8_nobom_tab.csv"]
    results = {}
    for tenant, size in ((a, 2), (b, None)):
        app.config["IMPORT_BATCH_SIZE"] = size
        outcome = []
        for name in files:
            job = run_import(admin(tenant), FIXTURES / name)
            outcome.append((name, counters(job), job.total, errors(job)))
        job = run_import(admin(tenant), FIXTURES / "utf8_bom_comma.csv", update=True,
                         fields=ALL_FIELDS)
        outcome.append(("again", counters(job), job.total, errors(job)))
        results[size] = (outcome, snapshot(tenant.company_id))
    assert results[2] == results[None]
    assert len(results[2][1]) == 12


# -- IMP-4: a job killed midway ------------------------------------------------------------

BIG_ROWS = 12_000
BATCH = 500

CHILD = r"""
import sys, time
from sqlalchemy import func, select
from backoffice import create_app
from backoffice.extensions import db
from backoffice.models import Contact, contact_tag
from backoffice.services import data_jobs, importer

uri, job_id, batch, mode, marker = sys.argv[1:]
job_id, batch = int(job_id), int(batch)
app = create_app({"TESTING": True, "SECRET_KEY": "child", "TASK_MODE": "eager",
                  "REDIS_URL": None, "SQLALCHEMY_DATABASE_URI": uri, "IMPORT_BATCH_SIZE": batch})
if mode == "inside_batch":
    # Stop in the third batch after its contacts, tags and errors are written and before
    # its commit; report what this uncommitted transaction sees, then wait to be killed.
    original, calls = importer._commit_progress, []

    def stop_before_commit(job_id, consumed, outcome):
        calls.append(1)
        if len(calls) == 3:
            contacts = db.session.scalar(select(func.count()).select_from(Contact))
            links = db.session.scalar(select(func.count()).select_from(contact_tag))
            with open(marker + ".tmp", "w") as fh:
                fh.write(f"{contacts} {links} {outcome.created}")
            import os
            os.replace(marker + ".tmp", marker)
            time.sleep(600)
        return original(job_id, consumed, outcome)

    importer._commit_progress = stop_before_commit
with app.app_context():
    data_jobs.run_import(job_id)
"""


def _cpf(base: str) -> str:
    """A valid CPF from 9 digits (the Receita's check digit rule), formatted."""
    digits = [int(d) for d in base]
    for weight in (10, 11):
        total = sum(d * w for d, w in zip(digits, range(weight, 1, -1)))
        digits.append(total * 10 % 11 % 10)
    text = "".join(map(str, digits))
    return f"{text[:3]}.{text[3:6]}.{text[6:9]}-{text[9:]}"


assert _cpf("529982247") == "529.982.247-25"


def big_file(path: Path) -> list[tuple]:
    """An Excel pt-BR export of BIG_ROWS records; per record what it should become:
    ("new", phone, document, tags) | ("dup", phone) | ("bad", line) | ("blank",)."""
    lines = ["Nome;Telefone;CPF/CNPJ;Etiquetas;Observações;"]
    plan: list[tuple] = []
    news: list[str] = []
    for i in range(BIG_ROWS):
        line = i + 2
        if i % 997 == 500:
            lines.append(";;;;;")
            plan.append(("blank",))
        elif i % 1009 == 300:
            lines.append(f"Cliente {i:05d} Gonçalves;123;;Lote 1;;")
            plan.append(("bad", line))
        elif i % 1013 == 700:
            lines.append(news[-600])  # the same row again, a batch or two later
            plan.append(("dup",))
        else:
            n = 7000_0000 + i
            phone = ("(11) 9{}-{}".format(f"{n:08d}"[:4], f"{n:08d}"[4:]), f"119{n:08d}",
                     f"+55 11 9{n:08d}")[i % 3]
            document = _cpf(f"{200_000_000 + i:09d}") if i % 3 == 0 else ""
            tags = [f"Lote {i % 7}", "Importação"]
            text = (f"Cliente {i:05d} Conceição;{phone};{document};{', '.join(tags)};"
                    f"\"Obs; linha {i}\";")
            lines.append(text)
            news.append(text)
            plan.append(("new", f"+55119{n:08d}", document.replace(".", "").replace("-", "")
                         or None, frozenset(tags)))
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    return plan


def expected_after(plan: list[tuple], processed: int) -> dict:
    done = plan[:processed]
    return {
        "contacts": {p[1]: p for p in done if p[0] == "new"},
        "bad": [p[1] for p in done if p[0] == "bad"],
        "dups": sum(1 for p in done if p[0] == "dup"),
        "blank": sum(1 for p in done if p[0] == "blank"),
    }


def check_committed_state(company_id: int, job: DataJob, expected: dict) -> None:
    """Exactly the rows of the committed batches: contacts with their document and every
    tag link, their rejected rows, the counters."""
    db.session.expire_all()
    assert contact_count() == contact_count(company_id) == job.created == len(expected["contacts"])
    found = dict(db.session.execute(select(Contact.phone, Contact.document).where(
        Contact.company_id == company_id, Contact.id.not_in(PRESET))).all())
    assert found == {phone: p[2] for phone, p in expected["contacts"].items()}
    tags: dict[str, set[str]] = {}
    for phone, tag in db.session.execute(
            select(Contact.phone, Tag.name)
            .join(contact_tag, contact_tag.c.contact_id == Contact.id)
            .join(Tag, Tag.id == contact_tag.c.tag_id)
            .where(Contact.company_id == company_id, Contact.id.not_in(PRESET))):
        tags.setdefault(phone, set()).add(tag)
    assert tags == {phone: set(p[3]) for phone, p in expected["contacts"].items()}
    lines = db.session.scalars(select(DataJobError.line).where(DataJobError.job_id == job.id)
                               .order_by(DataJobError.line)).all()
    assert lines == expected["bad"] and job.rejected == len(lines)
    assert job.unchanged == expected["dups"] and job.updated == 0


def _spawn(app, tmp_path: Path, job_id: int, mode: str, marker: Path) -> subprocess.Popen:
    """The import job in another process (a worker), on the test app's database and files."""
    env = {**os.environ, "ATENDE_INSTANCE": app.instance_path,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    with open(tmp_path / f"child-{mode}.log", "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-c", CHILD, app.config["SQLALCHEMY_DATABASE_URI"], str(job_id),
             str(BATCH), mode, str(marker)], cwd=ROOT, env=env, stdout=log, stderr=log)


def _kill_when(child: subprocess.Popen, ready, log: Path) -> None:
    """SIGKILL the child as soon as `ready()` is true (polled every 5 ms)."""
    try:
        deadline = time.monotonic() + 60
        while not ready():
            assert child.poll() is None, (
                "the import ended before it could be killed (make BIG_ROWS bigger):\n"
                + log.read_text())
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.005)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)


def _processed(job_id: int) -> int:
    with db.engine.connect() as conn:  # a short read: never hold a lock the worker needs
        return conn.execute(select(DataJob.processed).where(DataJob.id == job_id)).scalar_one()


def test_IMP_4_killed_job_leaves_whole_batches_and_resume_completes_it(app, ctx, tmp_path):
    """Must show: the import runs in a worker process that is SIGKILLed midway, twice:
    first while its third batch is written but not committed, then, resumed in a new
    worker, at whatever point it has reached once two more batches are committed. Each
    time only whole batches remain (contacts with every tag link, rejected rows and
    counters together); the sweep then finishes the file without duplicates."""
    a = ctx["a"]
    app.config["IMPORT_BATCH_SIZE"] = BATCH  # the run that finishes in this process too
    plan = big_file(tmp_path / "contatos.csv")
    job = data_jobs.import_from_path(admin(a), tmp_path / "contatos.csv")
    with pytest.MonkeyPatch.context() as m:  # queued, but the worker process runs it
        m.setattr(data_jobs, "_submit", lambda func, job_id: None)
        data_jobs.start_import(job, False, None)
    job_id = job.id
    assert job.status == states.QUEUED
    untouched = presets()
    base_contacts = db.session.scalar(select(func.count()).select_from(Contact))
    base_links = db.session.scalar(select(func.count()).select_from(contact_tag))
    db.session.close()

    # 1. killed inside the third batch, after its writes, before its commit
    marker = tmp_path / "stopped"
    child = _spawn(app, tmp_path, job_id, "inside_batch", marker)
    _kill_when(child, marker.exists, tmp_path / "child-inside_batch.log")
    job = db.session.get(DataJob, job_id)
    assert job.status == states.RUNNING, (job.status, job.error)
    assert job.total == BIG_ROWS and job.processed == 2 * BATCH
    seen, links, in_batch = map(int, marker.read_text().split())
    # the third batch had been written (contacts and tag links) when it was killed...
    assert in_batch > 0 and seen - base_contacts == job.created + in_batch
    assert links - base_links == 2 * (seen - base_contacts)
    # ...and none of it is left
    check_committed_state(a.company_id, job, expected_after(plan, job.processed))

    # 2. its heartbeat is fresh: it may be running elsewhere, so no resume yet
    with pytest.raises(RuleError) as exc:
        data_jobs.resume(job)
    assert str(exc.value) == "Só uma importação interrompida pode ser retomada."
    app.config["IMPORT_STALE_SECONDS"] = 1
    time.sleep(max(0.0, 1.05 - (utcnow() - job.heartbeat_at).total_seconds()))
    data_jobs.resume(job, enqueue=False)  # queued for a new worker process
    first = job.processed
    db.session.close()
    child = _spawn(app, tmp_path, job_id, "anywhere", marker)
    _kill_when(child, lambda: _processed(job_id) >= first + 2 * BATCH,
               tmp_path / "child-anywhere.log")
    db.session.expire_all()
    job = db.session.get(DataJob, job_id)
    assert job.status == states.RUNNING, (job.status, job.error)
    assert job.processed % BATCH == 0 and first + 2 * BATCH <= job.processed < BIG_ROWS
    check_committed_state(a.company_id, job, expected_after(plan, job.processed))

    # 3. the sweep finds the job without heartbeat and runs it again (eager: here)
    db.session.execute(update(DataJob).where(DataJob.id == job_id)
                       .values(heartbeat_at=utcnow() - timedelta(minutes=10)))
    db.session.commit()
    assert data_jobs.sweep() == 1
    db.session.expire_all()
    job = db.session.get(DataJob, job_id)
    assert job.status == states.DONE and job.error is None
    expected = expected_after(plan, BIG_ROWS)
    check_committed_state(a.company_id, job, expected)
    assert job.total == job.processed == BIG_ROWS and job.percent == 100
    assert job.created + job.unchanged + job.rejected + expected["blank"] == job.total
    assert expected["blank"] and expected["bad"] and expected["dups"]
    assert db.session.execute(select(Contact.phone).group_by(Contact.company_id, Contact.phone)
                              .having(func.count() > 1)).all() == []
    assert db.session.scalar(select(func.count()).select_from(Tag).where(
        Tag.company_id == a.company_id, Tag.name == "Importação")) == 1
    with pytest.raises(RuleError) as exc:
        data_jobs.resume(job)
    assert str(exc.value) == "Só uma importação interrompida pode ser retomada."
    assert presets() == untouched


# -- UX-8: the summary adds up; the columns chosen in the preview -------------------------


def test_UX_8_blank_lines_are_counted_as_skipped_so_the_summary_adds_up(ctx, tmp_path):
    """Every line after the header is created, updated, unchanged, rejected or, when
    blank (empty or only separators), skipped: the five add up to the file's lines."""
    a = ctx["a"]
    path = write(tmp_path, "com-brancos.csv",
                 "Nome;Telefone\r\n"
                 "Ana;(11) 97777-0001\r\n"
                 "\r\n"
                 ";\r\n"
                 "Sem Telefone;\r\n"
                 "Bruno;(11) 97777-0002\r\n"
                 " ; \r\n"
                 "Ana de novo;(11) 97777-0001\r\n")
    job = run_import(admin(a), path)
    assert counters(job) == {"created": 2, "updated": 0, "unchanged": 1, "rejected": 1}
    assert data_jobs.skipped(job) == 3
    assert job.total == job.processed == 7
    assert (job.created + job.updated + job.unchanged + data_jobs.skipped(job)
            + job.rejected) == job.total
    assert errors(job) == [(5, "Telefone em branco.")]  # Excel's row numbers, blanks included


def test_UX_8_chosen_columns_are_validated_then_used_by_the_job(ctx, tmp_path):
    """A column the detector missed is assigned; an unknown field, a field chosen twice or
    a required field left out is refused before anything is written."""
    a = ctx["a"]
    db.session.add(ContactField(company_id=a.company_id, label="Código ERP", key="codigo_erp"))
    db.session.commit()
    path = write(tmp_path, "colunas.csv",
                 "Cliente;Zap do cliente;Aniversário;Cód.\r\n"
                 "Helena Prado;(11) 94444-1234;01/02;ERP-1\r\n")
    job = data_jobs.import_from_path(admin(a), path)
    for columns, message in [
        ({0: "name", 1: "bogus"}, 'Campo desconhecido escolhido para a coluna "Zap do cliente".'),
        ({0: "name", 1: "phone", 3: "name"},
         'O campo Nome foi escolhido para duas colunas ("Cliente" e "Cód."). Escolha uma só '
         'coluna para cada campo.'),
        ({0: "name", 1: ""}, "Escolha a coluna dos campos obrigatórios: Telefone."),
        ({0: "name", 1: "phone", 9: "email"},
         "A escolha de colunas não confere com o arquivo: leia o arquivo de novo e escolha as "
         "colunas outra vez."),
    ]:
        with pytest.raises(RuleError) as exc:
            data_jobs.start_import(job, False, None, columns=columns)
        assert str(exc.value) == message
        db.session.refresh(job)
        assert job.status == states.DRAFT and job.filters is None
    assert contact_count() == 0

    data_jobs.start_import(job, False, None, columns={0: "name", 1: "phone", 2: "",
                                                      3: "cf:codigo_erp"})
    db.session.refresh(job)
    assert job.status == states.DONE, job.error
    assert job.filters == {"columns": ["name", "phone", "", "cf:codigo_erp"]}
    assert snapshot(a.company_id) == {
        "+5511944441234": person("Helena Prado", custom={"codigo_erp": "ERP-1"})}


# -- SCL-4: the set-based batch (PostgreSQL: ids from the sequence, COPY, array lookups,
# UPDATE ... FROM unnest) keeps every rule -------------------------------------------------


@pytest.mark.parametrize("batch_size", [None, 2], ids=["one-batch", "batches-of-2"])
def test_SCL_4_one_batch_mixes_new_repeated_updated_and_rejected_rows(app, ctx, tmp_path,
                                                                      batch_size):
    """SCL-4: in one batch (and again split in batches of 2): a row found by phone and one
    found by CPF update only their ticked fields, each with a different set of columns
    (name + tags, e-mail, a custom field, the carteira); a new contact repeated later in
    the file is created once and takes the later row's values; a row with the same
    values changes nothing; a bad phone and a row whose phone and CPF are two contacts
    are rejected with their line. Blank cells erase nothing."""
    a = ctx["a"]
    db.session.add(ContactField(company_id=a.company_id, label="Código ERP", key="codigo_erp"))
    db.session.commit()
    run_import(admin(a), FIXTURES / "excel_ptbr_cp1252.csv")
    before_stamps = stamps(a.company_id)
    app.config["IMPORT_BATCH_SIZE"] = batch_size
    path = write(tmp_path, "misturado.csv",
                 "Nome;Telefone;E-mail;CPF/CNPJ;Etiquetas;Carteira;Código ERP\r\n"
                 "João S.;(11) 98765-4321;;;Ouro;;\r\n"                                  # 2
                 "Maria;(11) 90000-1111;maria.nova@exemplo.com;123.456.789-09;;;\r\n"    # 3
                 "Novo A;(11) 95555-0001;;;Ouro, VIP;;ERP-1\r\n"                         # 4
                 "Novo A Segundo;11955550001;novo@exemplo.com;;;;\r\n"                   # 5
                 "Luís Gonçalves;(31) 99123-4567;;;;;\r\n"                               # 6
                 "Sem Fone;123;;;;;\r\n"                                                 # 7
                 "João ou Maria;(11) 98765-4321;;123.456.789-09;;;\r\n"                  # 8
                 "Padaria Pão Quente;(11) 3456-7890;;;;;ERP-9\r\n"                       # 9
                 "José Antônio;(21) 98765-4321;;;;agente-a@example.com;\r\n")            # 10
    job = run_import(admin(a), path, update=True,
                     fields=["name", "email", "tags", "owner", "cf:codigo_erp"])
    assert counters(job) == {"created": 1, "updated": 5, "unchanged": 1, "rejected": 2}
    assert errors(job) == [
        (7, 'Telefone inválido: "123".'),
        # both names as the earlier rows of the file left them
        (8, "O telefone é de um contato (João S.) e o CPF/CNPJ de outro (Maria)."),
    ]
    expected = {k: dict(v) for k, v in EXCEL_CONTACTS.items()}
    expected["+5511987654321"].update(name="João S.", tags=["Ouro"])
    expected["+5511987651234"].update(name="Maria", email="maria.nova@exemplo.com")
    expected["+5511955550001"] = person("Novo A Segundo", "novo@exemplo.com", tags=["Ouro", "VIP"],
                                        custom={"codigo_erp": "ERP-1"})
    expected["+551134567890"].update(custom={"codigo_erp": "ERP-9"})
    expected["+5521987654321"].update(owner="agente-a@example.com")
    assert snapshot(a.company_id) == expected
    after = stamps(a.company_id)
    changed = {p for p in before_stamps if after[p] != before_stamps[p]}
    assert changed == {"+5511987654321", "+5511987651234", "+551134567890", "+5521987654321"}
    # the report lists the two rejected rows as they were in the file
    report = list(data_jobs.report_rows(job))
    assert [r[:2] for r in report[1:]] == [["7", 'Telefone inválido: "123".'],
                                           ["8", errors(job)[1][1]]]


@pytest.mark.postgresql
def test_SCL_4_postgresql_rows_are_written_in_the_servers_plan_mode(ctx, monkeypatch):
    """SCL-4: the batch lookup is the one statement run with force_custom_plan; the
    contacts and tag links are written in the server's own plan mode. Under
    force_custom_plan PostgreSQL plans the foreign-key check of every inserted row
    (company, contact, tag) again, which doubled the server's work per import."""
    server_mode = db.session.scalar(text("SELECT current_setting('plan_cache_mode')"))
    db.session.commit()
    modes: list[tuple[str, str]] = []
    write_rows = importer.insert_tuples

    def spy(table, columns, rows, **kwargs):
        modes.append((table.name, db.session.scalar(
            text("SELECT current_setting('plan_cache_mode')"))))
        return write_rows(table, columns, rows, **kwargs)

    monkeypatch.setattr(importer, "insert_tuples", spy)
    job = run_import(admin(ctx["a"]), FIXTURES / "excel_ptbr_cp1252.csv")
    assert job.created == 6
    assert modes == [("contact", server_mode), ("contact_tag", server_mode)]


@pytest.mark.postgresql
def test_SCL_4_postgresql_statistics_refreshed_only_when_contacts_were_created(
        app, ctx, tmp_path, monkeypatch):
    """SCL-4: ANALYZE (the lookups' plans need fresh statistics) runs while an import
    creates contacts, before a batch that looks up; not while the batches skip their
    lookups, and not at all in a re-import that creates none."""
    app.config["IMPORT_BATCH_SIZE"] = 2
    steps: list[str] = []

    def seen(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("ANALYZE"):
            steps.append("analyze")

    resolve = importer.resolve_batch

    def spy(ctx_, parsed, lookup=True):
        steps.append("lookup" if lookup else "no lookup")
        return resolve(ctx_, parsed, lookup)

    monkeypatch.setattr(importer, "resolve_batch", spy)
    # batches 1-2 new; batch 3 repeats a phone of batch 1: written again with its lookup
    path = write(tmp_path, "estatisticas.csv", "Nome;Telefone\r\n" + "".join(
        f"Novo {n};(11) 97400-000{n};\r\n" for n in range(1, 6)) + "Novo 1;(11) 97400-0001\r\n"
        "Novo 7;(11) 97400-0007\r\n")
    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        run_import(admin(ctx["a"]), path)
        first = list(steps)
        steps.clear()
        job = run_import(admin(ctx["a"]), path)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert first == ["lookup", "no lookup", "no lookup", "lookup", "analyze", "lookup"]
    assert counters(job)["created"] == 0 and "analyze" not in steps


def test_SCL_4_bulk_rows_are_stored_as_sqlalchemys_own_insert_stores_them(ctx):
    """SCL-4: the import's bulk writer (COPY on PostgreSQL, the driver's executemany on
    SQLite) stores what SQLAlchemy's INSERT of the same values stores: datetimes with and
    without microseconds, JSON (accents included) and no JSON, text, NULLs; on SQLite the
    very same text in the file (dates are compared and sorted as text there)."""
    from backoffice.lib.bulk import insert_tuples

    a = ctx["a"]
    columns = ["id", "company_id", "created_at", "updated_at", "name", "phone",
               "custom_fields", "document", "notes"]
    plain = datetime(2026, 12, 6, 5, 0, 0)
    fine = datetime(2026, 12, 6, 5, 0, 0, 123456)
    values = [(plain, fine, "Ação Ltda", {"cidade": "São Paulo", "n": [1, 2]}, None, "obs"),
              (fine, plain, "Zé", None, "52998224725", None)]
    base = db.session.scalar(select(func.coalesce(func.max(Contact.id), 0))) + 100
    # phone and CPF/CNPJ are unique per company: each writer gets its own
    by_sqlalchemy = [(base + i, a.company_id, *v[:3], f"+55119780000{i}", *v[3:])
                     for i, v in enumerate(values)]
    by_bulk = [(base + 10 + i, a.company_id, *v[:3], f"+55119780001{i}", v[3],
                v[4] and "11144477735", v[5]) for i, v in enumerate(values)]
    db.session.execute(Contact.__table__.insert(), [dict(zip(columns, r)) for r in by_sqlalchemy])
    insert_tuples(Contact.__table__, columns, by_bulk)
    db.session.commit()
    shown = [c for c in columns if c not in ("id", "phone", "document")]

    def stored(ids, raw: bool):
        cols = ", ".join(shown)
        if raw:
            return [tuple(r) for r in db.session.execute(text(
                f"SELECT {cols} FROM contact WHERE id IN ({ids[0]}, {ids[1]}) ORDER BY id"))]
        return [tuple(getattr(c, k) for k in shown) for c in db.session.scalars(
            select(Contact).where(Contact.id.in_(ids)).order_by(Contact.id))]

    ours, theirs = [base + 10, base + 11], [base, base + 1]
    assert stored(ours, raw=False) == stored(theirs, raw=False) == [
        (a.company_id, *v[:4], v[5]) for v in values]
    assert db.session.scalars(select(Contact.document).where(Contact.id.in_(ours))
                              .order_by(Contact.id)).all() == [None, "11144477735"]
    if db.engine.dialect.name == "sqlite":
        assert stored(ours, raw=True) == stored(theirs, raw=True)


@pytest.mark.postgresql
def test_SCL_4_the_server_ends_the_copy_while_the_caller_works(ctx):
    """SCL-4: PostgreSQL checks a COPY's foreign keys only once it has the end of the COPY,
    so lib.bulk.insert_tuples sends that end before the caller's `meanwhile` work: seen from
    another connection, the COPY's server process has finished it (idle in the
    transaction) while `meanwhile` still runs, and the rows are there. A row whose foreign
    key points nowhere still fails the COPY whole, after `meanwhile` ran."""
    from backoffice.lib.bulk import insert_tuples

    a = ctx["a"]
    contact_id = db.session.scalar(select(Contact.id).where(Contact.company_id == a.company_id)
                                   .limit(1))
    tags = [gen_tag(a.company_id, f"Fim da cópia {i}") for i in range(3)]
    db.session.commit()
    tag_ids = [t.id for t in tags]
    pid = db.session.connection().connection.driver_connection.info.backend_pid
    seen: list[str] = []

    def meanwhile():
        with db.engine.connect() as other:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                state = other.scalar(text("SELECT state FROM pg_stat_activity WHERE pid = :pid"),
                                     {"pid": pid})
                if state == "idle in transaction":
                    break
                time.sleep(0.01)
            seen.append(state)

    insert_tuples(contact_tag, ["contact_id", "tag_id"],
                  [(contact_id, tid) for tid in tag_ids], meanwhile=meanwhile)
    assert seen == ["idle in transaction"]
    db.session.commit()
    assert set(db.session.scalars(select(contact_tag.c.tag_id).where(
        contact_tag.c.contact_id == contact_id, contact_tag.c.tag_id.in_(tag_ids)))) == set(tag_ids)

    ran: list[bool] = []
    with pytest.raises(IntegrityError):
        insert_tuples(contact_tag, ["contact_id", "tag_id"],
                      [(contact_id, tag_ids[0] + 1000000)], meanwhile=lambda: ran.append(True))
    assert ran == [True]
    db.session.rollback()


@pytest.mark.postgresql
def test_SCL_4_batch_taken_by_a_concurrent_write_is_done_again(app, ctx, tmp_path,
                                                              monkeypatch):
    """SCL-4: while a batch is written, another process saves a contact with one of its
    phones: the batch's COPY fails whole on the unique phone (psycopg's error, re-raised by
    lib/bulk as an IntegrityError), and the batch is looked up and written again: its row
    now updates that contact, and the next batch's row with the same phone too."""
    a = ctx["a"]
    app.config["IMPORT_BATCH_SIZE"] = 2
    path = write(tmp_path, "concorrente.csv",
                 "Nome;Telefone\r\n"
                 "Linha 2;(11) 97000-0002\r\n"
                 "Linha 3;(11) 97000-0003\r\n"
                 "Linha 4;(11) 97000-0004\r\n"
                 "Linha 5;(11) 97000-0005\r\n"
                 "Linha 6;(11) 97000-0005\r\n"
                 "Linha 7;(11) 97000-0007\r\n")
    original, calls = importer.Batch.write, []

    def write_after_a_concurrent_insert(batch, *args):
        calls.append(batch)
        if len(calls) == 2:  # lines 4-5: another process saves 5's phone first
            with db.engine.begin() as conn:
                conn.execute(Contact.__table__.insert().values(
                    company_id=a.company_id, name="Outro processo", phone="+5511970000005",
                    created_at=utcnow(), updated_at=utcnow()))
        return original(batch, *args)

    monkeypatch.setattr(importer.Batch, "write", write_after_a_concurrent_insert)
    job = run_import(admin(a), path, update=True, fields=["name"])
    assert counters(job) == {"created": 4, "updated": 2, "unchanged": 0, "rejected": 0}
    names = dict(db.session.execute(select(Contact.phone, Contact.name).where(
        Contact.company_id == a.company_id, Contact.phone.like("+55119700000%"))).all())
    assert names == {"+5511970000002": "Linha 2", "+5511970000003": "Linha 3",
                     "+5511970000004": "Linha 4", "+5511970000005": "Linha 6",
                     "+5511970000007": "Linha 7"}
    assert job.processed == job.total == 6


def test_SCL_4_a_batch_after_one_that_matched_nothing_skips_its_lookup(app, ctx, tmp_path,
                                                                      import_lookups):
    """SCL-4: an import of new contacts looks the saved ones up for its first batch only;
    a re-import of the same file, whose every batch matches, looks up every batch and
    changes nothing."""
    a = ctx["a"]
    app.config["IMPORT_BATCH_SIZE"] = 2
    path = write(tmp_path, "novos.csv", "Nome;Telefone;CPF/CNPJ\r\n" + "".join(
        f"Novo {n};(11) 97200-000{n};\r\n" for n in range(1, 6)) + "Novo 6;(11) 97200-0006;"
        "529.982.247-25\r\n")
    made = import_lookups
    job = run_import(admin(a), path)
    assert counters(job) == {"created": 6, "updated": 0, "unchanged": 0, "rejected": 0}
    assert made == [True, False, False]
    made.clear()
    job = run_import(admin(a), path, update=True, fields=ALL_FIELDS)
    assert counters(job) == {"created": 0, "updated": 0, "unchanged": 6, "rejected": 0}
    assert made == [True, True, True]
    assert contact_count(a.company_id) == 6


def test_SCL_4_a_row_matching_a_saved_contact_in_a_batch_without_lookup_keeps_every_rule(
        app, ctx, tmp_path, import_lookups):
    """SCL-4: a batch that skipped its lookup (the one before matched nothing) holds rows
    of saved contacts, by phone, by CPF, and one whose phone and CPF are two contacts: the
    unique index refuses the batch and it is written again with its lookup, so each row
    gets the rule it gets in any batch (update, update, rejected with the reason) and no
    contact is created twice. The batch after one that matched contacts looks up."""
    a = ctx["a"]
    app.config["IMPORT_BATCH_SIZE"] = 2
    for name, phone, document in (("Salvo pelo telefone", "+5511973000003", None),
                                  ("Salvo pelo CPF", "+5511973000099", "52998224725"),
                                  ("Outro salvo", "+5511973000098", "11144477735")):
        db.session.add(Contact(company_id=a.company_id, name=name, phone=phone,
                               document=document, person_type="PF" if document else None))
    db.session.commit()
    path = write(tmp_path, "misturado.csv",
                 "Nome;Telefone;CPF/CNPJ\r\n"
                 "Novo 2;(11) 97300-0002;\r\n"
                 "Novo 3a;(11) 97300-0010;\r\n"
                 "Telefone salvo;(11) 97300-0003;\r\n"   # batch 2, no lookup: matches
                 "Novo 5;(11) 97300-0005;\r\n"
                 "Novo 6;(11) 97300-0006;\r\n"           # batch 3: looked up (2 matched)
                 "Novo 7;(11) 97300-0007;\r\n"
                 "CPF salvo;(11) 97300-0008;529.982.247-25\r\n"   # batch 4, no lookup
                 "Dois contatos;(11) 97300-0098;529.982.247-25\r\n")
    job = run_import(admin(a), path, update=True, fields=["name"])
    assert import_lookups == [True, False, True, True, False, True]
    assert counters(job) == {"created": 5, "updated": 2, "unchanged": 0, "rejected": 1}
    assert errors(job) == [(9, "O telefone é de um contato (Outro salvo) e o CPF/CNPJ de "
                               "outro (CPF salvo).")]
    names = dict(db.session.execute(select(Contact.phone, Contact.name).where(
        Contact.company_id == a.company_id, Contact.phone.like("+55119730000%"))).all())
    assert names == {"+5511973000002": "Novo 2", "+5511973000010": "Novo 3a",
                     "+5511973000003": "Telefone salvo", "+5511973000005": "Novo 5",
                     "+5511973000006": "Novo 6", "+5511973000007": "Novo 7",
                     "+5511973000099": "CPF salvo", "+5511973000098": "Outro salvo"}
    assert job.processed == job.total == 8


@pytest.mark.postgresql
def test_SCL_4_postgresql_next_batch_is_read_while_the_server_writes_the_contacts(
        app, ctx, tmp_path, monkeypatch):
    """SCL-4: on PostgreSQL the next batch's rows are read and checked while the server
    finishes the contacts' COPY (after its last row and its end are sent, before its
    result is read), not after it; the result is the same as one batch after the other.
    (The third batch goes without a lookup, the second having matched nothing; its line 7
    repeats line 2's phone, so its COPY is refused and the batch is written again with the
    lookup.)"""
    a = ctx["a"]
    app.config["IMPORT_BATCH_SIZE"] = 2
    path = write(tmp_path, "tres_lotes.csv",
                 "Nome;Telefone;Etiquetas\r\n"
                 "Linha 2;(11) 97100-0002;Lote\r\n"
                 "Linha 3;(11) 97100-0003;\r\n"
                 "Linha 4;(11) 97100-0004;Lote\r\n"
                 "Linha 5;telefone ruim;\r\n"
                 "Linha 6;(11) 97100-0006;\r\n"
                 "Linha 7;(11) 97100-0002;\r\n")
    steps: list[str] = []
    parse, write_rows = importer.parse_items, importer.insert_tuples

    def parse_spy(ctx_, items):
        steps.append(f"parse {items[0][0]}")
        return parse(ctx_, items)

    def write_spy(table, columns, rows, **kwargs):
        steps.append(f"copy {table.name}")
        write_rows(table, columns, rows, **kwargs)
        steps.append(f"end {table.name}")

    monkeypatch.setattr(importer, "parse_items", parse_spy)
    monkeypatch.setattr(importer, "insert_tuples", write_spy)
    job = run_import(admin(a), path)
    assert counters(job) == {"created": 4, "updated": 0, "unchanged": 1, "rejected": 1}
    contacts = [s for s in steps if "contact_tag" not in s and "data_job" not in s]
    assert contacts == ["parse 2", "copy contact", "parse 4", "end contact",
                        "copy contact", "parse 6", "end contact",
                        "copy contact", "copy contact", "end contact"]  # nothing more to read
    assert job.processed == job.total == 6
    assert db.session.scalar(select(func.count()).select_from(Contact).where(
        Contact.company_id == a.company_id, Contact.phone.like("+55119710000%"))) == 4


def resolution_steps(monkeypatch) -> list[str]:
    """The import's COPYs ("copy <table>", "end <table>") and batch resolutions ("resolve
    <first line>", "ahead <first line>" for one made during another batch's COPY,
    "lookup" added when it looked up), in order."""
    steps: list[str] = []
    resolve, write_rows = importer.resolve_batch, importer.insert_tuples

    def resolve_spy(ctx_, parsed, lookup=True, ahead=False):
        steps.append(f"{'ahead' if ahead else 'resolve'} {parsed[0][0]}"
                     + (" lookup" if lookup else ""))
        return resolve(ctx_, parsed, lookup, ahead)

    def write_spy(table, columns, rows, **kwargs):
        if table.name != "data_job_error":
            steps.append(f"copy {table.name}")
        write_rows(table, columns, rows, **kwargs)
        if table.name != "data_job_error":
            steps.append(f"end {table.name}")

    monkeypatch.setattr(importer, "resolve_batch", resolve_spy)
    monkeypatch.setattr(importer, "insert_tuples", write_spy)
    return steps


def tagged_contacts(company_id: int, like: str) -> dict[str, set[str]]:
    rows = db.session.execute(
        select(Contact.name, Tag.name).select_from(Contact)
        .outerjoin(contact_tag, contact_tag.c.contact_id == Contact.id)
        .outerjoin(Tag, Tag.id == contact_tag.c.tag_id)
        .where(Contact.company_id == company_id, Contact.phone.like(like))).all()
    out: dict[str, set[str]] = {}
    for contact, tag in rows:
        out.setdefault(contact, set()).update([tag] if tag else [])
    return out


@pytest.mark.postgresql
def test_SCL_4_postgresql_a_batch_without_lookup_is_resolved_while_the_tag_links_are_written(
        app, ctx, tmp_path, monkeypatch):
    """SCL-4: a batch that will skip its lookup is resolved while the server writes the
    tag links of the batch before, and written as resolved then; one naming a tag nobody
    made yet is resolved in its own turn, which creates the tag (once). The contacts and
    their tags are what the file says."""
    a = ctx["a"]
    app.config["IMPORT_BATCH_SIZE"] = 2
    path = write(tmp_path, "etiquetas.csv",
                 "Nome;Telefone;Etiquetas\r\n"
                 "Linha 2;(11) 97500-0002;Lote\r\n"
                 "Linha 3;(11) 97500-0003;\r\n"
                 "Linha 4;(11) 97500-0004;Lote\r\n"
                 "Linha 5;(11) 97500-0005;Lote\r\n"
                 "Linha 6;(11) 97500-0006;Lote, Novo\r\n")
    steps = resolution_steps(monkeypatch)
    job = run_import(admin(a), path)
    assert counters(job) == {"created": 5, "updated": 0, "unchanged": 0, "rejected": 0}
    assert steps == [
        "resolve 2 lookup", "copy contact", "end contact",
        "copy contact_tag", "ahead 4", "end contact_tag",  # known tags: resolved ahead
        "copy contact", "end contact", "copy contact_tag", "ahead 6", "end contact_tag",
        "resolve 6",  # "Novo" is a new tag: resolved in its turn
        "copy contact", "end contact", "copy contact_tag", "end contact_tag"]
    assert tagged_contacts(a.company_id, "+55119750000%") == {
        "Linha 2": {"Lote"}, "Linha 3": set(), "Linha 4": {"Lote"},
        "Linha 5": {"Lote"}, "Linha 6": {"Lote", "Novo"}}
    assert db.session.scalar(select(func.count()).select_from(Tag).where(
        Tag.company_id == a.company_id, Tag.name == "Novo")) == 1


@pytest.mark.postgresql
def test_SCL_4_postgresql_a_batch_resolved_ahead_is_resolved_again_after_a_rollback(
        app, ctx, tmp_path, monkeypatch):
    """SCL-4: when the batch during whose tag links the next one was resolved is rolled
    back and done again, what was resolved ahead is dropped (it may hold a tag of the
    rolled-back attempt) and the next batch is resolved again in its turn."""
    a = ctx["a"]
    app.config["IMPORT_BATCH_SIZE"] = 2
    path = write(tmp_path, "refeito.csv",
                 "Nome;Telefone;Etiquetas\r\n"
                 "Linha 2;(11) 97600-0002;Lote\r\n"
                 "Linha 3;(11) 97600-0003;Lote\r\n"
                 "Linha 4;(11) 97600-0004;Novo\r\n"
                 "Linha 5;(11) 97600-0005;Lote\r\n"
                 "Linha 6;(11) 97600-0006;Novo\r\n")
    commit, calls = importer._commit_progress, []

    def commit_fails_once_for_batch_2(job_id, consumed, outcome):
        calls.append(consumed)
        if len(calls) == 2:  # batch 2 (lines 4-5), written, tag links included
            raise IntegrityError("simulada", None, Exception("simulada"))
        return commit(job_id, consumed, outcome)

    monkeypatch.setattr(importer, "_commit_progress", commit_fails_once_for_batch_2)
    steps = resolution_steps(monkeypatch)
    job = run_import(admin(a), path)
    assert counters(job) == {"created": 5, "updated": 0, "unchanged": 0, "rejected": 0}
    resolutions = [s for s in steps if s.startswith(("resolve", "ahead"))]
    # batch 2 (a new tag: not resolved ahead) first without lookup, creating "Novo";
    # batch 3 resolved ahead during its tag links; batch 2 rolled back and done again
    # with its lookup; batch 3 resolved again (its "Novo" was the rolled-back one)
    assert resolutions == ["resolve 2 lookup", "ahead 4", "resolve 4", "ahead 6",
                           "resolve 4 lookup", "resolve 6"]
    assert tagged_contacts(a.company_id, "+55119760000%") == {
        "Linha 2": {"Lote"}, "Linha 3": {"Lote"}, "Linha 4": {"Novo"},
        "Linha 5": {"Lote"}, "Linha 6": {"Novo"}}


def test_SCL_4_a_failure_reading_the_next_batch_keeps_the_batch_written(app, ctx, tmp_path,
                                                                      monkeypatch):
    """SCL-4: an unexpected error while the next batch is read (on PostgreSQL, during the
    current batch's COPY) does not undo the current batch: it is committed with its
    progress, the job fails with the message that offers "Retomar", and resuming it
    imports the rest once."""
    a = ctx["a"]
    app.config["IMPORT_BATCH_SIZE"] = 2
    path = write(tmp_path, "falha.csv",
                 "Nome;Telefone\r\n"
                 "Linha 2;(11) 97200-0002\r\n"
                 "Linha 3;(11) 97200-0003\r\n"
                 "Linha 4;(11) 97200-0004\r\n"
                 "Linha 5;(11) 97200-0005\r\n")
    parse_row, broken = importer.parse_row, [True]

    def failing(ctx_, line, cells):
        if line == 4 and broken[0]:
            raise RuntimeError("falha simulada")
        return parse_row(ctx_, line, cells)

    monkeypatch.setattr(importer, "parse_row", failing)
    job = data_jobs.import_from_path(admin(a), path)
    data_jobs.start_import(job, False, None)
    db.session.expire_all()
    job = db.session.get(DataJob, job.id)
    assert job.status == states.FAILED
    assert job.error.startswith("Erro inesperado na importação. Use \"Retomar\"")
    assert (job.processed, job.created) == (2, 2)
    phones = lambda: set(db.session.scalars(select(Contact.phone).where(  # noqa: E731
        Contact.company_id == a.company_id, Contact.phone.like("+55119720000%"))))
    assert phones() == {"+5511972000002", "+5511972000003"}
    broken[0] = False
    data_jobs.resume(job)
    db.session.expire_all()
    job = db.session.get(DataJob, job.id)
    assert job.status == states.DONE and (job.processed, job.created) == (4, 4)
    assert phones() == {"+5511972000002", "+5511972000003", "+5511972000004",
                        "+5511972000005"}
