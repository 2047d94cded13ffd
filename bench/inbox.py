"""Inbox list (FLT-1) and conversation panel: latency and SQL statements per request,
against the same SELECT on a bare DBAPI cursor measured in the same run.

Builds one company with --tickets tickets and --messages messages (default 100k / 1M;
a second, smaller company shares the tables so the tenant filter matters), then, for a
supervisor and for a department agent (whose visibility is the OR clause of
services.visibility.ticket_filter), per filter of the list and for opening conversations:

  raw      the baseline of the ratios, SQL returning the same rows and columns as the
           endpoint, compiled by SQLAlchemy and run on a DBAPI cursor with fetchall. List:
           the page SELECT, page_query(user, f) (limit 51), which carries the rows' tags
           since issue 17 (before, the tags were a second statement: compare with `sql`),
           its values as bind parameters since SCL-5 (one statement per shape, reused).
           Conversation: conversation_baseline, written here apart from the code it
           measures: the ticket with everything its header shows, its last 51 messages
           with authors and tags, the reasons, the history (4-5 SELECTs). The ratio
           against the old, narrower baseline (the ticket's SELECT + its messages' alone)
           is printed under the table.
  sql      every statement the service call issues, replayed the same way (what the SQL
           alone costs; the rest is ORM, serialisation, Flask)
  service  inbox.list_summaries (the page query and JSON-ready rows) in an app context
           (conversation: visibility.find_ticket + inbox.conversation + serialize, a
           part of the panel only)
  http     GET /inbox/api/tickets?... (GET /inbox/api/tickets/<id>) through
           app.test_client(), logged in; "n/a" while the endpoint answers 404

Target (SCL-5): p95 under 20 ms, HTTP at most 2x raw for a list page and 3x for a
conversation. The four are interleaved request by request, so the noise of a shared
machine falls on all alike. raw, sql and service read in autocommit mode, as the
endpoints (`@read_only`) do: a ROLLBACK after each of them would also make psycopg forget
its prepared statements, on the bare cursor's connection and on the pooled one the next
HTTP request takes (before 2026-12-07 both were so reset, and every statement planned
again). SQL statements are counted with a before_cursor_execute listener
on the engine; the count of a list request is also taken at limit 10 and 100, and must not
change with the page size (no N+1). It prints figures; it is not a test.

    .venv/bin/python bench/inbox.py                                # PostgreSQL, full size
    .venv/bin/python bench/inbox.py --database-url sqlite:////tmp/bench_inbox.db \\
        --tickets 5000 --messages 50000 --repeat 30                # a quick look
"""
from __future__ import annotations

import argparse
import bisect
import gc
import itertools
import os
import platform
import random
import secrets
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from operator import itemgetter
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from databases import create_missing_database, remove_sqlite_file  # noqa: E402  (bench/ is the script's folder)

import sqlalchemy  # noqa: E402
from itsdangerous import URLSafeTimedSerializer  # noqa: E402
from sqlalchemy import and_, event, func, or_, select  # noqa: E402
from sqlalchemy.dialects.postgresql import aggregate_order_by  # noqa: E402
from sqlalchemy.orm import aliased  # noqa: E402

from backoffice import create_app  # noqa: E402
from people import DDD, FIRST, LAST  # noqa: E402
from backoffice.extensions import db  # noqa: E402
from backoffice.models import (  # noqa: E402
    Company, Connection, Department, DepartmentMember, Message, PermissionGroup, Tag, Ticket,
    User, ticket_tag,
)
from backoffice.models.base import utcnow  # noqa: E402
from backoffice.services import inbox, saas, serialize, visibility  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_inbox"
LIST_URL = "/inbox/api/tickets"          # and LIST_URL/<id>: the conversation
PASSWORD = "senha-bench-inbox-1"
COMPANY_A, COMPANY_B = "Bench Inbox Alfa", "Bench Inbox Beta"
MAIL = "bench-inbox.example.com"
SUPERVISOR_EMAIL = f"supervisora@{MAIL}"
AGENT_EMAIL = f"financeiro-1@{MAIL}"     # in Financeiro and Cobrança, no inbox.supervise
SEARCH = "Fernanda"                      # a first name, as typed in the search box
# SCL-5: p95 under 20 ms, at most 2x the raw SQL for a list page and 3x for a conversation
TARGET_MS = 20.0
TARGET_RATIO = {"list": 2.0, "conversation": 3.0}
DEEP = 5000            # rows scrolled past for the deep page (keyset pagination)
WARMUP = 5
DAY = 86400.0

# (name, share of the tickets, agents)
DEPARTMENTS_A = [("Suporte técnico", .34, 10), ("Comercial", .24, 7), ("Financeiro", .14, 4),
                 ("Pós-venda", .12, 4), ("Cobrança", .10, 3), ("Ouvidoria", .06, 2)]
DEPARTMENTS_B = [("Atendimento", .7, 3), ("Vendas", .3, 2)]
# (name, kind, share)
CONNECTIONS_A = [("Site (webchat)", "webchat", .55), ("Loja virtual (webchat)", "webchat", .30),
                 ("Integração ERP (API)", "http_api", .15)]
CONNECTIONS_B = [("Chat do site", "webchat", 1.0)]
FILTER_CONNECTION = "Loja virtual (webchat)"
TAGS_A = ["Urgente", "VIP", "Reclamação", "Segunda via", "Cancelamento", "Troca", "Devolução",
          "Entrega atrasada", "Pagamento", "Pix", "Boleto", "Cartão", "Orçamento", "Instalação",
          "Garantia", "Suporte N2", "Retorno", "Lead quente", "Elogio", "Pesquisa"]
TAGS_B = ["Prioridade", "Novo cliente", "Retorno", "Orçamento", "Reclamação"]
COLORS = ["#dd4b39", "#f39c12", "#00a65a", "#3c8dbc", "#605ca8", "#d81b60", "#39cccc"]


TEXT_IN = [
    "Olá, boa tarde!", "Bom dia", "Oi, tudo bem?", "Preciso de ajuda com meu pedido",
    "Meu boleto venceu, como faço para emitir a segunda via?", "Ainda não recebi o produto",
    "Qual o prazo de entrega para o CEP 01310-100?", "Obrigado!", "Consegui, valeu!",
    "O aplicativo está dando erro ao fazer login", "Gostaria de cancelar a minha assinatura",
    "Vocês aceitam Pix?", "O número do pedido é 4821337", "Pode me passar o valor atualizado?",
    "A cobrança veio em dobro no cartão", "Quero trocar o tamanho, ficou pequeno",
    "Já fiz isso e não funcionou", "Certo, fico no aguardo", "Qual o horário de atendimento?",
    "O técnico não apareceu no horário combinado, estou esperando desde as 8h",
    "Segue o comprovante", "Não consigo acessar a área do cliente, aparece senha inválida",
    "Tem como parcelar em 10 vezes sem juros?", "Ok", "Sim", "Não, era outro produto",
    "Recebi o produto com defeito, a tela está trincada. Como faço para devolver?",
    "Boa noite, alguém pode me atender?", "Quero falar com um atendente",
    "Perfeito, muito obrigada pela ajuda!",
]
TEXT_AGENT = [
    "Olá! Em que posso ajudar?", "Só um momento, por favor, vou verificar.",
    "Seu pedido foi despachado e deve chegar em até 3 dias úteis.",
    "Enviei a segunda via para o seu e-mail cadastrado.",
    "Pode me informar o CPF do titular, por favor?",
    "Verifiquei aqui e o pagamento foi confirmado ontem às 14h.",
    "Entendo, peço desculpas pelo transtorno.",
    "Abri uma solicitação de troca, o protocolo segue no seu e-mail.",
    "Consegue me enviar uma foto do produto?", "Tem mais alguma dúvida?",
    "O estorno aparece na próxima fatura do cartão.",
    "Nosso horário é de segunda a sexta, das 8h às 18h, e aos sábados das 8h às 12h.",
    "Agendei a visita técnica para amanhã entre 8h e 12h.", "Perfeito!",
    "Vou transferir para o setor financeiro, que consegue resolver isso.",
    "Fico no aguardo do seu retorno.", "Pode tentar novamente agora, por favor?",
    "Redefini a sua senha, a nova foi enviada por SMS.",
]
TEXT_BOT = [
    "Olá! Bem-vindo ao nosso atendimento. Digite 1 para Comercial, 2 para Suporte, "
    "3 para Financeiro.", "Você está na fila. Em breve um atendente vai falar com você.",
    "Não entendi, pode repetir a opção?", "Seu boleto: 23793.38128 60000.000003 "
    "45000.063305 1 98760000012990", "Obrigado pelo contato! Avalie nosso atendimento de 1 a 5.",
]
TEXT_SYSTEM = ["Atendimento finalizado", "Atendimento transferido para Financeiro",
               "Atendimento transferido para Suporte técnico", "Cliente inativo, atendimento "
               "encerrado automaticamente"]
