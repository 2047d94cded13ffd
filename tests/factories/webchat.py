"""Webchat test data (CHN-5): two companies with webchat connections, departments in
every state, and agents in them; built through the same rules the app uses."""
from __future__ import annotations

import io
from dataclasses import dataclass, field

from backoffice.extensions import db
from backoffice.models import Company
from backoffice.models.channels import KIND_HTTP_API

from .channels import gen_connection
from .companies import gen_company, gen_department, gen_group, gen_plan, gen_user

# Not the inbox's PNG (tests.factories.PNG): a PNG signature and zero padding. The package
# re-exports it as WEBCHAT_PNG.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

__all__ = ["PNG", "WebchatWorld", "gen_webchat_world", "set_show_agent_name", "png_file"]


@dataclass
class WebchatWorld:
    company_id: int
    key: str                      # the active webchat connection's public key
    connection_id: int
    other_key: str                # a second webchat connection of the same company
    inactive_key: str
    api_key: str                  # an http_api connection's key: no widget
    departments: dict[str, int] = field(default_factory=dict)
    agents: dict[str, str] = field(default_factory=dict)   # role -> e-mail
    b_key: str = ""               # company B's webchat
    b_department_id: int = 0
    b_company_id: int = 0


def gen_webchat_world() -> WebchatWorld:
    """Company A: Vendas (order 1) and Suporte (order 2) receive tickets, Arquivo is
    inactive, Interno does not receive tickets; an agent in Suporte, one in Vendas.
    Company B: its own webchat, department and agent."""
    company, _admin = gen_company("Loja Alfa", "admin-wa@example.com", gen_plan("Plano WA"))
    agents = gen_group(company, "Atendentes", ["inbox.view"])
    support_agent = gen_user(company, "suporte@example.com", agents, name="Ana Suporte")
    sales_agent = gen_user(company, "vendas@example.com", agents, name="Bruno Vendas")
    db.session.flush()
    support = gen_department(company, "Suporte", order=2, members=[(support_agent, True, False)])
    sales = gen_department(company, "Vendas", order=1, members=[(sales_agent, True, False)])
    archived = gen_department(company, "Arquivo", order=3, active=False)
    internal = gen_department(company, "Interno", order=0, receives_tickets=False)
    chat = gen_connection(company, "Site", widget_title="Fale com a Loja Alfa",
                          widget_greeting="Olá! Como podemos ajudar?", widget_color="#aa3366")
    other = gen_connection(company, "Site 2")
    inactive = gen_connection(company, "Site antigo", active=False)
    api = gen_connection(company, "API", kind=KIND_HTTP_API,
                         endpoint_url="https://example.com/hook")

    company_b, _ = gen_company("Beta Ltda", "admin-wb@example.com", gen_plan("Plano WB"))
    agents_b = gen_group(company_b, "Atendentes B", ["inbox.view"])
    agent_b = gen_user(company_b, "agente-b@example.com", agents_b, name="Carla Beta")
    db.session.flush()
    department_b = gen_department(company_b, "Suporte B", order=1, members=[(agent_b, True, False)])
    chat_b = gen_connection(company_b, "Site B")
    db.session.commit()
    return WebchatWorld(
        company_id=company.id, key=chat.public_key, connection_id=chat.id,
        other_key=other.public_key, inactive_key=inactive.public_key, api_key=api.public_key,
        departments={"support": support.id, "sales": sales.id, "archived": archived.id,
                     "internal": internal.id},
        agents={"support": support_agent.email, "sales": sales_agent.email,
                "other_company": agent_b.email, "admin_b": "admin-wb@example.com"},
        b_key=chat_b.public_key, b_department_id=department_b.id, b_company_id=company_b.id,
    )


def set_show_agent_name(company_id: int, value: bool) -> None:
    db.session.get(Company, company_id).show_agent_name = value
    db.session.commit()


def png_file(name: str = "foto.png", size: int = 0):
    return (io.BytesIO(PNG + b"\x00" * size), name)
