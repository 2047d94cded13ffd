"""UX-4: no raw values anywhere; UX-2: every page has one <h1> and one <main>, and its
headings skip no level.

The demo company's admin, one of its agents and the SaaS operator walk every page (each
registered screen's list, CSV export, new, edit and details; the panel's own pages; the
inbox and its JSON), follow the links they find, and read two files of Exportar
registros; a visitor and the demo's portal representative read the customers' pages
(login, help center, site widget, Fale Conosco portal). Nothing shows `None`,
`True`/`False`, `__None`, a table or column name, a Python timestamp, an ISO string or a
UTC time: dates read dd/mm/aaaa hh:mm on the company's wall clock.

Visible text only (tags, scripts, styles and attribute values are not read), <option>
labels and table cells included."""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask_login import login_user
from sqlalchemy import DateTime, inspect, select

from backoffice.extensions import db
from backoffice.models import AuditLog, Company, Connection, DataJob, Department, Tag, Ticket, User
from backoffice.models.articles import AUDIENCE_PUBLIC, STATUS_PUBLISHED, Article
from backoffice.lib import after_commit
from backoffice.models.portal import ContactMethod, PortalAccount, ServiceSubclassification
from backoffice.services.portal import protocols
from backoffice.seed import load_demo
from backoffice.services import audit, data_jobs
from backoffice.services.hours import local_time
from tests.admin_registry import saas_views, tenant_views
from tests.conftest import client_as, login
from tests.factories import portal_login

ADMIN, ROOT = "admin@demo.atende.local", "root@atende.local"
AGENT = "bruno@demo.atende.local"
ROWS_PER_SCREEN = 1   # edit/details pages opened per screen (the walk's budget)
LINKS_BUDGET = 40     # extra same-site pages reached by following links, per user