FILES = [("comprovante.pdf", "application/pdf"), ("foto.jpg", "image/jpeg"),
         ("audio.ogg", "audio/ogg"), ("print-da-tela.png", "image/png")]


# --- database ------------------------------------------------------------------------------


def ensure_database(url: str, keep: bool) -> None:
    """Create the PostgreSQL database through the `postgres` one when it is missing; remove
    the SQLite file unless the data is reused."""
    if not keep:
        remove_sqlite_file(url)
    create_missing_database(url)


class StatementCounter:
    """Counts (and, on demand, records) the statements sent through the engine."""

    def __init__(self, engine):
        self.n = 0
        self.log: list | None = None
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany):
        self.n += 1
        if self.log is not None:
            self.log.append((statement, parameters))

    @contextmanager
    def recording(self):
        self.log = []
        try:
            yield self.log
        finally:
            self.log = None


# --- data ----------------------------------------------------------------------------------


class T:
    """One generated ticket (times in seconds from the start of the generated period)."""

    __slots__ = ("id", "company_id", "contact_id", "connection_id", "department_id", "agent_id",
                 "status", "favourite", "has_failed", "automated", "unread", "created",
                 "queued", "accepted", "first_response", "closed", "last", "n_msgs",
                 "last_kind", "last_text", "protocol")


@dataclass
class Spec:
    """What the ORM created for one company, for the bulk generator."""
    company_id: int
    departments: list = field(default_factory=list)   # (id, share, [member user ids])
    connections: list = field(default_factory=list)   # (id, share)
    tags: list = field(default_factory=list)          # ids, most used first
    contacts: range = range(0)
    tickets: int = 0
    messages: int = 0


def make_users_and_catalogue(rng: random.Random, name: str, departments, connections, tags,
                             key: str) -> Spec:
    """Company, groups, users, departments, connections and tags, through the ORM (tens of
    rows: the rules of the services apply)."""
    company, _admin = saas.create_company(name, None, f"Admin {name}", f"admin-{key}@{MAIL}",
                                          PASSWORD)
    agents_group = PermissionGroup(company=company, name="Atendentes (bench)",
                                   rights=["inbox.view"])
    supervisors = PermissionGroup(company=company, name="Supervisão (bench)",
                                  rights=["inbox.view", "inbox.supervise"])
    db.session.add_all([agents_group, supervisors])
    spec = Spec(company_id=company.id)
    members: dict[str, list[User]] = {}
    names = iter(rng.sample([f"{a} {b}" for a in FIRST for b in LAST], 200))
    all_agents = []
    for d_name, _share, n_agents in departments:
        slug = d_name.split()[0].lower().replace("ó", "o").replace("ç", "c")
        members[d_name] = []
        for j in range(n_agents):
            email = f"{slug}-{j + 1}@{MAIL}" if key == "a" else f"{key}-{slug}-{j + 1}@{MAIL}"
            user = User(company=company, name=next(names), email=email, group=agents_group)
            user.set_password(PASSWORD)
            members[d_name].append(user)
            all_agents.append((user, d_name))
    if key == "a":
        boss = User(company=company, name="Supervisora Regina Prado", email=SUPERVISOR_EMAIL,
                    group=supervisors)
        boss.set_password(PASSWORD)
        members[departments[0][0]].append(boss)
    # about one agent in three also works in a second department; the bench agent does
    d_names = [d[0] for d in departments]
    for user, home in all_agents:
        if user.email == AGENT_EMAIL:
            members["Cobrança"].append(user)
        elif key == "a" and user.email.endswith(f"-1@{MAIL}"):
            continue
        elif rng.random() < 1 / 3:
            other = rng.choice([d for d in d_names if d != home])
            members[other].append(user)
    deps = []
    for order, (d_name, share, _n) in enumerate(departments, 1):
        dep = Department(company_id=company.id, name=d_name, order=order)
        for user in members[d_name]:
            dep.members.append(DepartmentMember(company_id=company.id, user=user))
        db.session.add(dep)
        deps.append((dep, share))
    conns = []
    for c_name, kind, share in connections:
        conn = Connection(company_id=company.id, name=c_name, kind=kind)
        db.session.add(conn)
        conns.append((conn, share))
    tag_rows = [Tag(company_id=company.id, name=t, color=COLORS[i % len(COLORS)])
                for i, t in enumerate(tags)]
    db.session.add_all(tag_rows)
    db.session.flush()
    spec.departments = [(dep.id, share, [m.user.id for m in dep.members]) for dep, share in deps]
    spec.connections = [(conn.id, share) for conn, share in conns]
    spec.tags = [t.id for t in tag_rows]
    return spec


def weighted(rng: random.Random, items, weights):
    cum = list(itertools.accumulate(weights))
    return lambda: items[bisect.bisect(cum, rng.random() * cum[-1])]


def gen_tickets(rng: random.Random, spec: Spec, now: float) -> list[T]:
    """Mostly closed tickets over a year; a few thousand waiting/open/pending, recent."""
    dep_pick = weighted(rng, spec.departments, [d[1] for d in spec.departments])
    conn_pick = weighted(rng, [c[0] for c in spec.connections], [c[1] for c in spec.connections])
    all_agents = sorted({u for d in spec.departments for u in d[2]})
    out = []
    lo, hi = spec.contacts.start, spec.contacts.stop - 1
    for _ in range(spec.tickets):
        t = T()
        t.company_id = spec.company_id
        t.contact_id = rng.randint(lo, hi)
        t.connection_id = conn_pick()
        r = rng.random()
        t.status = ("waiting" if r < .010 else "open" if r < .030 else "pending" if r < .045
                    else "closed")
        t.automated = rng.random() < .10
        t.has_failed = rng.random() < .01
        t.favourite = rng.random() < .02
        if t.status == "closed":
            t.created = now - rng.uniform(0, 365 * DAY)
            t.last = min(now, t.created + 60 + min(rng.expovariate(1 / 5400), 3 * DAY))
            t.closed = t.last
        else:
            t.created = now - rng.uniform(0, 3 * DAY)
            t.last = t.created + rng.uniform(0, now - t.created)
            t.closed = None
        dep = None if rng.random() < .02 else dep_pick()
        t.department_id = dep[0] if dep else None
        if t.status == "waiting" or (t.status == "closed" and rng.random() < .12):
            t.agent_id = None
        else:
            t.agent_id = rng.choice(dep[2] if dep and dep[2] else all_agents)
        t.unread = rng.randint(0, 4) if t.status in ("waiting", "open") else 0
        t.queued = t.created + 5 if t.department_id else None
        if t.agent_id:
            t.accepted = min(t.last, (t.queued or t.created) + rng.expovariate(1 / 300))
            t.first_response = min(t.last, t.accepted + rng.expovariate(1 / 60))
        else:
            t.accepted = t.first_response = None
        if t.status == "waiting":
            kind = "bot" if t.automated else "in"
        elif t.status == "open":
            kind = rng.choice(("in", "agent"))
        elif t.status == "pending":
            kind = "agent"
        else:
            r = rng.random()
            kind = "agent" if r < .6 else "system" if r < .85 else "in"
        if kind == "agent" and not t.agent_id:
            kind = "bot"
        t.last_kind = kind
        t.last_text = rng.choice(POOLS[kind])
        out.append(t)
    return out


