"""Builds the admin panel inside create_app (never at import time: one Admin per app)."""
from __future__ import annotations

from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_babel import lazy_gettext as _l

from ..i18n import TRANSLATIONS
from ..models import (
    AuditLog, Company, CompanySettings, Connection, Contact, ContactField, Department,
    FarewellMessage, Flow, Holiday,
    MessageTemplate, Pause, Period, PermissionGroup, Plan, ProviderTemplate, Reason, Tag,
    TelephonySettings, User, Webhook,
)
from ..models.api import ApiToken
from ..models.reports import PanelKey
from ..models.api import Integration
from ..models.automation import AutomationRule, ScheduledMessage
from ..models.webhooks import WebhookDelivery
from ..models.portal import (ContactMethod, CustomerOrganization, PortalAccount, PortalSettings,
                             ServiceClassification)
from .api_tokens import ApiTokenView
from .audit import AuditLogView
from .automations import AutomationRuleView
from .base import HomeView
from .catalog import ReasonView, TagView
from .company import CompanyView
from .connections import ConnectionView
from .contacts import ContactFieldView, ContactView
from .data import DataView
from .departments import DepartmentView
from .farewells import FarewellMessageView
from .flows import FlowView
from .mail import MailOutboxView
from .pages import AboutView, AccountView
from .panel import PanelKeyView
from .pauses import PauseView
from .portal import ClassificationView, ContactMethodView, PortalSettingsView
from .portal_accounts import OrganizationView, RepresentativeView
from .provider_templates import ProviderTemplateView
from .reports import ReportsView
from .saas import PlanView, SaasCompanyView
from .schedule import HolidayView, PeriodView
from .articles import ArticleCategoryView, ArticleView
from ..models.articles import Article, ArticleCategory
from .scheduled import ScheduledMessageView
from .telephony import TelephonyView
from .templates import MessageTemplateView, SettingsView
from .updates import UpdatesView
from .users import PermissionGroupView, UserView
from .integrations import IntegrationView
from .webhook_deliveries import WebhookDeliveryView
from .webhooks import WebhookView

CAT_ADMIN = _l("Administração")
CAT_SAAS = _l("SaaS")
CAT_CONFIG = _l("Configurações")
CAT_PORTAL = _l("Fale Conosco")


