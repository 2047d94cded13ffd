"""REP-1's Relatórios screen: the page with its numbers, the refusals (rights, bad
filters: pt-BR messages, never a 500), the CSV and XLSX downloads and the drill-down
list. The facts are test_reports_queries's fixed set (December 2026, São Paulo)."""
from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import datetime
from html import unescape

from backoffice.extensions import db
from backoffice.models import Company
from backoffice.reports import exports
from tests.conftest import client_as, flashes
from tests.test_reports_queries import _world

WEEK = "start=2026-12-01&end=2026-12-07"


def test_REP_1_reports_screen_downloads_and_drill_down(app, timeline, monkeypatch):
    """REP-1: a manager sees every section with its numbers and chart data; an agent
    without reports.view is refused; bad filters say why (400); CSV (BOM, ";") and XLSX
    downloads; the drill-down lists the tickets of a day, a department, a tag."""
    timeline.set(datetime(2026, 12, 8, 1, 0))
    with app.app_context():
        w = _world()
        ids = {"t": [t.id for t in w["tickets"]], "other_department": w["other_department"].id,
               "vendas": w["vendas"].id, "vip": w["vip"].id, "ana": w["ana"].id}
        protocols = [t.protocol for t in w["tickets"]]
        company_id = w["company"].id
    manager = client_as(app, "admin-a@example.com")

    page = manager.get(f"/admin/reports/?{WEEK}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for section in exports.SHOWN:
        assert f'data-testid="report-{section}"' in html
    assert "Como contamos" in html
    assert "No período: 6 criados e 5 fechados." in unescape(html)
    assert "Período anterior (24/11/2026 a 30/11/2026): 1 criados e 0 fechados." in unescape(html)
    assert "Variação dos criados: +500,0%." in unescape(html)
    assert "1 h 00 min" in html and "80,0%" in html      # Suporte's resolution, the SLA
    charts = json.loads(re.search(r'id="report-charts">(.*?)</script>', html, re.S).group(1))
    volume = next(c for c in charts if c["name"] == "volume")
    assert volume["labels"][0] == "01/12/2026" and volume["datasets"][0]["data"][0] == 2
    assert "day=2026-12-01" in volume["datasets"][0]["links"][0]
    # the default range: the last 30 days up to today on the company's clock (the 7th)
    assert manager.get("/admin/reports/").status_code == 200

    agent = client_as(app, "ana@example.com")
    assert agent.get(f"/admin/reports/?{WEEK}").status_code == 403
    assert agent.get(f"/admin/reports/download?table=volume&format=csv&{WEEK}").status_code == 403

    for query, message in [
            ("start=2026-12-08&end=2026-12-01", "A data inicial é depois da data final."),
            ("start=2020-01-01&end=2026-12-01", "Escolha um período de até 12 meses."),
            ("start=ontem&end=2026-13-45", "Data inválida"),
            (f"department={ids['other_department']}", "Departamento não encontrado.")]:
        answer = manager.get(f"/admin/reports/?{query}")
        assert answer.status_code == 400, query
        assert message in unescape(answer.get_data(as_text=True)), query

    csv_file = manager.get(f"/admin/reports/download?table=department&format=csv&{WEEK}")
    assert csv_file.status_code == 200 and csv_file.mimetype == "text/csv"
    text = csv_file.get_data().decode("utf-8")
    assert text.startswith("\ufeffDepartamento;Atendimentos;Fechados;")
    assert "Vendas;3;3;600;1800" in text
    xlsx = manager.get(f"/admin/reports/download?table=volume&format=xlsx&grain=week&{WEEK}")
    assert xlsx.status_code == 200
    sheet = zipfile.ZipFile(io.BytesIO(xlsx.get_data())).read("xl/worksheets/sheet1.xml").decode()
    assert "Criados" in sheet and "Semana de 30/11/2026" in sheet
    bad = manager.get("/admin/reports/download?table=volume&format=csv&start=2026-12-08&end=2026-12-01")
    assert bad.status_code == 302
    again = manager.get(bad.headers["Location"])
    assert again.status_code == 400
    assert "A data inicial é depois da data final." in again.get_data(as_text=True)
    assert manager.get("/admin/reports/download?table=nada&format=csv").status_code == 404

    # drill-down: a day, a department's tickets, "no department", a tag, a bad key
    t1, t2, t3, t4 = ids["t"][:4]
    listing = manager.get(f"/admin/reports/tickets?{WEEK}&day=2026-12-01")
    html = listing.get_data(as_text=True)
    assert listing.status_code == 200 and "2 atendimento(s)." in html
    assert f"/inbox/?ticket={t1}" in html and f"/inbox/?ticket={t2}" in html
    assert protocols[0] in html and protocols[2] not in html
    html = manager.get(f"/admin/reports/tickets?{WEEK}&by=department&key={ids['vendas']}"
                       ).get_data(as_text=True)
    assert "Departamento: Vendas" in html and "3 atendimento(s)." in html
    html = manager.get(f"/admin/reports/tickets?{WEEK}&by=department&key=none").get_data(as_text=True)
    assert "Sem departamento" in html and f"ticket={t4}" in html
    html = manager.get(f"/admin/reports/tickets?{WEEK}&by=tag&key={ids['vip']}&page=99").get_data(
        as_text=True)
    assert "2 atendimento(s)." in html and f"ticket={t3}" in html   # page 99: the last one
    # the SLA's two sides (4 of the 5 answered within 15 min) and a satisfaction number
    # (Ana: 2 tickets this week, 1 of them rated) open exactly the tickets they count
    html = manager.get(f"/admin/reports/tickets?{WEEK}&sla=outside").get_data(as_text=True)
    assert "Fora da meta" in html and "1 atendimento(s)." in html and protocols[5] in html
    html = manager.get(f"/admin/reports/tickets?{WEEK}&sla=within").get_data(as_text=True)
    assert "4 atendimento(s)." in html and protocols[5] not in html
    sla_links = next(c for c in charts if c["name"] == "sla")["datasets"][0]["links"]
    assert "sla=within" in sla_links[0] and "sla=outside" in sla_links[1]
    html = manager.get(f"/admin/reports/tickets?{WEEK}&by=agent&key={ids['ana']}&rated=1"
                       ).get_data(as_text=True)
    assert "Com avaliação" in html and "1 atendimento(s)." in html and protocols[0] in html
    for query in (f"by=department&key={ids['other_department']}", "by=nada&key=1",
                  "day=amanha", "by=agent&key=99999999999999999999", "sla=talvez"):
        answer = manager.get(f"/admin/reports/tickets?{WEEK}&{query}")
        assert answer.status_code == 400, query
    drilled = manager.get(f"/admin/reports/download?table=tickets&format=csv&{WEEK}&closed=all")
    lines = drilled.get_data().decode("utf-8").splitlines()
    assert lines[0] == "\ufeffProtocolo;Chegada;Departamento;Atendente;Situação;Primeira resposta (segundos)"
    assert len(lines) == 1 + 5
    monkeypatch.setattr(exports, "MAX_DOWNLOAD_ROWS", 4)
    refused = manager.get(f"/admin/reports/download?table=tickets&format=xlsx&{WEEK}&closed=all",
                          follow_redirects=True)
    assert refused.status_code == 200
    assert any("Importar/exportar registros" in m for m in flashes(refused.get_data(as_text=True)))

    # a plan without the "reports" module: no menu entry, the screen refused (UX-7)
    assert "/admin/reports/" in manager.get("/admin/").get_data(as_text=True)
    with app.app_context():
        company = db.session.get(Company, company_id)
        company.plan.modules = [m for m in company.plan.modules if m != "reports"]
        db.session.commit()
    assert "/admin/reports/" not in manager.get("/admin/").get_data(as_text=True)
    assert manager.get(f"/admin/reports/?{WEEK}").status_code == 403