POOLS = {"in": TEXT_IN, "agent": TEXT_AGENT, "bot": TEXT_BOT, "system": TEXT_SYSTEM}


def spread_messages(rng: random.Random, tickets: list[T], total: int) -> None:
    """~total/len messages per ticket, long-tailed (a few hundred conversations over 50)."""
    if not tickets:
        return
    base = 1 if total >= len(tickets) else 0
    for t in tickets:
        t.n_msgs = base
    extra = total - base * len(tickets)
    weights = list(itertools.accumulate(rng.expovariate(1.0) for _ in tickets))
    for i in rng.choices(range(len(tickets)), cum_weights=weights, k=extra):
        tickets[i].n_msgs += 1


def message_stubs(rng: random.Random, tickets: list[T]) -> list[tuple]:
    """(time, ticket id, position) of every message, in time order: message ids grow with
    time across tickets, as in production (a conversation's rows are spread on disk)."""
    stubs = []
    for t in tickets:
        n = t.n_msgs
        if n == 0:
            continue
        if n == 1:
            stubs.append((t.last, t.id, 0))
            continue
        times = sorted(rng.uniform(t.created, t.last) for _ in range(n - 2))
        stubs.append((t.created, t.id, 0))
        stubs.extend((x, t.id, k) for k, x in enumerate(times, 1))
        stubs.append((t.last, t.id, n - 1))
    stubs.sort(key=itemgetter(0))
    return stubs


CONTACT_COLS = ("id", "company_id", "name", "phone", "email", "created_at", "updated_at")
TICKET_COLS = ("id", "company_id", "protocol", "contact_id", "connection_id", "department_id",
               "agent_id", "status", "favourite", "has_failed", "automated", "preview",
               "unread", "created_at", "queued_at", "accepted_at", "first_response_at",
               "closed_at", "last_activity_at")
MESSAGE_COLS = ("id", "company_id", "ticket_id", "direction", "author_kind", "author_id",
                "text", "file_key", "file_name", "file_mime", "file_size", "status", "error",
                "attempts", "created_at", "sent_at", "delivered_at", "read_at")


def contact_rows(rng, spec: Spec, start):
    first = weighted(rng, FIRST, [1 / (i + 3) ** .5 for i in range(len(FIRST))])
    last = weighted(rng, LAST, [1 / (i + 1) ** .7 for i in range(len(LAST))])
    for cid in spec.contacts:
        name = f"{first()} {last()}" + (f" {last()}" if rng.random() < .4 else "")
        phone = f"+55{rng.choice(DDD)}9{rng.randint(10_000_000, 99_999_999)}"
        email = (f"{name.split()[0].lower()}.{cid}@exemplo.com.br" if rng.random() < .5 else None)
        created = start + timedelta(seconds=rng.uniform(0, 300 * DAY))
        yield (cid, spec.company_id, name, phone, email, created, created)


def ticket_rows(tickets: list[T], at):
    for t in tickets:
        yield (t.id, t.company_id, t.protocol, t.contact_id, t.connection_id, t.department_id,
               t.agent_id, t.status, t.favourite, t.has_failed, t.automated,
               " ".join(t.last_text.split())[:120], t.unread, at(t.created), at(t.queued),
               at(t.accepted), at(t.first_response), at(t.closed), at(t.last))


def message_rows(rng, stubs, tickets: list[T], at):
    for mid, (x, tid, k) in enumerate(stubs, 1):
        t = tickets[tid - 1]
        last = k == t.n_msgs - 1
        if last:
            kind, body = t.last_kind, t.last_text
        elif k == 0:
            kind = "in"
        elif t.automated and k <= 2:
            kind = "bot"
        elif rng.random() < .03:
            kind = "system"
        else:
            kind = "in" if rng.random() < .5 else ("agent" if t.agent_id else "bot")
        if not last:
            body = rng.choice(POOLS[kind])
        moment = at(x)
        file_key = file_name = file_mime = file_size = None
        if rng.random() < .03 and kind in ("in", "agent"):
            file_name, file_mime = rng.choice(FILES)
            file_key, file_size = secrets.token_hex(16), rng.randint(20_000, 3_000_000)
            body = None if rng.random() < .5 else body
        if kind == "in":
            yield (mid, t.company_id, tid, "in", "contact", None, body, file_key, file_name,
                   file_mime, file_size, "delivered", None, 0, moment, moment, None, None)
            continue
        failed = t.has_failed and k >= t.n_msgs - 2
        status = ("failed" if failed else "read" if rng.random() < .7 else "delivered")
        yield (mid, t.company_id, tid, "out", kind, t.agent_id if kind == "agent" else None,
               body, file_key, file_name, file_mime, file_size, status,
               "Falha no envio: tempo esgotado ao contatar o canal" if failed else None,
               3 if failed else 1, moment, None if failed else moment + timedelta(seconds=1),
               None if failed else moment + timedelta(seconds=3),
               moment + timedelta(seconds=90) if status == "read" else None)


def tag_rows(rng, tickets: list[T], specs: dict[int, Spec], share=.20):
    """Tags on ~20% of tickets (1-3 each, a few tags much more used than the others)."""
    picks = {cid: weighted(rng, s.tags, [1 / (i + 1) for i in range(len(s.tags))])
             for cid, s in specs.items()}
    for t in tickets:
        if rng.random() < share:
            chosen = {picks[t.company_id]() for _ in range(rng.choice((1, 1, 1, 2, 2, 3)))}
            for tag_id in sorted(chosen):
                yield (t.id, tag_id)


def event_rows(rng, tickets: list[T], at):
    """The history panel's rows (created, accepted, transferred, closed), as the services
    write them: ~3 per ticket."""
    eid = 0
    for t in tickets:
        events = [("created", None, t.created, f'{{"department_id": {_js(t.department_id)}}}')]
        if t.accepted is not None:
            events.append(("accepted", t.agent_id, t.accepted, "{}"))
        if t.department_id and t.agent_id and rng.random() < .06:
            events.append(("transferred", t.agent_id, (t.accepted + t.last) / 2,
                           '{"observation": "Cliente pediu o financeiro", '
                           f'"from_department_id": {t.department_id}, '
                           f'"to_department_id": {t.department_id}, "to_agent_id": {t.agent_id}}}'))
        if t.closed is not None:
            events.append(("closed", t.agent_id, t.closed,
                           '{"reason_id": null, "farewell_id": null}'))
        for kind, user_id, moment, data in events:
            eid += 1
            yield (eid, t.company_id, t.id, kind, user_id, data, at(moment))


