"""The data of the cluster tests, written by a process of its own with the cluster's
environment (`python -m tests.cluster.world <provider url>`), the way an operator's
script would; prints the ids as JSON.

Run apart so the test process never binds the global Socket.IO server or task runner to
the cluster's Redis (every other test of the pass uses them).
"""
from __future__ import annotations

import json
import sys

from backoffice import create_app
from backoffice.extensions import db
from backoffice.lib import after_commit
from backoffice.models import Connection, Department, DepartmentMember
from backoffice.services import tickets
from tests.factories import gen_company, gen_group, gen_plan, gen_user
from tests.factories.companies import PASSWORD


def build(provider_url: str) -> dict:
    company, _admin = gen_company("Empresa Cluster", "admin-cluster@example.com",
                                  gen_plan("Plano Cluster"))
    group = gen_group(company, "Supervisores", ["inbox.view", "inbox.supervise"])
    agent = gen_user(company, "agente-cluster@example.com", group, name="Agente Cluster")
    department = Department(company_id=company.id, name="Suporte", order=1)
    api = Connection(company_id=company.id, name="Sistema do cliente", kind="http_api",
                     endpoint_url=provider_url)
    chat = Connection(company_id=company.id, name="Chat do site", kind="webchat")
    db.session.add_all([department, api, chat])
    db.session.flush()
    db.session.add(DepartmentMember(company_id=company.id, department_id=department.id,
                                    user_id=agent.id))
    contact = tickets.contact_for(api, "cliente-1", "Maria Cliente")
    ticket = tickets.open_ticket(contact, api, department)
    tickets.receive(ticket, "Oi, preciso de ajuda")
    tickets.accept(ticket, agent)
    after_commit.commit()
    return {"agent": agent.email, "password": PASSWORD, "department_id": department.id,
            "api_ticket_id": ticket.id, "webchat_key": chat.public_key}


if __name__ == "__main__":
    app = create_app()
    with app.app_context():
        print(json.dumps(build(sys.argv[1])))
