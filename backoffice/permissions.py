"""The catalogue of rights a permission group can hold (PLT-3).

System rights are "<area>.<action>"; API rights are "api:<action>". Every admin screen
declares its area; the tests check that every registered screen's area is listed here, so
a new screen cannot ship without a right that guards it.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

ACTIONS: dict[str, str] = {
    "view": _l("Ver"),
    "create": _l("Criar"),
    "edit": _l("Editar"),
    "delete": _l("Excluir"),
    # inbox: every department's tickets; contacts: every wallet (managers)
    "supervise": _l("Supervisionar"),
}

# area -> label. Later issues add their areas here (departments, tags, ...).
AREAS: dict[str, str] = {
    "company": _l("Empresa"),
    "users": _l("Usuários"),
    "groups": _l("Permissões"),
    "audit": _l("Auditoria"),
    "periods": _l("Períodos de atendimento"),
    "holidays": _l("Feriados"),
    "pauses": _l("Controle de pausa"),
    "tags": _l("Etiquetas"),
    "departments": _l("Departamentos"),
    "reasons": _l("Motivos de atendimento"),
    "templates": _l("Templates de mensagens"),
    "parameters": _l("Parâmetros"),
    "webhooks": _l("Webhooks"),
    "telephony": _l("Central de Telefonia"),
    "inbox": _l("Atendimento"),
    "connections": _l("Conexões"),
    "farewells": _l("Mensagens de despedida"),
    "contacts": _l("Contatos"),
    "contact_fields": _l("Campos de contato"),
    "imports": _l("Importar/exportar registros"),
    "scheduled": _l("Agendamentos"),
    "flows": _l("Fluxos de chatbot"),
    "automations": _l("Automações"),
    "api_tokens": _l("Tokens de API"),
    "integrations": _l("Integrações"),
    "reports": _l("Relatórios"),
    "panel": _l("Painel TV"),
    # POR-1 / ART-1: the Fale Conosco portal and the help center
    "classifications": _l("Classificações de atendimento"),
    "contact_methods": _l("Formas de contato"),
    "portal": _l("Portal Fale Conosco"),
    "organizations": _l("Clientes do portal"),
    "articles": _l("Artigos de ajuda"),
}

# Areas where some actions make no sense (the company row is never created or deleted
# by a tenant; the audit log is read-only).
AREA_ACTIONS: dict[str, tuple[str, ...]] = {
    "company": ("view", "edit"),
    "audit": ("view",),
    "parameters": ("view", "edit"),
    "telephony": ("view", "edit"),
    "inbox": ("view", "supervise"),
    # supervise = see every carteira (WAL-1), not only one's own and the unowned
    "contacts": ("view", "create", "edit", "delete", "supervise"),
    # view = the screen, past jobs and exports; create = run an import
    "imports": ("view", "create"),
    # the reports are read only; the TV panel's links are created and revoked, never edited
    "reports": ("view",),
    "panel": ("view", "create", "delete"),
    # one settings row per company, as the parameters
    "portal": ("view", "edit"),
}

# What a token may call (API-1). Every /api/v1 route names exactly one of these; the
# generic tests check that a token without it gets 403.
API_ACTIONS: dict[str, str] = {
    "api:messages.send": _l("Enviar mensagens"),
    "api:messages.read": _l("Consultar mensagens"),
    "api:contacts.read": _l("Consultar contatos"),
    "api:contacts.write": _l("Criar e alterar contatos"),
    "api:tickets.read": _l("Consultar atendimentos"),
    "api:tickets.write": _l("Alterar atendimentos"),
    "api:catalog.read": _l("Consultar departamentos, usuários, etiquetas, motivos e conexões"),
    "api:webhooks.manage": _l("Gerenciar webhooks"),
    "api:scheduled.read": _l("Consultar agendamentos"),
    "api:scheduled.write": _l("Criar e cancelar agendamentos"),
}

# Who holds these manages access; a company must always keep one active user with them.
ADMIN_RIGHTS = frozenset({"users.view", "users.edit", "groups.view", "groups.edit"})

KIND_SYSTEM = "system"
KIND_API = "api"
GROUP_KINDS = {KIND_SYSTEM: _l("Sistema"), KIND_API: _l("API")}


# what an agent's group gets by default: work in the inbox, nothing else
AGENT_RIGHTS = ("inbox.view", "contacts.view", "contacts.create", "contacts.edit")


def actions_for(area: str) -> tuple[str, ...]:
    return AREA_ACTIONS.get(area, ("view", "create", "edit", "delete"))


def system_rights() -> list[str]:
    return [f"{area}.{action}" for area in AREAS for action in actions_for(area)]


def all_rights(kind: str) -> list[str]:
    return system_rights() if kind == KIND_SYSTEM else list(API_ACTIONS)


def right_label(right: str) -> str:
    if right in API_ACTIONS:
        return str(API_ACTIONS[right])
    area, _, action = right.partition(".")
    return f"{AREAS.get(area, area)}: {ACTIONS.get(action, action)}"