def _js(v):
    return "null" if v is None else v


def message_tag_rows(rng, n_messages, tickets, stubs, specs):
    for mid in range(1, n_messages + 1):
        if rng.random() < .005:
            t = tickets[stubs[mid - 1][1] - 1]
            yield (mid, rng.choice(specs[t.company_id].tags[:8]))


class Loader:
    """COPY on PostgreSQL (psycopg 3), executemany in batches of 20k on SQLite."""

    def __init__(self, conn):
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
        self.dbapi = conn.connection.driver_connection

    def put(self, table: str, cols, rows) -> int:
        n = 0
        names = ", ".join(f'"{c}"' for c in cols)
        if self.pg:
            with self.dbapi.cursor() as cur, cur.copy(f'COPY "{table}" ({names}) FROM STDIN') as cp:
                for row in rows:
                    cp.write_row(row)
                    n += 1
            return n
        sql = f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(cols))})'
        cur = self.dbapi.cursor()
        batch = []
        for row in rows:
            batch.append(tuple(_sqlite_value(v) for v in row))
            if len(batch) >= 20_000:
                cur.executemany(sql, batch)
                n += len(batch)
                batch.clear()
        if batch:
            cur.executemany(sql, batch)
            n += len(batch)
        cur.close()
        return n


def _sqlite_value(v):
    # SQLAlchemy's SQLite DateTime stores this format; string order must match its binds
    if hasattr(v, "strftime"):
        return v.strftime("%Y-%m-%d %H:%M:%S.%f")
    return v


BULK_TABLES = ("contact", "ticket", "ticket_tag", "message", "message_tag", "ticket_event")


def build(app, args) -> None:
    """Drop and rebuild the schema, then load the data set; prints how long it took."""
    rng = random.Random(args.seed)
    engine = db.engine
    pg = engine.dialect.name == "postgresql"
    t_start = time.perf_counter()
    if pg:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
    db.metadata.create_all(engine)

    spec_a = make_users_and_catalogue(rng, COMPANY_A, DEPARTMENTS_A, CONNECTIONS_A, TAGS_A, "a")
    spec_b = make_users_and_catalogue(rng, COMPANY_B, DEPARTMENTS_B, CONNECTIONS_B, TAGS_B, "b")
    db.session.commit()
    specs = {spec_a.company_id: spec_a, spec_b.company_id: spec_b}
    spec_a.tickets, spec_a.messages = args.tickets, args.messages
    spec_b.tickets = max(1, args.tickets // 5)
    spec_b.messages = 2 * spec_b.tickets
    n_contacts_a = max(1, int(args.tickets * .6))
    spec_a.contacts = range(1, n_contacts_a + 1)
    spec_b.contacts = range(n_contacts_a + 1, n_contacts_a + 1 + max(1, int(spec_b.tickets * .6)))

    origin = utcnow() - timedelta(days=400)
    now = 400 * DAY

    def at(x):
        return None if x is None else origin + timedelta(seconds=x)

    t0 = time.perf_counter()
    tickets = []
    for spec in specs.values():
        company_tickets = gen_tickets(rng, spec, now)
        spread_messages(rng, company_tickets, spec.messages)
        tickets.extend(company_tickets)
    tickets.sort(key=lambda t: t.created)        # ids grow with time, as in production
    counters: dict[tuple, int] = {}
    for i, t in enumerate(tickets, 1):
        t.id = i
        day = at(t.created - 3 * 3600).date()     # the company's day (UTC-3)
        n = counters[(t.company_id, day)] = counters.get((t.company_id, day), 0) + 1
        t.protocol = f"{day:%Y%m%d}{n:06d}"
    stubs = message_stubs(rng, tickets)
    t_gen = time.perf_counter() - t0
    print(f"generated {len(tickets):,} tickets and {len(stubs):,} message stubs in {t_gen:.1f} s")

    t0 = time.perf_counter()
    with engine.begin() as conn:
        loader = Loader(conn)
        dropped = []
        if pg:
            # indexes built once at the end (sorted build) instead of row by row; foreign
            # key triggers off for the load (the generator keeps them true)
            for name in BULK_TABLES:
                for idx in db.metadata.tables[name].indexes:
                    conn.exec_driver_sql(f'DROP INDEX IF EXISTS "{idx.name}"')
                    dropped.append(idx)
            try:
                with conn.begin_nested():
                    conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
                print("  (foreign key triggers off during COPY: session_replication_role=replica)")
            except sqlalchemy.exc.DBAPIError:
                print("  (not superuser: foreign keys checked row by row during the load)")
        steps = [
            ("contact", CONTACT_COLS, itertools.chain.from_iterable(
                contact_rows(rng, s, origin) for s in specs.values())),
            ("ticket", TICKET_COLS, ticket_rows(tickets, at)),
            ("ticket_tag", ("ticket_id", "tag_id"), tag_rows(rng, tickets, specs)),
            ("message", MESSAGE_COLS, message_rows(rng, stubs, tickets, at)),
            ("message_tag", ("message_id", "tag_id"),
             message_tag_rows(rng, len(stubs), tickets, stubs, specs)),
            ("ticket_event", ("id", "company_id", "ticket_id", "kind", "user_id", "data",
                              "created_at"), event_rows(rng, tickets, at)),
        ]
        for table, cols, rows in steps:
            t1 = time.perf_counter()
            n = loader.put(table, cols, rows)
            print(f"  {table:<12} {n:>10,} rows  {time.perf_counter() - t1:6.1f} s")
        t1 = time.perf_counter()
        for idx in dropped:
            idx.create(conn)
        if pg:
            for table in ("contact", "ticket", "message", "ticket_event"):
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT max(id) FROM {table}))")
            print(f"  {len(dropped)} indexes built in {time.perf_counter() - t1:.1f} s")
    del stubs, tickets
    t_load = time.perf_counter() - t0
    analyze(engine)
    print(f"load: {t_load:.1f} s (+ {t_gen:.1f} s generating); "
          f"total with schema and ANALYZE {time.perf_counter() - t_start:.1f} s")


def analyze(engine) -> None:
    t0 = time.perf_counter()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in db.metadata.sorted_tables:
                conn.exec_driver_sql(f'VACUUM (ANALYZE) "{table.name}"')
        what = "VACUUM (ANALYZE)"
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        what = "ANALYZE"
    print(f"{what}: {time.perf_counter() - t0:.1f} s")


def counts(company_id: int) -> tuple[int, int]:
    """(tickets, messages) of the company."""
    return tuple(db.session.scalar(select(func.count()).select_from(model)
                                   .where(model.company_id == company_id))
                 for model in (Ticket, Message))


def reuse(app, args) -> bool:
    """True when the database already holds this data set (same sizes): only the indexes
    of the models that are missing are created, then ANALYZE."""
    engine = db.engine
    inspector = sqlalchemy.inspect(engine)
    if "company" not in inspector.get_table_names():
        return False
    # a data set built before a migration (a new table or column) cannot be reused
    tables = set(inspector.get_table_names())
    for table in db.metadata.sorted_tables:
        if table.name not in tables or not {c.name for c in table.columns} <= {
                c["name"] for c in inspector.get_columns(table.name)}:
            print(f"the schema changed since the data set was built ({table.name}): rebuilding")
            return False
    cid = db.session.scalar(select(Company.id).where(Company.name == COMPANY_A))
    if cid is None:
        return False
    n_t, n_m = counts(cid)
    db.session.rollback()
    if (n_t, n_m) != (args.tickets, args.messages):
        print(f"existing data set has {n_t:,} tickets / {n_m:,} messages: rebuilding")
        return False
    print(f"reusing the data set ({n_t:,} tickets, {n_m:,} messages)")
    with engine.begin() as conn:
        inspector = sqlalchemy.inspect(conn)
        for table in db.metadata.sorted_tables:
            have = {i["name"] for i in inspector.get_indexes(table.name)}
            for idx in table.indexes:
                if idx.name not in have:
                    t0 = time.perf_counter()
                    idx.create(conn)
                    print(f"  created missing index {idx.name} in {time.perf_counter() - t0:.1f} s")
    analyze(engine)
    return True