def init_admin(app) -> Admin:
    admin = Admin(
        app,
        name="Atende",
        url="/admin",
        index_view=HomeView(name=_l("Início"), url="/admin"),
        theme=Bootstrap4Theme(base_template="admin/atende_base.html"),
        # our admin-domain catalogue fills what Flask-Admin's pt_BR .mo lacks
        translations_path=str(TRANSLATIONS),
    )
    from ..inbox.menu import InboxMenuLink

    admin.add_menu_item(InboxMenuLink(name=_l("Atendimento"), url="/inbox/"))  # first after Início
    admin.add_view(ContactView(Contact, name=_l("Contatos"), endpoint="contacts"))
    # AUT-5: a module of its own in the manual (seeds/000), next to Contatos
    admin.add_view(ScheduledMessageView(ScheduledMessage, name=_l("Agendamentos"),
                                        endpoint="scheduled"))
    # REP-1: the reports, a module of their own (plan module "reports")
    admin.add_view(ReportsView(name=_l("Relatórios"), endpoint="reports"))
    # "Configurações" in the order of the NexChat manual (seeds/002), so an admin who knows
    # it finds everything where expected; Usuários and Auditoria under "Administração".
    admin.add_view(CompanyView(Company, name=_l("Empresa"), endpoint="company",
                               category=CAT_CONFIG))
    admin.add_view(DepartmentView(Department, name=_l("Departamentos"), endpoint="departments",
                                  category=CAT_CONFIG))
    admin.add_view(ConnectionView(Connection, name=_l("Conexões"), endpoint="connections",
                                  category=CAT_CONFIG))
    admin.add_view(ProviderTemplateView(ProviderTemplate, name=_l("Modelos do WhatsApp"),
                                        endpoint="whatsapp_templates", category=CAT_CONFIG))
    admin.add_view(TagView(Tag, name=_l("Etiquetas"), endpoint="tags", category=CAT_CONFIG))
    admin.add_view(ReasonView(Reason, name=_l("Motivos de atendimento"), endpoint="reasons",
                              category=CAT_CONFIG))
    admin.add_view(MessageTemplateView(MessageTemplate, name=_l("Templates de mensagens"),
                                       endpoint="templates", category=CAT_CONFIG))
    admin.add_view(FarewellMessageView(FarewellMessage, name=_l("Mensagens de despedida"),
                                       endpoint="farewells", category=CAT_CONFIG))
    admin.add_view(PauseView(Pause, name=_l("Controle de pausa"), endpoint="pauses",
                             category=CAT_CONFIG))
    admin.add_view(WebhookView(Webhook, name=_l("Webhooks"), endpoint="webhooks",
                               category=CAT_CONFIG))
    admin.add_view(WebhookDeliveryView(WebhookDelivery, name=_l("Entregas de webhooks"),
                                       endpoint="webhook_deliveries", category=CAT_CONFIG))
    admin.add_view(IntegrationView(Integration, name=_l("Integrações"), endpoint="integrations",
                                   category=CAT_CONFIG))
    admin.add_view(ApiTokenView(ApiToken, name=_l("Tokens de API"), endpoint="api_tokens",
                                category=CAT_CONFIG))
    # PNL-1: links, like the API tokens (made once, revoked), so an admin looks for them here
    admin.add_view(PanelKeyView(PanelKey, name=_l("Painel TV"), endpoint="panel_keys",
                                category=CAT_CONFIG))
    admin.add_view(TelephonyView(TelephonySettings, name=_l("Central de Telefonia"),
                                 endpoint="telephony", category=CAT_CONFIG))
    admin.add_view(PermissionGroupView(PermissionGroup, name=_l("Permissões"), endpoint="groups",
                                       category=CAT_CONFIG))
    admin.add_view(SettingsView(CompanySettings, name=_l("Parâmetros"), endpoint="parameters",
                                category=CAT_CONFIG))
    admin.add_view(PeriodView(Period, name=_l("Períodos de atendimento"), endpoint="periods",
                              category=CAT_CONFIG))
    admin.add_view(HolidayView(Holiday, name=_l("Feriados"), endpoint="holidays",
                               category=CAT_CONFIG))
    # ART-1: help articles (Fale Conosco)
    admin.add_view(ArticleCategoryView(ArticleCategory, name=_l("Categorias de artigos"),
                                       endpoint="article_categories", category=CAT_PORTAL))
    admin.add_view(ArticleView(Article, name=_l("Artigos de ajuda"), endpoint="articles",
                               category=CAT_PORTAL))
    admin.add_view(ContactFieldView(ContactField, name=_l("Campos de contato"),
                                    endpoint="contact_fields", category=CAT_CONFIG))
    admin.add_view(FlowView(Flow, name=_l("Fluxos de chatbot"), endpoint="flows",
                            category=CAT_CONFIG))
    admin.add_view(AutomationRuleView(AutomationRule, name=_l("Automações"),
                                      endpoint="automations", category=CAT_CONFIG))
    admin.add_view(DataView(name=_l("Importar/exportar registros"), endpoint="data",
                            category=CAT_CONFIG))
    # POR-1: the Fale Conosco portal's configuration and its customers' accounts
    admin.add_view(PortalSettingsView(PortalSettings, name=_l("Portal Fale Conosco"),
                                      endpoint="portal_settings", category=CAT_PORTAL))
    admin.add_view(ClassificationView(ServiceClassification,
                                      name=_l("Classificações de atendimento"),
                                      endpoint="classifications", category=CAT_PORTAL))
    admin.add_view(ContactMethodView(ContactMethod, name=_l("Formas de contato"),
                                     endpoint="contact_methods", category=CAT_PORTAL))
    admin.add_view(OrganizationView(CustomerOrganization, name=_l("Clientes do portal"),
                                    endpoint="organizations", category=CAT_PORTAL))
    admin.add_view(RepresentativeView(PortalAccount, name=_l("Representantes"),
                                      endpoint="representatives", category=CAT_PORTAL))
    admin.add_view(UserView(User, name=_l("Usuários"), endpoint="users", category=CAT_ADMIN))
    admin.add_view(AuditLogView(AuditLog, name=_l("Auditoria"), endpoint="audit",
                                category=CAT_ADMIN))
    admin.add_view(SaasCompanyView(Company, name=_l("Empresas"), endpoint="saas_companies",
                                   category=CAT_SAAS))
    admin.add_view(PlanView(Plan, name=_l("Planos"), endpoint="plans", category=CAT_SAAS))
    admin.add_view(MailOutboxView(name=_l("E-mails enviados"), endpoint="mail", category=CAT_SAAS))
    admin.add_view(AccountView(name=_l("Minha conta"), endpoint="account"))
    admin.add_view(AboutView(name=_l("Sobre"), endpoint="about"))
    admin.add_view(UpdatesView(name=_l("Atualizações"), endpoint="updates"))
    return admin
