"""Modelos do WhatsApp (CHN-4, TPL-3): the message templates of the company's WhatsApp
accounts as last synced ("Sincronizar modelos" on the connection). Read-only: templates
are created and approved in Meta's WhatsApp Manager, not here."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..extensions import db
from ..models import Connection
from ..models.channels import KIND_WHATSAPP, ProviderTemplate
from .base import ReadOnlyMixin, TenantModelView
from .filters import PerRequestFilterOptions, TenantOptionsFilter

STATUSES = {
    "APPROVED": _l("Aprovado"),
    "PENDING": _l("Em análise"),
    "REJECTED": _l("Rejeitado"),
    "PAUSED": _l("Pausado"),
    "DISABLED": _l("Desativado"),
    "IN_APPEAL": _l("Em recurso"),
    "PENDING_DELETION": _l("Exclusão pendente"),
    "DELETED": _l("Excluído"),
    "LIMIT_EXCEEDED": _l("Limite excedido"),
    "ARCHIVED": _l("Arquivado"),
}
CATEGORIES = {
    "MARKETING": _l("Marketing"),
    "UTILITY": _l("Utilidade"),
    "AUTHENTICATION": _l("Autenticação"),
}


def status_label(status: str | None) -> str:
    return str(STATUSES.get((status or "").upper(), status or ""))


class TemplateConnectionFilter(TenantOptionsFilter):
    """The company's WhatsApp connections (read per request: never another company's)."""

    def __init__(self, name):
        super().__init__(ProviderTemplate.connection_id, name)

    def tenant_options(self, company_id):
        rows = db.session.execute(select(Connection.id, Connection.name).where(
            Connection.company_id == company_id, Connection.kind == KIND_WHATSAPP)
            .order_by(Connection.name))
        return [(str(pk), name) for pk, name in rows]

    def apply(self, query, value, alias=None):
        return query.filter(ProviderTemplate.connection_id == value)


class TemplateStatusFilter(TenantOptionsFilter):
    """Meta's statuses, in Portuguese (a fixed list: nothing of the company in it)."""

    def __init__(self, name):
        super().__init__(ProviderTemplate.status, name)

    def tenant_options(self, company_id):
        return [(key, str(label)) for key, label in STATUSES.items()]

    def validate(self, value) -> bool:
        return value in STATUSES

    def clean(self, value):
        return value

    def apply(self, query, value, alias=None):
        return query.filter(ProviderTemplate.status == value)


def _connection(view, context, model, name):
    # one query per row at most: the identity map keeps each connection once loaded
    found = db.session.get(Connection, model.connection_id)
    return found.name if found is not None else ""


class ProviderTemplateView(ReadOnlyMixin, PerRequestFilterOptions, TenantModelView):
    area = "connections"  # whoever sees Conexões sees what their WhatsApp accounts hold
    audited = False
    can_view_details = True
    column_list = ["connection_id", "name", "language", "category", "status", "body",
                   "synced_at"]
    column_details_list = ["connection_id", "name", "language", "category", "status", "body",
                           "variables", "synced_at"]
    column_export_list = column_list
    column_searchable_list = ["name", "body"]
    column_sortable_list = ["name", "language", "category", "status", "synced_at"]
    column_default_sort = "name"
    column_filters = [TemplateConnectionFilter(_l("Conexão")),
                      TemplateStatusFilter(_l("Situação"))]
    column_labels = {
        "connection_id": _l("Conexão"), "name": _l("Nome"), "language": _l("Idioma"),
        "category": _l("Categoria"), "status": _l("Situação"), "body": _l("Texto"),
        "variables": _l("Variáveis"), "synced_at": _l("Sincronizado em"),
    }
    column_formatters = {
        "connection_id": _connection,
        "status": lambda v, c, m, p: status_label(m.status),
        "category": lambda v, c, m, p: str(CATEGORIES.get((m.category or "").upper(),
                                                          m.category or "")),
    }
    column_formatters_export = column_formatters
    column_formatters_detail = column_formatters