# --- who and what is measured --------------------------------------------------------------


@dataclass
class World:
    company_id: int
    supervisor_id: int
    agent_id: int
    department_id: int     # the agent's first department
    connection_id: int
    tag_id: int            # the most used tag
    rare_tag_id: int       # one of the least used
    tickets: int
    messages: int
    open_tickets: int


def discover() -> World:
    cid = db.session.scalar(select(Company.id).where(Company.name == COMPANY_A))
    sup = db.session.scalar(select(User.id).where(User.email == SUPERVISOR_EMAIL))
    agent = db.session.scalar(select(User.id).where(User.email == AGENT_EMAIL))
    dep = db.session.scalar(select(DepartmentMember.department_id)
                            .where(DepartmentMember.user_id == agent)
                            .order_by(DepartmentMember.id))
    conn = db.session.scalar(select(Connection.id).where(Connection.company_id == cid,
                                                         Connection.name == FILTER_CONNECTION))
    usage = db.session.execute(
        select(ticket_tag.c.tag_id, func.count()).join(Tag, Tag.id == ticket_tag.c.tag_id)
        .where(Tag.company_id == cid).group_by(ticket_tag.c.tag_id)
        .order_by(func.count().desc())).all()
    n_t, n_m = counts(cid)
    n_open = db.session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.company_id == cid, Ticket.status != "closed"))
    return World(cid, sup, agent, dep, conn, usage[0][0], usage[-2][0], n_t, n_m, n_open)


def list_filters(w: World) -> list[tuple[str, dict]]:
    base = {"view": "all", "order": "newest", "status": "open"}
    rows = [
        ("all / newest", {}),
        ("all / oldest", {"order": "oldest"}),
        ("mine", {"view": "mine"}),
        ("unassigned", {"view": "unassigned"}),
        ("status pending", {"status": "pending"}),
        ("failed", {"status": "failed"}),
        ("closed", {"status": "closed"}),
        ("automation", {"status": "automation"}),
        ("connection", {"connection": w.connection_id}),
        ("tag", {"tag": w.tag_id}),
        ("department", {"department": w.department_id}),
        (f"search q={SEARCH}", {"q": SEARCH}),
        ("second page", {"cursor": "next"}),      # the next_cursor of "all / newest"
        (f"closed, page {DEEP // inbox.PAGE + 1}", {"status": "closed", "cursor": "deep"}),
    ]
    return [(label, {k: str(v) if v is not None else None for k, v in {**base, **extra}.items()})
            for label, extra in rows]


def page_cursor(bench, user_id: int, args: dict) -> str | None:
    """The cursor of the page after the first one ("next"), or of the page that starts
    DEEP rows down ("deep"), as the client would hold it after scrolling."""
    if args["cursor"] == "next":
        return bench.service_list(user_id, {**args, "cursor": None})[2]["next_cursor"]
    with bench.app.app_context():
        user = load_user(user_id)
        f = inbox.Filters.from_args({**args, "cursor": None})
        ticket = db.session.scalars(inbox.ticket_query(user, f).offset(DEEP - 1).limit(1)).first()
        return inbox.encode_cursor(ticket) if ticket is not None else None


def load_user(user_id: int) -> User:
    """The user as a request has it after Flask-Login (group and company loaded)."""
    user = db.session.get(User, user_id)
    user.rights, user.company  # noqa: B018
    return user


def _visible(user: User, t):
    """services.visibility.ticket_filter for an alias of Ticket (the baseline is written
    here, apart from the code it measures)."""
    clause = t.company_id == user.company_id
    if user.can("inbox", "supervise"):
        return clause
    mine = select(DepartmentMember.department_id).where(DepartmentMember.user_id == user.id)
    return clause & or_(t.agent_id == user.id, t.department_id.in_(mine),
                        t.department_id.is_(None))


def _tag_list(conn, link_column, owner_id_ok):
    """A JSON array of [id, name, color, owner_id] of the tags linked through
    `link_column`, ordered by name (a correlated scalar subquery)."""
    link = link_column.table
    joined = link.join(Tag, Tag.id == link.c.tag_id)
    if conn.dialect.name == "postgresql":
        row = func.json_build_array(Tag.id, Tag.name, Tag.color, Tag.owner_id)
        agg = func.json_agg(aggregate_order_by(row, Tag.name))
    else:
        agg = func.json_group_array(func.json_array(Tag.id, Tag.name, Tag.color, Tag.owner_id))
    return select(agg).select_from(joined).where(owner_id_ok).scalar_subquery()


def conversation_baseline(conn, user: User, tid: int) -> None:
    """The SELECTs a hand-written endpoint runs for what GET /inbox/api/tickets/<id>
    returns, written here and run on a bare cursor: the baseline of the conversation's
    ratio (SCL-5). 1. the ticket with its contact, department, agent, connection, reason,
    survey, tags and the count of the contact's other tickets the user may see; 2. its
    latest 51 messages with author and tags; 3. the reasons offered to close it; 4. its
    latest 20 history lines with who did them; 5. (only when a transfer names them) the
    departments and agents those lines name."""
    from backoffice.models import Contact, Reason, TicketEvent
    from backoffice.models.automation import SurveyAnswer
    from backoffice.models.departments import reason_department
    from backoffice.models.tickets import message_tag

    agent, other = aliased(User), aliased(Ticket)
    viewer_tags = or_(Tag.owner_id.is_(None), Tag.owner_id == user.id)
    others = (select(func.count()).select_from(other)
              .where(other.contact_id == Ticket.contact_id, other.id != Ticket.id,
                     _visible(user, other)).correlate(Ticket).scalar_subquery())
    ticket_tags = _tag_list(conn, ticket_tag.c.ticket_id,
                            and_(ticket_tag.c.ticket_id == Ticket.id, viewer_tags))
    row = conn.execute(
        select(Ticket.__table__, Contact.name, Contact.phone, Contact.email, Contact.created_at,
               Department.name, Department.reason_required_to_close,
               Department.observation_required_on_transfer, agent.name, agent.avatar_key,
               Connection.name, Connection.kind, Reason.name, SurveyAnswer.status,
               SurveyAnswer.scale, SurveyAnswer.score, SurveyAnswer.comment,
               SurveyAnswer.answered_at, others, ticket_tags)
        .join(Contact, Contact.id == Ticket.contact_id)
        .outerjoin(Department, Department.id == Ticket.department_id)
        .outerjoin(agent, agent.id == Ticket.agent_id)
        .outerjoin(Connection, Connection.id == Ticket.connection_id)
        .outerjoin(Reason, Reason.id == Ticket.reason_id)
        .outerjoin(SurveyAnswer, SurveyAnswer.ticket_id == Ticket.id)
        .where(Ticket.id == tid, _visible(user, Ticket))).first()
    page = (select(Message.__table__).where(Message.ticket_id == tid)
            .order_by(Message.id.desc()).limit(inbox.PAGE + 1).subquery())
    message_tags = _tag_list(conn, message_tag.c.message_id,
                             and_(message_tag.c.message_id == page.c.id, viewer_tags))
    conn.execute(select(page, User.name, User.avatar_key, message_tags)
                 .outerjoin(User, User.id == page.c.author_id).order_by(page.c.id)).all()
    linked = select(reason_department.c.reason_id)
    mine = linked.where(reason_department.c.department_id == row.department_id)
    conn.execute(select(Reason.id, Reason.name)
                 .where(Reason.company_id == user.company_id, Reason.active.is_(True),
                        or_(Reason.id.in_(mine), Reason.id.not_in(linked)))
                 .order_by(Reason.name)).all()
    events = conn.execute(
        select(TicketEvent.id, TicketEvent.kind, TicketEvent.data, TicketEvent.created_at,
               User.name)
        .outerjoin(User, and_(User.id == TicketEvent.user_id,
                              User.company_id == TicketEvent.company_id))
        .where(TicketEvent.ticket_id == tid, TicketEvent.company_id == user.company_id)
        .order_by(TicketEvent.id.desc()).limit(20)).all()
    named = [e.data for e in events if isinstance(e.data, dict)
             and (e.data.get("to_department_id") or e.data.get("to_agent_id"))]
    if named:
        departments = {d.get(k) for d in named for k in ("from_department_id", "to_department_id")}
        agents = {d.get("to_agent_id") for d in named}
        conn.execute(select(Department.id, Department.name).where(Department.id.in_(departments))
                     .union_all(select(User.id, User.name).where(User.id.in_(agents)))).all()


