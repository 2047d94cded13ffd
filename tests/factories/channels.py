"""Connections (CHN-1) and a ready-made agent setup: a company with a department, an
agent in it and one accepted ticket on a connection."""
from __future__ import annotations

import itertools
from dataclasses import dataclass

from backoffice.extensions import db
from backoffice.models import Connection, Department, DepartmentMember, Ticket, User
from backoffice.services import tickets
from backoffice.lib import after_commit

from .companies import gen_company, gen_group, gen_plan, gen_user

_seq = itertools.count(1)


def gen_connection(company, name: str | None = None, kind: str = "webchat", active: bool = True,
                   **fields) -> Connection:
    """A connection of `company` (a Company or its id), flushed so it has its id and public
    key. Without a name, a numbered one; an http_api one gets an endpoint unless given."""
    if kind == "http_api":
        fields.setdefault("endpoint_url", "https://api.example.com/atende")
    connection = Connection(company_id=getattr(company, "id", company),
                            name=name or f"Conexão {next(_seq)}", kind=kind, active=active,
                            **fields)
    db.session.add(connection)
    db.session.flush()
    return connection


@dataclass
class AgentSetup:
    company_id: int
    agent: User
    department: Department
    connection: Connection
    ticket: Ticket


def gen_agent_setup(kind: str = "http_api", endpoint_url: str | None = None,
                    endpoint_secret: str | None = None, key: str = "s") -> AgentSetup:
    """Company `key` with Suporte, its agent, a connection of `kind` and a ticket the agent
    accepted; committed."""
    company, _admin = gen_company(f"Empresa {key}", f"admin-{key}@example.com",
                                  gen_plan(f"Plano {key}"))
    group = gen_group(company, "Atendentes", ["inbox.view"])
    agent = gen_user(company, f"agente-{key}@example.com", group, name=f"Agente {key}")
    department = Department(company_id=company.id, name="Suporte", order=1)
    connection = Connection(company_id=company.id, name="Canal", kind=kind,
                            endpoint_url=endpoint_url, endpoint_secret=endpoint_secret)
    db.session.add_all([department, connection])
    db.session.flush()
    db.session.add(DepartmentMember(company_id=company.id, department_id=department.id,
                                    user_id=agent.id))
    contact = tickets.contact_for(connection, "cliente-1", f"Maria Cliente {key.upper()}")
    ticket = tickets.open_ticket(contact, connection, department)
    tickets.receive(ticket, "Oi, preciso de ajuda")
    tickets.accept(ticket, agent)
    after_commit.commit()
    return AgentSetup(company.id, agent, department, connection, ticket)