# Whatever a page shows as text.
TEXT_LEAKS = [
    (re.compile(r"__None"), "__None"),
    (re.compile(r"\bNone\b"), "None"),
    (re.compile(r"\b(?:True|False)\b"), "booleano cru"),
    (re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"), "data/hora crua"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "data ISO"),
    (re.compile(r"<[A-Z][A-Za-z]+ (?:object|\d+|at 0x)"), "repr de objeto"),
    (re.compile(r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{1,2}, \d{4}"),
     "data em inglês"),
]
# UX-2: a screen reader's user jumps to a page's title and to its content: one of each
H1 = re.compile(r"<h1[\s>]", re.I)
MAIN = re.compile(r"<main[\s>]", re.I)
HEADING = re.compile(r"<h([1-6])[\s>]", re.I)  # in document order: none may skip a level
# Tags whose text is a label or a value cell: a whole-cell table/model name there is raw.
LABEL_TAGS = {"th", "td", "label", "option", "dt", "dd", "a", "button", "h1", "h2", "h3",
              "h4", "h5", "li", "span", "strong", "legend"}
SKIP_TAGS = {"script", "style", "template", "noscript"}
SAME_PAGE_ARGS = {"url", "sort", "desc", "page", "page_size", "search"}
VARIABLE = re.compile(r"\{\{.*?\}\}")
# Links never followed: they change state, download a file or leave the HTML panel.
NOT_FOLLOWED = re.compile(r"/(?:logout|export|delete|action|static|attachments|downloads|"
                          r"arquivo|rejeitadas\.csv|modelo\.csv|ajax|uploads|avatar|logo)\b")


class _Text(HTMLParser):
    """Visible text chunks with the innermost tag around each, and the page's links."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
            "source", "track", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.chunks: list[tuple[str, str]] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag not in self.VOID:
            # Flask-Admin's inline-form template is escaped HTML for its script, never shown
            hidden = "inline-field-template" in (attrs.get("class") or "")
            # data-verbatim: bytes another system sent or received, shown as they were
            # (a webhook delivery's JSON body, the receiver's answer)
            self.stack.append("template" if hidden else "verbatim:" + tag
                              if "data-verbatim" in attrs else tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID and self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag == "div" and self.stack and self.stack[-1] == "template":
            self.stack.pop()
        elif self.stack and self.stack[-1] == "verbatim:" + tag:
            self.stack.pop()
        elif tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass

    def handle_data(self, data):
        if any(t in SKIP_TAGS or t.startswith("verbatim:") for t in self.stack):
            return
        if data.strip():
            self.chunks.append((self.stack[-1] if self.stack else "", data.strip()))


def _raw_names(app) -> tuple[set[str], set[str]]:
    """Column names with an underscore (company_id, created_at: raw anywhere) and the
    tables' and models' own names (raw when they are the whole of a label or cell)."""
    with app.app_context():
        columns = {c.name for t in db.metadata.tables.values() for c in t.columns if "_" in c.name}
        whole = set(db.metadata.tables)
        whole |= {m.class_.__name__ for m in db.Model.registry.mappers}
        # Flask-Admin's label for a column nobody named: "Created At", "Company"
        whole |= {c.replace("_", " ").title() for c in columns}
    return columns, whole


class Walk:
    def __init__(self, app, client, who):
        self.app, self.client, self.who = app, client, who
        self.columns, self.whole = _raw_names(app)
        self.column_re = re.compile(r"\b(?:%s)\b" % "|".join(sorted(map(re.escape, self.columns))))
        self.seen: set[str] = set()
        self.shapes: set[tuple] = set()
        self.links: list[str] = []
        self.problems: list[str] = []
        self.outline: list[str] = []   # pages without one h1 and one main (UX-2)
        self.pages: list[str] = []     # the HTML pages read
        self.utc_only: dict[str, str] = {}  # UTC rendering -> local rendering, of shown rows

    def _report(self, url, kind, snippet):
        self.problems.append(f"[{self.who}] {url}: {kind}: {snippet[:160]!r}")

    def check_text(self, url, tag, text):
        bare = VARIABLE.sub("", text)
        for pattern, kind in TEXT_LEAKS:
            found = pattern.search(bare)
            if found:
                start = max(found.start() - 40, 0)
                self._report(url, kind, bare[start:found.end() + 40])
        found = self.column_re.search(bare)
        if found:
            self._report(url, "nome de coluna", bare[max(found.start() - 40, 0):found.end() + 40])
        if tag in LABEL_TAGS and bare.strip() in self.whole:
            self._report(url, "nome de tabela", bare)
        for utc, local in self.utc_only.items():
            if utc in bare:
                self._report(url, f"hora em UTC (no fuso da empresa: {local})", bare)

    def page(self, url, follow=True):
        if url in self.seen:
            return None
        self.seen.add(url)
        response = self.client.get(url)
        if response.status_code in (301, 302) and follow:
            self.links.append(response.headers["Location"])
        if response.status_code != 200:
            return response
        if response.mimetype == "application/json":
            self.check_json(url, response.get_json())
            return response
        if response.mimetype != "text/html":
            return response
        html = response.get_data(as_text=True)
        self.pages.append(url)
        headings, mains = len(H1.findall(html)), len(MAIN.findall(html))
        if (headings, mains) != (1, 1):
            self.outline.append(f"[{self.who}] {url}: {headings} <h1>, {mains} <main>")
        levels = [int(level) for level in HEADING.findall(html)]
        skips = [f"h{a} -> h{b}" for a, b in zip(levels, levels[1:]) if b > a + 1]
        if skips:
            self.outline.append(f"[{self.who}] {url}: heading levels skipped: {', '.join(skips)}")
        parser = _Text()
        parser.feed(html)
        for tag, text in parser.chunks:
            self.check_text(url, tag, text)
        if follow:
            self.links.extend(parser.links)
        return response

    def check_csv(self, url, raw: bytes):
        for row in csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"):
            for cell in row:
                if cell.strip():
                    self.check_text(url, "td", cell.strip())

    def check_json(self, url, data, key=""):
        if isinstance(data, dict):
            for k, v in data.items():
                self.check_json(url, v, k)
        elif isinstance(data, list):
            for v in data:
                self.check_json(url, v, key)
        elif isinstance(data, str):
            if data in ("None", "True", "False") or "__None" in data:
                self._report(url, f"valor cru em {key}", data)
            if re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", data):
                self._report(url, f"data/hora crua em {key}", data)

    def follow_links(self):
        budget = LINKS_BUDGET
        while self.links and budget:
            href = self.links.pop(0)
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or not parts.path.startswith(("/admin", "/inbox")):
                continue
            if NOT_FOLLOWED.search(parts.path):
                continue
            # One page of each shape (path and query keys): another sort order, page size
            # or return address shows nothing the first did not.
            query = [(k, v) for k, v in parse_qsl(parts.query) if k not in SAME_PAGE_ARGS]
            shape = (parts.path, tuple(sorted(k for k, _ in query)))
            if shape in self.shapes:
                continue
            self.shapes.add(shape)
            url = parts.path + ("?" + urlencode(query) if query else "")
            if url not in self.seen:
                budget -= 1
                self.page(url)

    def learn_times(self, rows, tz):
        """Remember how the rows' timestamps would read in UTC, to catch one shown so."""
        for row in rows:
            for attr in inspect(type(row)).column_attrs:
                column = attr.columns[0]
                if not isinstance(column.type, DateTime):
                    continue
                value = getattr(row, attr.key, None)
                if isinstance(value, datetime):
                    utc = value.strftime("%d/%m/%Y %H:%M")
                    local = local_time(value, tz).strftime("%d/%m/%Y %H:%M")
                    if utc != local:
                        self.utc_only[utc] = local

    def screens(self, views, user_id):
        for view in views:
            base = f"/admin/{view.endpoint}/"
            with self.app.test_request_context():
                user = db.session.get(User, user_id)
                login_user(user)
                tz = user.company.timezone if user.company else None
                _, rows = view.get_list(0, None, None, None, [], page_size=20)
                self.learn_times(rows, tz)
                ids = [view.get_pk_value(r) for r in rows[:ROWS_PER_SCREEN]]
                can_create, can_edit = view.can_create, view.can_edit
                can_details = view.can_view_details
            self.page(base)
            if view.can_export:
                export = self.client.get(f"{base}export/csv/")
                if export.status_code == 200:
                    self.check_csv(f"{base}export/csv/", export.data)
            if can_create:
                self.page(f"{base}new/")
            for rid in ids:
                if can_edit:
                    self.page(f"{base}edit/?id={rid}")
                if can_details:
                    self.page(f"{base}details/?id={rid}")


def _demo(app):
    """The demo, with an audit trail to read (a rename and a switch, a delete, a create)
    and two finished exports on Importar/exportar."""
    with app.app_context():
        assert load_demo() is True
        admin = db.session.scalar(select(User).where(User.email == ADMIN))
        for email in (ADMIN, ROOT, AGENT):
            db.session.scalar(select(User).where(User.email == email)).set_password("senha-segura-1")
        department = db.session.scalars(Department.owned(admin.company_id)).first()
        department.name = department.name + " Centro"
        department.reason_required_to_close = not department.reason_required_to_close
        audit.record(admin, "update", department, audit.pending_changes(department, False),
                     admin.company_id)
        tag = db.session.scalars(Tag.owned(admin.company_id)).first()
        audit.record(admin, "delete", tag, audit.snapshot(tag), admin.company_id)
        audit.record(admin, "create", admin, audit.pending_changes(admin, True), admin.company_id)
        db.session.commit()
        ticket = db.session.scalar(select(Ticket.id).where(Ticket.company_id == admin.company_id))
        return {"admin": admin.id, "ticket": ticket,
                "root": db.session.scalar(select(User.id).where(User.email == ROOT)),
                "agent": db.session.scalar(select(User.id).where(User.email == AGENT))}


def _exports(app, walk, user_id):
    """Exportar registros (EXP-1): the audit and users files read as the screens do."""
    with app.app_context():
        user = db.session.get(User, user_id)
        for key in ("audit", "users"):
            job = data_jobs.start_export(user, key, {}, enqueue=False)
            data_jobs.run_export(job.id)
            db.session.expire_all()
            job = db.session.get(DataJob, job.id)
            assert job.status == "done", job.error
            walk.check_csv(f"exportação {key}", data_jobs.job_path(job).read_bytes())


def test_UX_4_UX_2_no_raw_values_and_one_heading_and_main_on_any_page(app):
    """UX-4: every page of the demo, as its admin, an agent and the SaaS operator, and the
    customers' pages (login, help center, site widget, Fale Conosco portal) as a visitor and
    as the demo's representative. UX-2: each of those pages, and the 404 page, has one
    level-one heading and one main landmark (what a screen reader jumps to), and no
    heading skips a level (h1 then h3)."""
    ids = _demo(app)

    client = app.test_client()
    assert login(client, ADMIN).status_code == 302
    admin = Walk(app, client, "admin")
    # a change made through a screen, for the audit log to tell
    with app.app_context():
        bruno = db.session.get(User, ids["agent"])
        form = {"name": "Bruno Lima Souza", "email": bruno.email, "password": "",
                "group": str(bruno.group_id), "active": "y", "language": "pt_BR"}
    assert client.submit(f"/admin/users/edit/?id={ids['agent']}", form).status_code == 302
    _exports(app, admin, ids["admin"])
    admin.screens(tenant_views(app), ids["admin"])
    for url in ("/admin/", "/admin/account/", "/admin/about/", "/admin/updates/",
                "/admin/data/", "/inbox/", "/inbox/api/tickets?status=any",
                f"/inbox/api/tickets/{ids['ticket']}", "/inbox/api/meta"):
        admin.page(url)
    admin.follow_links()

    agent = Walk(app, client_as(app, AGENT), "atendente")
    for url in ("/admin/", "/admin/account/", "/inbox/", "/inbox/api/tickets?status=any",
                "/inbox/api/meta"):
        agent.page(url, follow=False)

    root = Walk(app, client_as(app, ROOT), "root")
    root.screens(saas_views(app), ids["root"])
    for url in ("/admin/", "/admin/account/", "/admin/about/", "/admin/updates/", "/admin/mail/"):
        root.page(url)
    root.follow_links()

    # and the audit log reads in the screens' words: screen, field labels, old → new
    with app.app_context():
        entry = db.session.scalar(select(AuditLog.id).where(AuditLog.table == "department"))
    page = _Text()
    page.feed(client.get(f"/admin/audit/details/?id={entry}").get_data(as_text=True))
    cells = [text for tag, text in page.chunks if tag in ("td", "th")]
    assert "Departamentos" in cells, cells
    assert cells[-3] == "Obrigatório o motivo do atendimento", cells
    assert {cells[-2], cells[-1]} == {"Sim", "Não"}, cells

    # the pages of customers and visitors: login, the help center, the site widget, the
    # Fale Conosco portal (as the demo's representative)
    visitor = Walk(app, app.test_client(), "visitante")
    representative = Walk(app, app.test_client(), "representante")
    with app.app_context():
        company = db.session.get(Company, db.session.get(User, ids["admin"]).company_id)
        domain = company.domain
        widget = db.session.scalar(select(Connection.public_key).where(
            Connection.company_id == company.id, Connection.kind == "webchat"))
        article = db.session.scalar(select(Article.id).where(
            Article.company_id == company.id, Article.status == STATUS_PUBLISHED,
            Article.audience == AUDIENCE_PUBLIC))
        account = db.session.scalar(select(PortalAccount).where(
            PortalAccount.company_id == company.id, PortalAccount.password_hash.is_not(None)))
        sub = db.session.scalar(select(ServiceSubclassification).where(
            ServiceSubclassification.company_id == company.id))
        method = db.session.scalar(select(ContactMethod.id).where(
            ContactMethod.company_id == company.id))
        protocol = protocols.open_protocol(account, protocols.NewProtocol(
            classification_id=sub.classification_id, subclassification_id=sub.id,
            contact_person="Rita", contact_method_id=method,
            message="A nota fiscal do pedido veio com o CNPJ errado.")).id
        after_commit.commit()
        portal_login(representative.client, account)
    for url in ("/login", "/esqueci-senha", f"/ajuda/{domain}/", f"/ajuda/{domain}/?q=óculos",
                f"/ajuda/{domain}/artigos/{article}",
                f"/widget/{widget}/", f"/portal/{domain}/entrar",
                f"/portal/{domain}/esqueci-senha"):
        visitor.page(url, follow=False)
    for url in (f"/portal/{domain}/", f"/portal/{domain}/novo", f"/portal/{domain}/protocolos",
                f"/portal/{domain}/protocolos/{protocol}", f"/portal/{domain}/ajuda/",
                f"/portal/{domain}/ajuda/?q=óculos",
                f"/portal/{domain}/minha-senha"):
        representative.page(url, follow=False)
    assert len(visitor.pages) == 8 and len(representative.pages) == 7, (
        visitor.pages, representative.pages)   # answered with a page, not a redirect
    # the pages that answer 404: an unknown address, widget key and TV panel link
    for url in ("/pagina-que-nao-existe", "/widget/chave-que-nao-existe/", "/tv/chave-que-nao-existe"):
        missing = visitor.client.get(url)
        assert missing.status_code == 404, url
        assert (len(H1.findall(missing.get_data(as_text=True))),
                len(MAIN.findall(missing.get_data(as_text=True)))) == (1, 1), url

    walks = (admin, agent, root, visitor, representative)
    # the walk reached what it is about (else passing proves nothing)
    assert any("/audit/details/" in u for u in admin.seen) and len(admin.seen) > 40
    problems = [p for w in walks for p in w.problems]
    assert not problems, "\n".join(dict.fromkeys(problems))
    outline = [p for w in walks for p in w.outline]
    assert not outline, "\n".join(outline)