# --- timing --------------------------------------------------------------------------------


class Probe:
    """One measured thing: samples in seconds and statement counts per call."""

    def __init__(self):
        self.samples: list[float] = []
        self.queries: list[int] = []

    def add(self, seconds, queries=None):
        self.samples.append(seconds)
        if queries is not None:
            self.queries.append(queries)

    @property
    def ok(self) -> bool:
        return bool(self.samples)

    def median(self) -> float:
        return statistics.median(self.samples) * 1e3

    def p95(self) -> float:
        return sorted(self.samples)[int(len(self.samples) * .95)] * 1e3


def run_raw(dbapi, statements) -> float:
    """The statements on the bare cursor of a connection in autocommit mode, as the
    endpoints run them (`@read_only`): no BEGIN or ROLLBACK, and the driver's own handling
    of a statement it sees again (psycopg prepares it from the fifth run) kept, which a
    ROLLBACK after every run would reset."""
    cur = dbapi.cursor()
    t0 = time.perf_counter()
    for statement, params in statements:
        cur.execute(statement, params)
        cur.fetchall()
    dt = time.perf_counter() - t0
    cur.close()
    return dt


@contextmanager
def endpoint_context(app):
    """An app context whose session reads as the measured endpoints do (`@read_only`: in
    autocommit mode). A session left in a transaction ends with a ROLLBACK, and psycopg
    forgets its prepared statements at every ROLLBACK: the service calls measured between
    two requests would take them from the endpoint's pooled connection."""
    with app.app_context():
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield


class Bench:
    def __init__(self, app, counter: StatementCounter, dbapi, clients: dict, http: bool):
        self.app, self.counter, self.dbapi = app, counter, dbapi
        self.clients, self.http = clients, http
        self.rows: list[dict] = []

    # list ----------------------------------------------------------------------------------

    @contextmanager
    def timed(self, record: bool):
        """Time and count the statements of the block; with record, keep them too."""
        out = {"log": []}
        n0 = self.counter.n
        if record:
            self.counter.log = out["log"]
        t0 = time.perf_counter()
        try:
            yield out
        finally:
            out["seconds"] = time.perf_counter() - t0
            out["queries"] = self.counter.n - n0
            self.counter.log = None

    def service_list(self, user_id, args, record=False):
        with endpoint_context(self.app):
            user = load_user(user_id)                      # as Flask-Login does, untimed
            f = inbox.Filters.from_args(args)
            with self.timed(record) as m:
                rows, nxt = inbox.list_summaries(user, f)
                payload = {"tickets": rows, "next_cursor": nxt}
            return m["seconds"], m["queries"], payload, m["log"]

    def http_get(self, who, url, record=False):
        with self.timed(record) as m:
            resp = self.clients[who].get(url)
        if resp.status_code != 200:
            raise RuntimeError(f"GET {url} answered {resp.status_code}: "
                               f"{resp.get_data(True)[:300]}")
        data = resp.get_json()
        resp.close()
        return m["seconds"], m["queries"], data, m["log"]

    def statements(self, user_id, args):
        """(the page SELECT alone, every statement of the service call)."""
        with self.app.app_context():
            user = load_user(user_id)
            f = inbox.Filters.from_args(args)
            with self.counter.recording() as page:
                found = inbox.page_query(user, f)
                # (statement, its values) since SCL-5's shared page SELECT; a bare statement
                # before it (to measure the code before it with this bench)
                statement, params = found if isinstance(found, tuple) else (found, {})
                db.session.connection().execute(statement, params).all()
        return list(page), self.service_list(user_id, args, record=True)[3]

    def measure_list(self, label, who, user_id, args, repeat):
        args = {k: v for k, v in args.items() if v is not None}
        page, everything = self.statements(user_id, args)
        url = f"{LIST_URL}?{urlencode(args)}"
        raw, sql, svc, web = Probe(), Probe(), Probe(), Probe()
        # statements per request at three page sizes: must not grow with the page
        per_limit, http_log = {}, []
        for limit in (10, 50, 100):
            a = {**args, "limit": str(limit)}
            _, q_svc, payload, _ = self.service_list(user_id, a)
            q_http = None
            if self.http:
                _, q_http, _, log = self.http_get(who, f"{LIST_URL}?{urlencode(a)}",
                                                  record=True)
                http_log = log if limit == 50 else http_log
            per_limit[limit] = (q_svc, q_http, len(payload["tickets"]))
        steps = [lambda: raw.add(run_raw(self.dbapi, page)),
                 lambda: sql.add(run_raw(self.dbapi, everything)),
                 lambda: svc.add(*self.service_list(user_id, args)[:2])]
        if self.http:
            steps.append(lambda: web.add(*self.http_get(who, url)[:2]))
        for i in range(WARMUP + repeat):
            if i == WARMUP:
                raw, sql, svc, web = Probe(), Probe(), Probe(), Probe()
            for step in steps[i % len(steps):] + steps[:i % len(steps)]:
                step()
        self.rows.append({"kind": "list", "label": label, "who": who, "rows": per_limit[50][2],
                          "raw": raw, "sql": sql, "svc": svc, "http": web,
                          "per_limit": per_limit,
                          "service_log": everything, "http_log": http_log,
                          "explain": everything[0]})

    # conversation --------------------------------------------------------------------------

    def service_conversation(self, user_id, ticket_id, record=False, limit=inbox.PAGE):
        with endpoint_context(self.app):
            user = load_user(user_id)
            with self.timed(record) as m:
                ticket = visibility.find_ticket(user, ticket_id)
                messages, more = inbox.conversation(ticket, limit=limit)
                payload = {"ticket": serialize.ticket_summary(ticket),
                           "messages": [serialize.message(x, ticket.connection) for x in messages],
                           "more": more}
            return m["seconds"], m["queries"], payload, m["log"]

    def measure_conversation(self, who, user_id, repeat, rng):
        with self.app.app_context():
            user = load_user(user_id)
            visible = db.session.scalars(select(Ticket.id).where(visibility.ticket_filter(user))
                                         .order_by(Ticket.id)).all()
            ids = rng.sample(visible, min(len(visible), WARMUP + repeat))
            # the longest visible conversation: statements at limit 10/50/100 (no N+1)
            longest, longest_n = db.session.execute(
                select(Message.ticket_id, func.count()).join(Ticket, Ticket.id == Message.ticket_id)
                .where(visibility.ticket_filter(user)).group_by(Message.ticket_id)
                .order_by(func.count().desc()).limit(1)).one()
            plans, narrow_plans = [], []
            for tid in ids:
                conn = db.session.connection()
                with self.counter.recording() as base:
                    conversation_baseline(conn, user, tid)
                plans.append(list(base))
                with self.counter.recording() as base:
                    conn.execute(select(Ticket).where(Ticket.id == tid,
                                                      visibility.ticket_filter(user))).all()
                    conn.execute(select(Message).where(Message.ticket_id == tid)
                                 .order_by(Message.id.desc()).limit(inbox.PAGE + 1)).all()
                narrow_plans.append(list(base))
        everything = [self.service_conversation(user_id, tid, record=True)[3] for tid in ids]
        per_limit = {}
        for limit in (10, 50, 100):
            q_svc = self.service_conversation(user_id, longest, limit=limit)[1]
            q_http = (self.http_get(who, f"{LIST_URL}/{longest}?limit={limit}")[1]
                      if self.http else None)
            per_limit[limit] = (q_svc, q_http, min(limit, longest_n))
        raw, sql, svc, web, narrow = Probe(), Probe(), Probe(), Probe(), Probe()
        sizes = []
        for i, tid in enumerate(ids):
            if i == WARMUP:
                raw, sql, svc, web, narrow = Probe(), Probe(), Probe(), Probe(), Probe()
            steps = [lambda: raw.add(run_raw(self.dbapi, plans[i])),
                     lambda: narrow.add(run_raw(self.dbapi, narrow_plans[i])),
                     lambda: sql.add(run_raw(self.dbapi, everything[i])),
                     lambda: svc.add(*self.service_conversation(user_id, tid)[:2])]
            if self.http:
                def web_step():
                    dt, q, data, _ = self.http_get(who, f"{LIST_URL}/{tid}")
                    web.add(dt, q)
                    sizes.append(len(data.get("messages", [])) if isinstance(data, dict) else 0)
                steps.append(web_step)
            for step in steps[i % len(steps):] + steps[:i % len(steps)]:
                step()
        http_log = []
        if self.http:
            http_log = self.http_get(who, f"{LIST_URL}/{ids[-1]}", record=True)[3]
        self.rows.append({"kind": "conversation", "label": "open conversation", "who": who,
                          "rows": None, "per_limit": per_limit, "longest": longest_n,
                          "service_log": everything[-1], "http_log": http_log,
                          "raw": raw, "sql": sql, "svc": svc, "http": web, "sizes": sizes,
                          "narrow": narrow, "baseline_statements": len(plans[-1]),
                          "explain": plans[-1][1]})


