"""Readable helpers that build test data through the same services the app uses, one
module per area, all re-exported here: `from tests.factories import gen_ticket`.

- companies: PASSWORD, plans, companies, groups, users, departments
- catalog: tags, reasons, farewell messages
- hours: periods, holidays, pauses
- integrations: webhooks, HTTP integrations, telephony
- channels: connections, the one-agent setup
- inbox: contacts, tickets, messages, small files
- webchat: the two-company webchat world
- automation: automation rules, published chatbot flows
- api: API tokens and a client that sends one; api_world: a row per API path id
- panel: TV panel links
- portal: the Fale Conosco portal world (POR-1), representatives, a portal session;
  portal_admin: its configuration rows; articles: help articles (ART-1)
- tenants: populate_company, a row in every tenant screen
"""
from __future__ import annotations

from backoffice.models.tickets import PENDING

from .api import ALL_API_RIGHTS, ApiClient, gen_api_token
from .api_world import gen_api_rows
from .automation import MENU_FLOW, flow_node, gen_published_flow, gen_rule
from .catalog import gen_farewell, gen_reason, gen_tag
from .channels import AgentSetup, gen_agent_setup, gen_connection
from .companies import PASSWORD, gen_company, gen_department, gen_group, gen_plan, gen_user
from .hours import gen_holiday, gen_pause, gen_period
from .inbox import (
    PDF, PNG, file_storage, gen_contact, gen_inbound, gen_incoming, gen_ticket, gen_tickets,
    incoming_messages, row_count, sent_texts, stored_message, upload,
)
from .integrations import gen_integration, gen_telephony, gen_webhook
from .panel import gen_panel_key
from .portal import PortalWorld, gen_portal_account, gen_portal_world, portal_login
from .portal_admin import (gen_classification, gen_contact_method, gen_organization,
                           gen_portal_admin_rows, gen_portal_settings, gen_representative)
from .articles import gen_article, gen_article_admin_rows, gen_article_category
from .tenants import Tenant, populate_company
from .webchat import PNG as WEBCHAT_PNG
from .webchat import WebchatWorld, gen_webchat_world, png_file, set_show_agent_name

__all__ = [
    "ALL_API_RIGHTS", "ApiClient", "gen_api_rows", "gen_api_token",
    "incoming_messages", "row_count", "sent_texts", "stored_message",
    "PASSWORD", "PENDING", "PDF", "PNG", "WEBCHAT_PNG",
    "AgentSetup", "Tenant", "WebchatWorld",
    "gen_agent_setup", "gen_company", "gen_connection", "gen_contact", "gen_department",
    "gen_farewell", "gen_group", "gen_holiday", "gen_inbound", "gen_incoming", "gen_integration",
    "gen_panel_key", "gen_pause", "gen_portal_account", "gen_portal_world", "portal_login",
    "gen_classification", "gen_contact_method", "gen_organization", "gen_portal_admin_rows",
    "gen_portal_settings", "gen_representative",
    "gen_article", "gen_article_admin_rows", "gen_article_category",
    "PortalWorld",
    "MENU_FLOW", "flow_node",
    "gen_period", "gen_plan", "gen_published_flow", "gen_reason", "gen_rule", "gen_tag",
    "gen_telephony", "gen_ticket", "gen_tickets", "gen_user", "gen_webchat_world",
    "gen_webhook", "file_storage", "png_file", "populate_company", "set_show_agent_name",
    "upload",
]