# --- report --------------------------------------------------------------------------------


def ms(x: float) -> str:
    return f"{x:.2f}" if x < 10 else f"{x:.1f}"


def queries_text(row) -> str:
    """Statements per request: HTTP at limit 10/50/100 and the service call at 50 (a
    conversation: the range over the tickets opened)."""
    if row["kind"] == "conversation":
        out = []
        for key, name in (("http", "http "), ("svc", "svc ")):
            q = row[key].queries
            if q:
                out.append(name + (f"{min(q)}" if min(q) == max(q) else f"{min(q)}-{max(q)}"))
        return " ".join(out)
    svc = {q[0] for q in row["per_limit"].values()}
    web = {q[1] for q in row["per_limit"].values()}
    if None in web:
        text_ = "svc " + "/".join(str(q[0]) for q in row["per_limit"].values())
    else:
        text_ = "/".join(str(q[1]) for q in row["per_limit"].values())
        text_ += f" svc {row['per_limit'][50][0]}"
    if row["rows"] == 0:
        return text_ + " (0 rows)"
    return text_ + ("" if len(svc) == 1 and len(web) == 1 else " N+1!")


def _p95(row) -> float:
    return (row["http"] if row["http"].ok else row["svc"]).p95()


def verdict(row) -> tuple[str, float]:
    probe = row["http"] if row["http"].ok else row["svc"]
    ratio = probe.p95() / row["raw"].p95()
    good = probe.p95() < TARGET_MS and ratio <= TARGET_RATIO[row["kind"]]
    return ("OK" if good else "NOT MET"), ratio


def report(bench: Bench) -> None:
    print()
    print("latency in ms (median / p95) over the requests; SQL = statements per request "
          "(list: HTTP at limit 10/50/100, then the service call)")
    print("raw = the page SELECT alone on a DBAPI cursor; sql = every statement of the "
          "service call, replayed the same way; ratios = p95 / raw p95")
    head = (f"{'what':<22}{'user':<7}{'rows':>5} {'SQL':<17}{'raw':>13}{'sql':>13}"
            f"{'service':>14}{'http':>14}{'svc/raw':>9}{'http/raw':>9}  target")
    print(head)
    print("-" * len(head))
    for row in bench.rows:
        raw, sql, svc, web = row["raw"], row["sql"], row["svc"], row["http"]

        def pair(p):
            return f"{ms(p.median())}/{ms(p.p95())}" if p.ok else "n/a"

        status, _ = verdict(row)
        rows = "" if row["rows"] is None else str(row["rows"])
        # two decimals: a row just over its target (2.04x) must not read as "2.0x NOT MET"
        http_ratio = f"{web.p95() / raw.p95():.2f}x" if web.ok else "n/a"
        print(f"{row['label'][:22]:<22}{row['who']:<7}{rows:>5} {queries_text(row):<17}"
              f"{pair(raw):>13}{pair(sql):>13}{pair(svc):>14}{pair(web):>14}"
              f"{svc.p95() / raw.p95():>8.1f}x{http_ratio:>9}  {status}")
    print()
    met = sum(verdict(row)[0] == "OK" for row in bench.rows)
    fast = sum(_p95(r) < TARGET_MS for r in bench.rows)
    close = sum(verdict(r)[1] <= TARGET_RATIO[r["kind"]] for r in bench.rows)
    print(f"{met} of {len(bench.rows)} rows meet the target (p95 < {TARGET_MS:.0f} ms: {fast}, "
          f"ratio <= {TARGET_RATIO['list']:.0f}x for a list, {TARGET_RATIO['conversation']:.0f}x "
          f"for a conversation: {close})")
    for row in bench.rows:
        status, ratio = verdict(row)
        probe = "endpoint" if row["http"].ok else "service"
        p95 = (row["http"] if row["http"].ok else row["svc"]).p95()
        print(f"{row['label']} ({row['who']}): {probe} p95 {ms(p95)} ms, {ratio:.2f}x raw -> "
              f"target: p95 < {TARGET_MS:.0f} ms and ratio <= "
              f"{TARGET_RATIO[row['kind']]:.0f}x: {status}")
    for row in bench.rows:
        if row["kind"] != "conversation":
            continue
        s = row["sizes"]
        probe = row["http"] if row["http"].ok else row["svc"]
        print(f"conversation ({row['who']}): the baseline is {row['baseline_statements']} "
              f"SELECTs returning what the endpoint returns; against the ticket's and its "
              f"messages' SELECTs alone (the baseline before issue 17), "
              f"{probe.p95() / row['narrow'].p95():.1f}x (narrow p95 "
              f"{ms(row['narrow'].p95())} ms)")
        if s:
            print(f"conversation ({row['who']}): {statistics.mean(s):.1f} messages returned on "
                  f"average, {sum(1 for x in s if x >= inbox.PAGE)} of {len(s)} full pages")
        by_limit = row["per_limit"].values()
        web = "/".join(str(q[1]) for q in by_limit)
        svc = "/".join(str(q[0]) for q in by_limit)
        same = all(len({q[k] for q in by_limit}) == 1 for k in (0, 1))
        print(f"conversation ({row['who']}), the longest one ({row['longest']} messages) at "
              f"limit 10/50/100: {f'http {web}, ' if row['http'].ok else ''}service {svc} "
              f"statements: "
              f"{'constant' if same else 'GROWS WITH THE PAGE (N+1)'}")


def show_statements(bench: Bench) -> None:
    """What one request sends, for the first list row and the first conversation."""
    seen = set()
    for row in bench.rows:
        if row["kind"] in seen:
            continue
        seen.add(row["kind"])
        log, where = (row["http_log"], "HTTP request") if row["http_log"] else \
            (row["service_log"], "service call")
        print(f"\nstatements of one {where}: {row['label']} ({row['who']})")
        for i, (statement, _params) in enumerate(log, 1):
            flat = " ".join(statement.split())
            head, _, tail = flat.partition(" FROM ")
            shown = (head[:40] + " ... FROM " + tail) if tail else flat
            print(f"  {i:>2}. {shown[:150]}{' ...' if len(shown) > 150 else ''}")


def explain(dbapi, pg: bool, statement, params) -> str:
    cur = dbapi.cursor()
    if pg:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
        lines = [r[0] for r in cur.fetchall()]
    else:
        cur.execute("EXPLAIN QUERY PLAN " + statement, params)
        lines = [str(r[-1]) for r in cur.fetchall()]
    cur.close()
    return "\n".join(lines)


def machine(engine) -> None:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} cpus, {platform.platform()}, Python "
          f"{platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, load average {load}")
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            print("database:", conn.exec_driver_sql("SELECT version()").scalar())
            settings = conn.exec_driver_sql(
                "SELECT name, setting, unit FROM pg_settings WHERE name IN ('shared_buffers', "
                "'work_mem', 'effective_cache_size', 'random_page_cost', 'jit', "
                "'max_parallel_workers_per_gather') ORDER BY name").all()
            print("settings:", ", ".join(f"{n}={s}{u or ''}" for n, s, u in settings))
        else:
            print("database: SQLite", conn.exec_driver_sql("select sqlite_version()").scalar())


def sizes(engine) -> None:
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT relname, n_live_tup, pg_size_pretty(pg_total_relation_size(relid)) "
            "FROM pg_stat_user_tables WHERE relname IN ('contact', 'ticket', 'ticket_tag', "
            "'message', 'message_tag', 'ticket_event') "
            "ORDER BY pg_total_relation_size(relid) DESC").all()
    print("tables:", ", ".join(f"{r[0]} {r[1]:,} rows {r[2]}" for r in rows))


# --- HTTP ----------------------------------------------------------------------------------


def logged_in_client(app, email: str):
    client = app.test_client()
    with client.session_transaction() as sess:
        raw = sess.setdefault("csrf_token", os.urandom(20).hex())
    token = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="wtf-csrf-token").dumps(raw)
    resp = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    if resp.status_code != 302:
        raise SystemExit(f"login as {email} failed: HTTP {resp.status_code}")
    return client


def endpoint_available(client) -> tuple[bool, str]:
    resp = client.get(LIST_URL)
    code = resp.status_code
    resp.close()
    if code == 404:
        return False, f"endpoint not available (404 on {LIST_URL}): HTTP columns are n/a"
    if code != 200:
        return False, f"endpoint not usable (HTTP {code} on {LIST_URL}): HTTP columns are n/a"
    return True, f"endpoint {LIST_URL} answers: measured through app.test_client()"


# --- main ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=200, help="requests per measurement")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--reuse", action="store_true",
                        help="keep the data of a previous run with the same sizes (only "
                             "missing indexes are created, then ANALYZE)")
    parser.add_argument("--only", default="", help="measure only the filters whose label "
                        "contains this text (development)")
    parser.add_argument("--explain", choices=("slowest", "all"), default="slowest")
    parser.add_argument("--no-http", action="store_true",
                        help="measure the service calls only, not the endpoints")
    args = parser.parse_args()

    url = args.database_url.replace("postgresql://", "postgresql+psycopg://")
    os.environ.setdefault("ATENDE_INSTANCE", tempfile.mkdtemp(prefix="bench-inbox-"))
    ensure_database(url, keep=args.reuse)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TASK_MODE": "eager", "REDIS_URL": None,
                      "SECRET_KEY": "bench-inbox", "SERVER_NAME": None,
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    with app.app_context():
        engine = db.engine
        pg = engine.dialect.name == "postgresql"
        machine(engine)
        print(f"data set: {args.tickets:,} tickets / {args.messages:,} messages "
              f"(+ a second company with {max(1, args.tickets // 5):,} tickets); "
              f"{args.repeat} requests per measurement")
        if not (args.reuse and reuse(app, args)):
            build(app, args)
        sizes(engine)
        world = discover()
        db.session.remove()
    gc.collect()      # the generator's garbage is not the requests' business
    gc.freeze()
    print(f"company {world.company_id}: {world.tickets:,} tickets ({world.open_tickets:,} not "
          f"closed), {world.messages:,} messages")

    counter = StatementCounter(engine)
    clients = {"super": logged_in_client(app, SUPERVISOR_EMAIL),
               "agent": logged_in_client(app, AGENT_EMAIL)}
    http, note = endpoint_available(clients["super"])
    if args.no_http:
        http, note = False, "--no-http: the endpoints are not measured"
    print(note)
    # the bare cursor's connection, in autocommit mode like the endpoints' (run_raw)
    raw_connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    dbapi = raw_connection.connection
    bench = Bench(app, counter, dbapi, clients, http)
    users = {"super": world.supervisor_id, "agent": world.agent_id}
    t0 = time.perf_counter()
    for label, f_args in list_filters(world):
        if args.only and args.only not in label:
            continue
        for who, uid in users.items():
            a = dict(f_args)
            if a.get("cursor"):
                a["cursor"] = page_cursor(bench, uid, a)
                if not a["cursor"]:
                    print(f"{label} ({who}): no such page")
                    continue
            bench.measure_list(label, who, uid, a, args.repeat)
    if not args.only or "conversation" in args.only:
        rng = random.Random(args.seed + 1)
        for who, uid in users.items():
            bench.measure_conversation(who, uid, args.repeat, rng)
    print(f"measured in {time.perf_counter() - t0:.0f} s; load average now "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    report(bench)
    show_statements(bench)

    def primary(row):
        return (row["http"] if row["http"].ok else row["svc"]).p95()

    if args.explain == "all" or not bench.rows:
        chosen = bench.rows
    else:
        chosen = [max(bench.rows, key=primary)]
    for row in chosen:
        statement, params = row["explain"]
        print(f"\nEXPLAIN {'(ANALYZE, BUFFERS) ' if pg else 'QUERY PLAN '}of the "
              f"{'main query' if row['kind'] == 'list' else 'messages query'} of "
              f"'{row['label']}' ({row['who']}), p95 {ms(primary(row))} ms:")
        print(statement if len(statement) < 3000 else statement[:3000] + " ...")
        print(f"params: {params}")
        print(explain(dbapi, pg, statement, params))
    raw_connection.close()


if __name__ == "__main__":
    main()
